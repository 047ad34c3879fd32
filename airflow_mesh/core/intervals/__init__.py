"""The one interval model of the mesh: which period a run covers, which runs overlap a period.

Everything that reasons about time (the table sensors, the backfill planner, the
contract checks) goes through this package, so they can never disagree. It is pure
Python (no Airflow import) and works on *ranges*: a set of runs is a
:class:`RunRange` (first and last tick on a schedule's grid), a set of periods an
:class:`IntervalSet` of merged half-open intervals, so a one-year hourly backfill is
a handful of numbers, not 8,760 objects.

Modules, one concept each (see docs/intervals.md for the semantics):

* :mod:`.zones`: UTC instants and wall clocks; Airflow's DST rule for gap and fold;
* :mod:`.periods`: :class:`Period`, :class:`IntervalSet`;
* :mod:`.grids`: the ticks of a schedule in a zone (:func:`grid_for`, :class:`Grain`);
* :mod:`.runs`: which period a run covers, which runs cover a period, logical dates
  per :class:`TimetableKind`, partition names.
"""

from airflow_mesh.core.intervals.grids import (
    CRON_PRESETS,
    CronGrid,
    EveryHourCronGrid,
    FixedStepGrid,
    Grain,
    Grid,
    MonthlyGrid,
    ScheduleError,
    ZonedGrid,
    expression_of,
    grid_for,
    validate_schedule,
)
from airflow_mesh.core.intervals.periods import IntervalSet, Period
from airflow_mesh.core.intervals.runs import (
    RunRange,
    TimetableKind,
    logical_date_of,
    partition_value,
    period_of_logical_date,
    period_of_run,
    run_ranges,
    runs_overlapping,
    widen_to_runs,
)
from airflow_mesh.core.intervals.zones import (
    EPOCH,
    UTC,
    as_utc,
    instant_of_wall,
    iso,
    wall_clock,
    zone,
)

__all__ = [
    "CRON_PRESETS", "EPOCH", "UTC", "CronGrid", "EveryHourCronGrid", "FixedStepGrid", "Grain", "Grid",
    "IntervalSet", "MonthlyGrid", "Period", "RunRange", "ScheduleError", "TimetableKind", "ZonedGrid",
    "as_utc", "expression_of", "grid_for", "instant_of_wall", "iso", "logical_date_of", "partition_value",
    "period_of_logical_date", "period_of_run", "run_ranges", "runs_overlapping", "validate_schedule",
    "wall_clock", "widen_to_runs", "zone",
]
