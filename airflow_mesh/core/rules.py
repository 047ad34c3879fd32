"""The ownership rules of the mesh, as pure functions over what a DAG declares.

One implementation serves the cluster policy (DAG import), ``airflow-mesh check``
(a team's CI) and the tests, so the three can never disagree. No Airflow import:
the facts are extracted from DAG objects by :mod:`airflow_mesh.governance.facts`.

Rules:
1. A DAG belongs to exactly one registered team (tables it produces, its team
   folder ``dags/<team>/`` and its ``team:<name>`` tag must agree when present).
2. A task writes only tables its DAG's team owns, and only as their declared producer.
3. A task reads another team's table only when that table is public.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from airflow_mesh.core.ownership import TEAM_TAG_PREFIX, declared_teams
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


@dataclass(frozen=True)
class Violation:
    """One broken rule, located and explained for the team member who has to fix it."""

    file: str
    line: int
    dag_id: str
    rule: str  # "team" | "writes" | "reads"
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: [{self.rule}] {self.message}. Fix: {self.fix}"


def check_dag(mesh: Mesh, dag: DagFacts) -> tuple[str | None, list[Violation]]:
    """The DAG's team (when it has exactly one) and every rule it breaks."""
    file = dag.fileloc or "<unknown file>"
    dag_line = _line_of(dag.fileloc, "dag_id", dag.dag_id)
    violations: list[Violation] = []

    found = declared_teams(mesh, dag.dag_id, dag.fileloc, dag.tags)
    unknown_tags = [t[len(TEAM_TAG_PREFIX):] for t in dag.tags
                    if t.startswith(TEAM_TAG_PREFIX) and t[len(TEAM_TAG_PREFIX):] not in mesh.teams]
    for name in unknown_tags:
        violations.append(Violation(
            file, dag_line, dag.dag_id, "team", f"DAG {dag.dag_id} is tagged team:{name}, which is not a registered team",
            f"use one of {', '.join(sorted(mesh.teams))}, or add teams/{name}.yaml"))
    teams = {t for source, t in found.items() if t in mesh.teams}
    team: str | None = None
    if len(teams) > 1:
        named = ", ".join(f"{source} say {t}" for source, t in sorted(found.items()))
        violations.append(Violation(
            file, dag_line, dag.dag_id, "team", f"DAG {dag.dag_id} belongs to more than one team ({named})",
            "a DAG has one owning team: move it to that team's folder, fix its team: tag, "
            "or split it so each DAG only produces its own team's tables"))
    elif teams:
        team = teams.pop()
    elif not unknown_tags:
        violations.append(Violation(
            file, dag_line, dag.dag_id, "team", f"DAG {dag.dag_id} belongs to no registered team",
            f"put the file under dags/<team>/ or tag the DAG 'team:<team>' (teams: {', '.join(sorted(mesh.teams))})"))

    for task in dag.tasks:
        line = _line_of(dag.fileloc, "task_id", task.task_id)
        where = f"{dag.dag_id}.{task.task_id}"
        for name in task.writes:
            t = mesh.tables.get(name)
            if t is None:
                violations.append(Violation(
                    file, line, dag.dag_id, "writes", f"task {where} writes {name}, which is not in the registry",
                    f"add its CREATE TABLE to ddl/{team or '<team>'}/ first"))
            elif team and t.team != team:
                violations.append(Violation(
                    file, line, dag.dag_id, "writes",
                    f"task {where} (team {team}) writes {name}, which team {t.team} owns ({t.file}:{t.line})",
                    f"write a table of team {team}, or ask {mesh.teams[t.team].contact_line} to hand it over"))
            elif (t.producer_dag, t.producer_task) != (dag.dag_id, task.task_id):
                violations.append(Violation(
                    file, line, dag.dag_id, "writes",
                    f"task {where} writes {name}, whose contract names {t.producer} as its only producer "
                    f"({t.file}:{t.line_of('mesh.producer')})",
                    "change mesh.producer in the DDL, or remove the outlet"))
        for name in task.reads:
            t = mesh.tables.get(name)
            if t is None:
                violations.append(Violation(
                    file, line, dag.dag_id, "reads", f"task {where} reads {name}, which is not in the registry",
                    "check the table name with 'airflow-mesh show'"))
            elif t.access == "private" and t.team != team:
                owner = mesh.teams[t.team]
                violations.append(Violation(
                    file, line, dag.dag_id, "reads",
                    f"task {where} (team {team or 'none'}) reads {name}, a private table of team {t.team}",
                    f"read a public table instead, or ask {owner.contact_line} to make it public "
                    f"(mesh.access in {t.file})"))
    return team, violations


def _line_of(fileloc: str | None, key: str, value: str) -> int:
    """The line where ``key="value"`` appears in the DAG file (1 if it cannot be found)."""
    if not fileloc:
        return 1
    try:
        mtime = os.stat(fileloc).st_mtime_ns
    except OSError:
        return 1
    return _lines_in(fileloc, mtime).get((key, value), 1)


@lru_cache(maxsize=256)
def _lines_in(fileloc: str, mtime: int) -> dict[tuple[str, str], int]:
    """Where each task_id/dag_id literal is (cached per file version: the dag processor re-parses often)."""
    try:
        text = Path(fileloc).read_text(encoding="utf-8")
    except OSError:
        return {}
    found: dict[tuple[str, str], int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        for m in _KEY_VALUE.finditer(line):
            found.setdefault((m.group(1), m.group(3)), number)
    return found


_KEY_VALUE = re.compile(r"\b(task_id|dag_id)\s*=\s*(['\"])([^'\"]+)\2")
