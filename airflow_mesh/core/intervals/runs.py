"""Runs and periods of one schedule: which period a run covers, which runs cover a period.

The mesh's rule: a schedule's run *covers the period between two consecutive ticks*
``[previous tick, tick)``. The timetable decides only which instant is the run's
logical date (:class:`TimetableKind`):

* ``CronTriggerTimetable`` (Airflow 3's default for ``schedule="@daily"``): the run at
  tick ``t`` has ``logical_date == t`` and covers ``[previous tick, t)``;
* ``CronDataIntervalTimetable`` / ``DeltaDataIntervalTimetable``: the run covers its data
  interval ``[tick, next tick)`` and its logical date is the interval *start*.

Runs are held as :class:`RunRange` (first and last *period-end* tick), so a year of hourly
runs is two instants and a count, whatever the timetable kind.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from airflow_mesh.core.intervals.grids import Grid
from airflow_mesh.core.intervals.periods import IntervalSet, Period, merge_sorted
from airflow_mesh.core.intervals.zones import as_utc


class TimetableKind(StrEnum):
    """Which instant of a run's period Airflow calls its logical date."""

    TRIGGER = "trigger"  # CronTriggerTimetable (and presets/cron strings): the period's end
    DATA_INTERVAL = "data_interval"  # CronDataIntervalTimetable, DeltaDataIntervalTimetable: the period's start


def logical_date_of(period: Period, kind: TimetableKind | str) -> datetime:
    """The logical date of the run that covers ``period`` (a period of the producer's grid)."""
    return period.start if TimetableKind(kind) is TimetableKind.DATA_INTERVAL else period.end


def period_of_run(grid: Grid, tick: datetime) -> Period:
    """The period covered by the run whose period ends at ``tick``: ``[previous tick, tick)``.

    ``tick`` that is not on the grid (a manual run at 10:17 of a daily DAG) is taken to
    cover the last complete period before it.
    """
    end = grid.floor(tick)
    return Period(grid.prev_before(end), end)


def period_of_logical_date(grid: Grid, logical_date: datetime, kind: TimetableKind | str) -> Period:
    """The period covered by the run with ``logical_date`` under a timetable of ``kind``."""
    if TimetableKind(kind) is TimetableKind.DATA_INTERVAL:
        start = grid.floor(as_utc(logical_date))
        return Period(start, grid.next_after(start))
    return period_of_run(grid, as_utc(logical_date))


def partition_value(grid: Grid, period: Period) -> str:
    """The partition a run writes: its period's start on the schedule's wall clock, at its grain."""
    return period.start.astimezone(grid.tz).strftime(grid.grain.partition_format)


@dataclass(frozen=True)
class RunRange:
    """The runs of one schedule whose periods end at ticks in ``[first, last]``: a range, not a list.

    ``count`` is computed once (grids count in O(1) where the schedule allows).
    """

    grid: Grid
    first: datetime
    last: datetime
    count: int = field(default=-1, compare=False)

    def __post_init__(self) -> None:
        if self.count < 0:
            object.__setattr__(self, "count", self.grid.count(self.first, self.last))

    @property
    def period(self) -> Period:
        """The union of the periods these runs cover."""
        return Period(self.grid.prev_before(self.first), self.last)

    def ticks(self) -> Iterator[datetime]:
        """The period-end ticks, enumerated lazily: only to show or execute."""
        return self.grid.iter_ticks(self.first, self.last)

    def logical_dates(self, kind: TimetableKind | str = TimetableKind.TRIGGER) -> Iterator[datetime]:
        """The runs' logical dates under a timetable of ``kind``, lazily."""
        if TimetableKind(kind) is TimetableKind.TRIGGER:
            return self.ticks()
        return self.grid.iter_ticks(self.grid.prev_before(self.first), self.grid.prev_before(self.last))


def runs_overlapping(grid: Grid, period: Period) -> RunRange | None:
    """The runs of ``grid`` whose covered period overlaps ``period``.

    A run whose period ends at tick ``t`` covers ``[prev(t), t)``; it overlaps ``[a, b)``
    iff ``t > a`` and ``prev(t) < b``, i.e. ``t`` in ``(a, ceil(b)]``. Daily period, hourly
    grid: 24 runs (23 or 25 on a DST day in a zone that has one); hourly period, daily
    grid: the one covering day.
    """
    if period.end <= period.start:
        return None
    first = grid.next_after(period.start)
    last = grid.ceil(period.end)
    return RunRange(grid, first, last) if first <= last else None


def run_ranges(grid: Grid, time: IntervalSet) -> list[RunRange]:
    """The runs of ``grid`` overlapping ``time``, as ranges (adjacent ranges merged), in one pass."""
    ranges: list[RunRange] = []
    for p in time.periods:
        r = runs_overlapping(grid, p)
        if r is None:
            continue
        if ranges and r.first <= ranges[-1].last:
            if r.last > ranges[-1].last:
                ranges[-1] = RunRange(grid, ranges[-1].first, r.last)
        else:
            ranges.append(r)
    return ranges


def widen_to_runs(grid: Grid, time: IntervalSet) -> IntervalSet:
    """``time`` widened to whole runs of ``grid``: what a consumer on ``grid`` must recompute."""
    return IntervalSet(merge_sorted(r.period for r in run_ranges(grid, time)))
