"""Does a producer DAG give the periods its tables' contracts promise? (pure; no Airflow import)

A table's contract (``mesh.schedule``, ``mesh.timezone``, ``mesh.timetable``,
``mesh.start_date``) defines its periods; readers wait for exactly those runs. The DAG
that writes the table must make the same runs, or readers wait for runs that never come
("23 not created yet") and backfills map to the wrong runs. The Airflow glue
(:func:`airflow_mesh.governance.facts.timetable_facts`) asks Airflow's own timetable for
sample runs of the DAG; this module compares them with the contract, for the cluster
policy and ``airflow-mesh check`` alike.

Decided here: a *dynamically mapped* producer task is refused. The mesh counts one
task instance per run; a mapped task has a number of map indexes known only at run time,
so a reader could not tell a complete partition from a partial one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from airflow_mesh.core.intervals import (
    Grid,
    Period,
    TimetableKind,
    grid_for,
    iso,
    period_of_logical_date,
)
from airflow_mesh.core.registry.mesh import Mesh
from airflow_mesh.core.registry.models import MeshError, Table
from airflow_mesh.core.source_lines import SourceLines

#: Timetables whose runs the mesh can map to periods, by Airflow class name.
SUPPORTED_TIMETABLES = {
    "CronTriggerTimetable": TimetableKind.TRIGGER,
    "CronDataIntervalTimetable": TimetableKind.DATA_INTERVAL,
    "DeltaDataIntervalTimetable": TimetableKind.DATA_INTERVAL,
}


def table_grid(t: Table) -> Grid:
    """A table's schedule grid, in its own time zone (cached by :func:`grid_for`)."""
    return grid_for(t.schedule, t.timezone)


def first_period_start(t: Table) -> datetime | None:
    """The start of the table's first period with data: the first tick at or after ``mesh.start_date``."""
    return table_grid(t).ceil(t.start_date) if t.start_date is not None else None


@dataclass(frozen=True)
class TimetableFacts:
    """What Airflow's own timetable says about one DAG (extracted by the glue)."""

    dag_id: str
    fileloc: str | None
    timetable: str  # class name, e.g. "CronTriggerTimetable"
    summary: str  # human form, e.g. "0 0 * * * in Europe/Amsterdam"
    runs: tuple[tuple[datetime, Period], ...] = ()  # sample (logical date, period covered) from the DAG's start
    mapped_tasks: tuple[str, ...] = field(default_factory=tuple)
    lines: SourceLines = field(default_factory=SourceLines)  # where the file names its task_ids

    @property
    def kind(self) -> TimetableKind | None:
        return SUPPORTED_TIMETABLES.get(self.timetable)


def check_contract(mesh: Mesh, facts: TimetableFacts) -> list[MeshError]:
    """Every way the DAG's runs differ from the periods its tables' contracts promise."""
    out: list[MeshError] = []
    for name in mesh.tables_by_dag.get(facts.dag_id, ()):
        t = mesh.tables[name]
        problem = _problem(t, facts)
        if problem:
            message, fix = problem
            line = facts.lines.of("task_id", t.producer_task)
            out.append(MeshError(file=facts.fileloc or "<unknown file>", line=line, rule="contract",
                                 message=f"{t.name} ({t.file}): {message}", fix=fix))
    return out


def _problem(t: Table, facts: TimetableFacts) -> tuple[str, str] | None:
    """(message, fix) for the first mismatch between ``t``'s contract and the DAG, else ``None``."""
    contract = f"mesh.schedule '{t.schedule}' in mesh.timezone '{t.timezone}'"
    if t.producer_task in facts.mapped_tasks:
        return (f"producer task {t.producer_task} is dynamically mapped; readers count one task instance per "
                "period and could not tell a complete partition from a partial one",
                "write the partition from one task (loop or parallelise inside it, e.g. Spark), "
                "or split the table into one table per mapped input")
    if facts.kind is None:
        return (f"the DAG's timetable {facts.timetable} ({facts.summary}) has no periods the mesh can map",
                f"schedule the DAG with schedule='{t.schedule}' and a start_date in {t.timezone}, or with "
                "CronTriggerTimetable/CronDataIntervalTimetable; asset-triggered, custom and None schedules "
                "cannot produce a table")
    if facts.kind.value != t.timetable:
        return (f"the DAG uses {facts.timetable}, whose logical date is the period "
                f"{'start' if facts.kind is TimetableKind.DATA_INTERVAL else 'end'}, but the contract says "
                f"mesh.timetable '{t.timetable}'",
                f"set 'mesh.timetable' = '{facts.kind.value}' in {t.file}:{t.line_of('mesh.schedule')}, "
                "or change the DAG's timetable")
    grid = table_grid(t)
    for logical_date, period in facts.runs:
        promised = period_of_logical_date(grid, logical_date, t.timetable)
        if promised != period:
            return (f"the DAG's run at logical date {iso(logical_date)}Z ({facts.summary}) covers {period}, "
                    f"but {contract} says that run covers {promised}",
                    f"make the DAG's schedule and time zone match the contract (e.g. schedule='{t.schedule}' "
                    f"with start_date in {t.timezone}), or correct {t.file}:{t.line_of('mesh.schedule')}")
    first = first_period_start(t)  # None exactly when t.start_date is None; both tested so each is narrowed
    if first is not None and t.start_date is not None and facts.runs and facts.runs[0][1].start > first:
        return (f"the DAG's first run covers {facts.runs[0][1]}, but the contract promises data from "
                f"{iso(first)}Z (mesh.start_date): readers of the earlier periods would wait forever",
                f"set the DAG's start_date to {iso(t.start_date)}Z or earlier, or move mesh.start_date "
                f"({t.file}:{t.line_of('mesh.start_date')}) to {iso(facts.runs[0][1].start)}Z")
    return None
