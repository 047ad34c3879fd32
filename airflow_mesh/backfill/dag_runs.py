"""A planned DAG, seen through Airflow: its task ids to clear, its run dates, its existing runs.

Run dates come from the DAG's own timetable (``SerializedDAG.iter_dagrun_infos_between``),
not from the registry: if the two disagree (a DAG file whose schedule differs from its
tables' ``mesh.schedule``), execution is refused rather than guessed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterator

from sqlalchemy import func, select

from airflow_mesh.core.registry.models import table_uri
from airflow_mesh.core.intervals import as_utc, iso
from airflow_mesh.core.planner.plan import DagPlan


class PlanNotExecutable(ValueError):
    """The plan cannot be executed as it stands; nothing was changed."""


def serialized_dag(dag_id: str, session) -> Any:
    from airflow.models.serialized_dag import SerializedDagModel

    dag = SerializedDagModel.get_dag(dag_id, session=session)
    if dag is None:
        raise PlanNotExecutable(
            f"DAG {dag_id} is not in Airflow's metadata DB (not parsed yet, or it has an import error): "
            "fix or deploy it, then plan again")
    return dag


def prepare(session, planned: DagPlan) -> tuple[Any, list[str]]:
    """The DAG as Airflow has it and the task ids to clear, after the checks dry runs and executions share."""
    dag = serialized_dag(planned.dag_id, session)
    task_ids = tasks_to_clear(dag, planned)
    check_dag_dates(dag, planned)
    return dag, task_ids


def tasks_to_clear(dag: Any, planned: DagPlan) -> list[str]:
    """The producer tasks of the affected tables, the tasks reading affected inputs, and their downstream."""
    reads = {table_uri(name) for name in planned.reads}
    start = set(planned.tasks)
    if not planned.is_root:
        start |= {t.task_id for t in dag.tasks if {getattr(a, "uri", None) for a in t.inlets or ()} & reads}
    missing = start - set(dag.task_ids)
    if missing:
        raise PlanNotExecutable(
            f"DAG {dag.dag_id} has no task(s) {', '.join(sorted(missing))} that the registry names as producer: "
            "fix mesh.producer in the DDL or the DAG file")
    out = set(start)
    for task_id in start:
        out |= set(dag.get_task(task_id).get_flat_relative_ids(upstream=False))
    return sorted(out)


def check_dag_dates(dag: Any, planned: DagPlan) -> None:
    """Refuse, already in the dry run, runs outside the DAG's own start/end date (Airflow would not run them)."""
    start, end = getattr(dag, "start_date", None), getattr(dag, "end_date", None)
    first, last = planned.ranges[0].first, planned.ranges[-1].last
    if start is not None and first < as_utc(start):
        raise PlanNotExecutable(
            f"DAG {dag.dag_id} starts {iso(as_utc(start))} but the plan has runs from {iso(first)}: its tables' "
            "mesh.start_date is earlier than the DAG's start_date; align them, or start the backfill later")
    if end is not None and last > as_utc(end):
        raise PlanNotExecutable(f"DAG {dag.dag_id} ends {iso(as_utc(end))} but the plan has runs until {iso(last)}")


def run_dates(dag: Any, planned: DagPlan) -> list[datetime]:
    """The logical dates of the planned runs, from the DAG's timetable; must match the plan's count."""
    dates: list[datetime] = []
    for r in planned.ranges:
        infos = dag.iter_dagrun_infos_between(r.first, r.last)
        got = [as_utc(i.logical_date) for i in infos if i.logical_date is not None]
        if len(got) != r.count:
            raise PlanNotExecutable(
                f"DAG {dag.dag_id}: its timetable gives {len(got)} runs in [{iso(r.first)}, {iso(r.last)}] but its "
                f"tables' schedule {planned.schedule!r} gives {r.count} (schedule or start_date of the DAG file "
                "differs from the registry): align them, then plan again")
        dates += got
    return dates


def existing_runs(session, dag_id: str, dates: list[datetime]) -> dict[datetime, str]:
    """``{logical date: run id}`` of the planned dates that already have a run."""
    from airflow.models.dagrun import DagRun

    if not dates:
        return {}
    rows = session.execute(
        select(DagRun.logical_date, DagRun.run_id)
        .where(DagRun.dag_id == dag_id, DagRun.logical_date >= min(dates), DagRun.logical_date <= max(dates))).all()
    wanted = set(dates)
    return {as_utc(d): r for d, r in rows if d is not None and as_utc(d) in wanted}


def count_existing(session, dag_id: str, planned: DagPlan) -> int:
    """Runs of the plan that already exist (one COUNT per range: dry runs never enumerate runs)."""
    from airflow.models.dagrun import DagRun

    total = 0
    for r in planned.ranges:
        total += session.scalar(select(func.count()).select_from(DagRun).where(
            DagRun.dag_id == dag_id, DagRun.logical_date >= r.first, DagRun.logical_date <= r.last)) or 0
    return total


def chunks(items: list, size: int = 500) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
