"""A planned DAG, seen through Airflow: the checks dry runs and jobs share, and its task ids to clear.

Run dates come from the DAG's own timetable at materialization
(:func:`airflow_mesh.backfill.materialize.run_infos`), not from the registry: if the two
disagree (a DAG file whose schedule differs from its tables' ``mesh.schedule``), the job fails
before applying anything rather than guess.
"""

from __future__ import annotations

from typing import Any

from airflow_mesh.core.intervals import as_utc, iso
from airflow_mesh.core.planner.plan import DagPlan
from airflow_mesh.core.registry.models import table_uri


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
