"""Thin Airflow glue shared by the mesh's operators and sensors: the period a running task covers.

All rules live in :mod:`airflow_mesh.core.intervals`; this module only reads the run's
logical date and the DAG's timetable (its class, cron expression and time zone).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow_mesh.core.contract import SUPPORTED_TIMETABLES, table_grid
from airflow_mesh.core.intervals import (
    Period,
    TimetableKind,
    as_utc,
    grid_for,
    partition_value,
    period_of_logical_date,
)
from airflow_mesh.core.registry import Table


class PeriodUnknownError(ValueError):
    """The run's DAG has no timetable the mesh can map to periods."""


def timezone_name(tz: Any) -> str:
    """IANA name of a timetable's zone (a string, a pendulum ``Timezone`` or a ``ZoneInfo``)."""
    if isinstance(tz, str):
        return tz
    return getattr(tz, "name", None) or getattr(tz, "key", None) or str(tz)


def timetable_shape(timetable: Any) -> tuple[str, str | None, str]:
    """``(class name, cron expression or None, IANA zone)`` of an SDK or core timetable."""
    expression = getattr(timetable, "expression", None) or getattr(timetable, "_expression", None)
    tz = getattr(timetable, "timezone", None) or getattr(timetable, "_timezone", None) or "UTC"
    return type(timetable).__name__, expression, timezone_name(tz)


def _logical_date(context: Any) -> datetime:
    dag_run = context.get("dag_run")
    tick = context.get("logical_date") or (dag_run.run_after if dag_run is not None else None)
    if tick is None:
        raise PeriodUnknownError("the task's context has neither a logical_date nor a dag_run, so its run has no "
                                 "period. Fix: call this from a task of a DAG run")
    return as_utc(tick)


def run_period(context: Any, schedule: str | None = None) -> Period:
    """The period the current run of its own DAG covers (see docs/intervals.md).

    Data-interval timetables: the run's data interval. ``CronTriggerTimetable`` (the
    default for cron strings): ``[previous tick, logical date)`` of the cron in the
    timetable's zone; ``schedule`` overrides the cron (``TableSensor(period_schedule=)``).
    """
    dag = context["dag"] if "dag" in context else context["ti"].task.dag
    name, expression, tz = timetable_shape(dag.timetable)
    kind = SUPPORTED_TIMETABLES.get(name)
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if schedule is None and kind is TimetableKind.DATA_INTERVAL and start is not None and end is not None and end > start:
        return Period(as_utc(start), as_utc(end))
    cron = schedule or expression
    if not cron:
        raise PeriodUnknownError(
            f"DAG {dag.dag_id} has timetable {name}, which has no periods the mesh can tell: give it a cron "
            "schedule (CronTriggerTimetable or CronDataIntervalTimetable) or pass period_schedule='<cron>'")
    return period_of_logical_date(grid_for(cron, tz), _logical_date(context),
                                  TimetableKind.TRIGGER if schedule else (kind or TimetableKind.TRIGGER))


def table_period(context: Any, table: Table) -> tuple[Period, str]:
    """The period and partition a producer run writes: from the table's contract and the run's logical date.

    The contract check (:mod:`airflow_mesh.core.contract`) guarantees at parse time that
    the DAG's runs have the contract's periods, so the contract alone decides.
    """
    grid = table_grid(table)
    period = period_of_logical_date(grid, _logical_date(context), table.timetable)
    return period, partition_value(grid, period)
