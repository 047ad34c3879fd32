"""Thin Airflow glue shared by the mesh's operators and sensors: the period a running task covers."""

from __future__ import annotations

from typing import Any

from airflow_mesh.core.intervals import Period, as_utc, grid_for, period_of_run


class PeriodUnknownError(ValueError):
    """The run's DAG has no cron schedule and no data interval, so its period is undefined."""


def run_period(context: Any, schedule: str | None = None) -> Period:
    """The period the current run covers (see :mod:`airflow_mesh.core.intervals`).

    A non-empty data interval (``CronDataIntervalTimetable``, or a
    ``CronTriggerTimetable`` with ``interval=``) is taken as is. Otherwise, the
    Airflow 3 default with its zero-length interval, the run at tick ``t`` covers
    ``[previous tick, t)`` of the DAG's cron schedule (or ``schedule`` if given).
    """
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is not None and end is not None and end > start:
        return Period(as_utc(start), as_utc(end))
    if schedule is None:
        dag = context["dag"] if "dag" in context else context["ti"].task.dag
        schedule = getattr(dag.timetable, "expression", None)
    if not schedule:
        raise PeriodUnknownError(
            "this run's DAG has no cron schedule and an empty data interval, so the mesh cannot tell which "
            "period it covers: give the DAG a cron schedule or pass period_schedule='<cron>'")
    dag_run = context.get("dag_run")
    tick = context.get("logical_date") or (dag_run.run_after if dag_run is not None else None)
    return period_of_run(grid_for(schedule), as_utc(tick))
