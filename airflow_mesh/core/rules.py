"""The ownership rules of the mesh, as pure functions over what a DAG declares.

Each rule lives here once: the registry (``mesh.inputs``), the cluster policy (DAG import),
``airflow-mesh check`` (a team's CI), ``TableSensor`` and the producing operators call it, so
they can never disagree. Broken rules are :class:`~airflow_mesh.core.registry.models.MeshError`
with ``rule`` set. No Airflow import: the facts are extracted from DAG objects by
:mod:`airflow_mesh.governance.facts`.

Rules:
1. A DAG belongs to exactly one registered team (tables it produces, its team
   folder ``dags/<team>/`` and its ``team:<name>`` tag must agree when present).
2. A task writes only tables its DAG's team owns, and only as their declared producer.
3. A task reads another team's table only when that table is public.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from airflow_mesh.core.ownership import TEAM_TAG_PREFIX, declared_teams
from airflow_mesh.core.registry.access import read_error
from airflow_mesh.core.registry.models import MeshError, Table
from airflow_mesh.core.source_lines import SourceLines

if TYPE_CHECKING:
    from airflow_mesh.core.registry.mesh import Mesh


@dataclass(frozen=True)
class TaskFacts:
    task_id: str
    writes: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()


@dataclass(frozen=True)
class DagFacts:
    dag_id: str
    fileloc: str | None
    tags: tuple[str, ...] = ()
    tasks: tuple[TaskFacts, ...] = field(default_factory=tuple)
    lines: SourceLines = field(default_factory=SourceLines)  # where the file names its dag_id and task_ids


def producer_error(dag_id: str, task_id: str, table: Table, *, file: str, line: int) -> MeshError | None:
    """Rule 2 (second half) as a located error: only the producer the contract names writes the table.

    The one implementation behind the cluster policy, ``airflow-mesh check`` and the producing
    operators (``ProduceTableOperator``, ``SparkYarnOperator``).
    """
    if (table.producer_dag, table.producer_task) == (dag_id, task_id):
        return None
    return MeshError(file=file, line=line, rule="writes",
                     message=(f"task {dag_id}.{task_id} writes {table.name}, whose contract names {table.producer} "
                              f"as its only producer ({table.file}:{table.line_of('mesh.producer')})"),
                     fix="change mesh.producer in the DDL, or write a table your task produces")


def check_dag(mesh: Mesh, dag: DagFacts) -> tuple[str | None, list[MeshError]]:
    """The DAG's team (when it has exactly one) and every rule it breaks: first its ownership, then each
    task's writes and reads (judged against that team)."""
    file = dag.fileloc or "<unknown file>"
    team, violations = _dag_team(mesh, dag, file)
    for task in dag.tasks:
        line = dag.lines.of("task_id", task.task_id)
        violations += _write_violations(mesh, dag.dag_id, task, team, file, line)
        violations += _read_violations(mesh, dag.dag_id, task, team, file, line)
    return team, violations


def _dag_team(mesh: Mesh, dag: DagFacts, file: str) -> tuple[str | None, list[MeshError]]:
    """The one registered team the DAG's folder, tags and tables declare, or ``None`` with why.

    Unknown ``team:`` tags are reported on their own; "no registered team" only when no tag was unknown,
    so a typo in a tag is not reported twice.
    """
    dag_line = dag.lines.of("dag_id", dag.dag_id)
    violations: list[MeshError] = []
    found = declared_teams(mesh, dag.dag_id, dag.fileloc, dag.tags)
    unknown_tags = [t[len(TEAM_TAG_PREFIX):] for t in dag.tags
                    if t.startswith(TEAM_TAG_PREFIX) and t[len(TEAM_TAG_PREFIX):] not in mesh.teams]
    for name in unknown_tags:
        violations.append(_violation(
            file, dag_line, "team", f"DAG {dag.dag_id} is tagged team:{name}, which is not a registered team",
            f"use one of {', '.join(sorted(mesh.teams))}, or add teams/{name}.yaml"))
    teams = {t for source, t in found.items() if t in mesh.teams}
    team: str | None = None
    if len(teams) > 1:
        named = ", ".join(f"{source} say {t}" for source, t in sorted(found.items()))
        violations.append(_violation(
            file, dag_line, "team", f"DAG {dag.dag_id} belongs to more than one team ({named})",
            "a DAG has one owning team: move it to that team's folder, fix its team: tag, "
            "or split it so each DAG only produces its own team's tables"))
    elif teams:
        team = teams.pop()
    elif not unknown_tags:
        violations.append(_violation(
            file, dag_line, "team", f"DAG {dag.dag_id} belongs to no registered team",
            f"put the file under dags/<team>/ or tag the DAG 'team:<team>' (teams: {', '.join(sorted(mesh.teams))})"))
    return team, violations


def _write_violations(mesh: Mesh, dag_id: str, task: TaskFacts, team: str | None,
                      file: str, line: int) -> list[MeshError]:
    """Each table the task writes must be registered, owned by the DAG's team, and name the task as producer."""
    violations: list[MeshError] = []
    where = f"{dag_id}.{task.task_id}"
    for name in task.writes:
        t = mesh.tables.get(name)
        if t is None:
            violations.append(_violation(
                file, line, "writes", f"task {where} writes {name}, which is not in the registry",
                f"add its CREATE TABLE to ddl/{team or '<team>'}/ first"))
        elif team and t.team != team:
            violations.append(_violation(
                file, line, "writes",
                f"task {where} (team {team}) writes {name}, which team {t.team} owns ({t.file}:{t.line})",
                f"write a table of team {team}, or ask {mesh.teams[t.team].contact_line} to hand it over"))
        elif error := producer_error(dag_id, task.task_id, t, file=file, line=line):
            violations.append(error)
    return violations


def _read_violations(mesh: Mesh, dag_id: str, task: TaskFacts, team: str | None,
                     file: str, line: int) -> list[MeshError]:
    """Each table the task reads must be registered and readable by the DAG's team (:func:`read_error`)."""
    violations: list[MeshError] = []
    where = f"{dag_id}.{task.task_id}"
    for name in task.reads:
        t = mesh.tables.get(name)
        if t is None:
            violations.append(_violation(
                file, line, "reads", f"task {where} reads {name}, which is not in the registry",
                "check the table name with 'airflow-mesh show'"))
        elif error := read_error(f"task {where}", team, t, mesh.teams.get(t.team), file=file, line=line):
            violations.append(error)
    return violations


def _violation(file: str, line: int, rule: str, message: str, fix: str) -> MeshError:
    return MeshError(file=file, line=line, rule=rule, message=message, fix=fix)
