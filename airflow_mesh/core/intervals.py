"""The one interval model of the mesh: which period a run covers, which runs overlap a period.

Everything that reasons about time (the table sensors, the backfill planner, the
checks) goes through this module, so that they can never disagree. It is pure
Python (no Airflow import) and works on *ranges*: a set of runs is held as
``(first tick, last tick)`` on a schedule's grid, and a set of periods as merged
half-open intervals, so a one-year hourly backfill is a handful of numbers, not
8,760 objects. Single runs are enumerated only when they must be shown or executed.

Semantics (documented in docs/intervals.md):

* All schedules are cron expressions (or Airflow presets) evaluated in **UTC**.
  There is no DST: a day is always 24 hours.
* A schedule's *ticks* are the instants its cron expression matches. Airflow 3
  (``CronTriggerTimetable``, the default) starts a run at each tick, with
  ``logical_date == run_after == tick`` and a zero-length data interval.
* The mesh defines that the run at tick ``t`` **covers the period
  ``[previous tick, t)``**: the hourly run at 04:00 covers 03:00-04:00, the daily
  run at 2026-11-02T00:00 covers the day 2026-11-01. This is the period whose
  data is complete when the run starts, and the partition it writes is named
  after the period's start.
* A consumer period ``P`` needs every producer run whose period overlaps ``P``.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Iterable, Iterator, Protocol

from croniter import croniter

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: Airflow's cron presets (kept equal to ``airflow.sdk.definitions.timetables._cron.CRON_PRESETS``).
CRON_PRESETS: dict[str, str] = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}


class ScheduleError(ValueError):
    """A schedule string the mesh cannot use (not cron, not a preset)."""


def as_utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime; naive values are taken as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


@dataclass(frozen=True, order=True)
class Period:
    """A half-open time range ``[start, end)`` in UTC."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"period ends before it starts: {self.start} > {self.end}")

    def overlaps(self, other: "Period") -> bool:
        return self.start < other.end and other.start < self.end

    def __str__(self) -> str:
        return f"[{iso(self.start)}, {iso(self.end)})"


def iso(value: datetime) -> str:
    """Short ISO form used in messages: minutes precision, UTC implied."""
    return as_utc(value).strftime("%Y-%m-%dT%H:%M")


class Grid(Protocol):
    """The ticks of one schedule. All methods take and return aware UTC datetimes."""

    expression: str
    grain: str

    def floor(self, t: datetime) -> datetime:
        """The largest tick ``<= t``."""

    def ceil(self, t: datetime) -> datetime:
        """The smallest tick ``>= t``."""

    def next_after(self, t: datetime) -> datetime:
        """The smallest tick ``> t``."""

    def prev_before(self, t: datetime) -> datetime:
        """The largest tick ``< t``."""

    def count(self, first: datetime, last: datetime) -> int:
        """Number of ticks in ``[first, last]`` (both ticks of this grid)."""

    def iter_ticks(self, first: datetime, last: datetime) -> Iterator[datetime]:
        """Ticks in ``[first, last]``, in order."""


@dataclass(frozen=True)
class FixedStepGrid:
    """Ticks every ``step`` seconds, shifted by ``offset`` from the Unix epoch.

    Covers every-N-minutes, hourly, daily and weekly crons with pure arithmetic,
    which is what makes planning a year of hourly runs cost microseconds.
    """

    expression: str
    grain: str
    step: int
    offset: int

    def _secs(self, t: datetime) -> int:
        return int((as_utc(t) - EPOCH).total_seconds())

    def _at(self, secs: int) -> datetime:
        return EPOCH + timedelta(seconds=secs)

    def floor(self, t: datetime) -> datetime:
        s = self._secs(t)
        return self._at(s - (s - self.offset) % self.step)

    def ceil(self, t: datetime) -> datetime:
        s = self._secs(t)
        rem = (s - self.offset) % self.step
        return self._at(s if rem == 0 else s + self.step - rem)

    def next_after(self, t: datetime) -> datetime:
        return self._at(self._secs(self.floor(t)) + self.step)

    def prev_before(self, t: datetime) -> datetime:
        return self._at(self._secs(self.ceil(t)) - self.step)

    def count(self, first: datetime, last: datetime) -> int:
        if last < first:
            return 0
        return (self._secs(last) - self._secs(first)) // self.step + 1

    def iter_ticks(self, first: datetime, last: datetime) -> Iterator[datetime]:
        s, end = self._secs(first), self._secs(last)
        while s <= end:
            yield self._at(s)
            s += self.step


@dataclass(frozen=True)
class MonthlyGrid:
    """Ticks on day ``day`` (1-28) at ``hour:minute`` every ``months`` months.

    ``month_offset`` is the 0-based month of the year the cycle starts at
    (``@quarterly``: months 1, 4, 7, 10 → step 3, offset 0).
    """

    expression: str
    grain: str
    months: int
    month_offset: int
    day: int
    hour: int
    minute: int

    def _index(self, t: datetime) -> int:
        """Tick index of the last tick ``<= t`` (may be computed one too high, fixed by callers)."""
        t = as_utc(t)
        return (t.year * 12 + t.month - 1 - self.month_offset) // self.months

    def _tick(self, index: int) -> datetime:
        month_no = index * self.months + self.month_offset
        year, month0 = divmod(month_no, 12)
        return datetime(year, month0 + 1, self.day, self.hour, self.minute, tzinfo=UTC)

    def floor(self, t: datetime) -> datetime:
        t = as_utc(t)
        i = self._index(t)
        tick = self._tick(i)
        return tick if tick <= t else self._tick(i - 1)

    def ceil(self, t: datetime) -> datetime:
        t = as_utc(t)
        f = self.floor(t)
        return f if f == t else self._tick(self._index(f) + 1)

    def next_after(self, t: datetime) -> datetime:
        return self._tick(self._index(self.floor(t)) + 1)

    def prev_before(self, t: datetime) -> datetime:
        return self._tick(self._index(self.ceil(t)) - 1)

    def count(self, first: datetime, last: datetime) -> int:
        if last < first:
            return 0
        return self._index(last) - self._index(first) + 1

    def iter_ticks(self, first: datetime, last: datetime) -> Iterator[datetime]:
        for i in range(self._index(first), self._index(last) + 1):
            yield self._tick(i)


@dataclass(frozen=True)
class CronGrid:
    """Any other cron expression, through croniter (correct, but per-tick cost)."""

    expression: str
    grain: str = "cron"

    def _it(self, t: datetime) -> croniter:
        return croniter(self.expression, as_utc(t))

    def floor(self, t: datetime) -> datetime:
        t = as_utc(t)
        return t if croniter.match(self.expression, t) and t.second == 0 and t.microsecond == 0 else self.prev_before(t)

    def ceil(self, t: datetime) -> datetime:
        t = as_utc(t)
        return t if croniter.match(self.expression, t) and t.second == 0 and t.microsecond == 0 else self.next_after(t)

    def next_after(self, t: datetime) -> datetime:
        return as_utc(self._it(t).get_next(datetime))

    def prev_before(self, t: datetime) -> datetime:
        return as_utc(self._it(t).get_prev(datetime))

    def count(self, first: datetime, last: datetime) -> int:
        return sum(1 for _ in self.iter_ticks(first, last))

    def iter_ticks(self, first: datetime, last: datetime) -> Iterator[datetime]:
        t = self.ceil(first)
        while t <= last:
            yield t
            t = self.next_after(t)


_INT = re.compile(r"^\d+$")
_STEP = re.compile(r"^\*/(\d+)$")


@lru_cache(maxsize=4096)
def grid_for(schedule: str) -> Grid:
    """Return the grid of a cron expression or Airflow preset.

    Regular shapes (every N minutes/hours, daily, weekly, monthly, quarterly,
    yearly at a fixed time) get an arithmetic grid; anything else falls back to
    croniter. Raises :class:`ScheduleError` for strings that are not cron.
    """
    expression = CRON_PRESETS.get(schedule.strip(), schedule.strip())
    if expression.startswith("@") or not croniter.is_valid(expression):
        raise ScheduleError(
            f"{schedule!r} is not a cron expression or one of {', '.join(sorted(CRON_PRESETS))}"
        )
    fields = expression.split()
    if len(fields) != 5:
        return CronGrid(expression)
    m, h, dom, mon, dow = fields
    if _INT.match(m) and h == dom == mon == dow == "*" and int(m) < 60:
        return FixedStepGrid(expression, "hour", 3600, int(m) * 60)
    step = _STEP.match(m)
    if step and h == dom == mon == dow == "*" and 60 % int(step.group(1)) == 0:
        return FixedStepGrid(expression, "minute", int(step.group(1)) * 60, 0)
    step = _STEP.match(h)
    if _INT.match(m) and step and dom == mon == dow == "*" and 24 % int(step.group(1)) == 0:
        return FixedStepGrid(expression, "hour", int(step.group(1)) * 3600, int(m) * 60)
    if not (_INT.match(m) and _INT.match(h)) or int(m) > 59 or int(h) > 23:
        return CronGrid(expression)
    time_of_day = int(h) * 3600 + int(m) * 60
    if dom == mon == dow == "*":
        return FixedStepGrid(expression, "day", 86400, time_of_day)
    if dom == mon == "*" and _INT.match(dow):
        # 1970-01-01 was a Thursday (cron weekday 4); cron allows 7 for Sunday.
        days = (int(dow) % 7 - 4) % 7
        return FixedStepGrid(expression, "week", 7 * 86400, days * 86400 + time_of_day)
    if _INT.match(dom) and 1 <= int(dom) <= 28 and dow == "*":
        if mon == "*":
            return MonthlyGrid(expression, "month", 1, 0, int(dom), int(h), int(m))
        step = _STEP.match(mon)
        if step and 12 % int(step.group(1)) == 0:
            return MonthlyGrid(expression, "quarter" if step.group(1) == "3" else "month", int(step.group(1)), 0, int(dom), int(h), int(m))
        if _INT.match(mon) and 1 <= int(mon) <= 12:
            return MonthlyGrid(expression, "year", 12, int(mon) - 1, int(dom), int(h), int(m))
    return CronGrid(expression)


def validate_schedule(schedule: str) -> str | None:
    """Return an error message for a schedule the mesh cannot use, else ``None``."""
    try:
        grid_for(schedule)
    except ScheduleError as err:
        return str(err)
    return None


_PARTITION_FORMAT = {"minute": "%Y-%m-%dT%H:%M", "hour": "%Y-%m-%dT%H", "day": "%Y-%m-%d", "week": "%Y-%m-%d",
                     "month": "%Y-%m", "quarter": "%Y-%m", "year": "%Y", "cron": "%Y-%m-%dT%H:%M"}


def partition_value(grid: Grid, period: Period) -> str:
    """The partition a run writes: its period's start, at the schedule's grain."""
    return period.start.strftime(_PARTITION_FORMAT[grid.grain])


def period_of_run(grid: Grid, tick: datetime) -> Period:
    """The period the run at ``tick`` covers: ``[previous tick, tick)``.

    ``tick`` that is not on the grid (a manual run at 10:17 of a daily DAG) is
    taken to cover the last complete period before it.
    """
    end = grid.floor(tick)
    return Period(grid.prev_before(end), end)


@dataclass(frozen=True)
class RunRange:
    """The runs of one schedule whose ticks lie in ``[first, last]``: a range, not a list."""

    grid: Grid
    first: datetime
    last: datetime

    @property
    def count(self) -> int:
        return self.grid.count(self.first, self.last)

    @property
    def period(self) -> Period:
        """The union of the periods these runs cover."""
        return Period(self.grid.prev_before(self.first), self.last)

    def ticks(self) -> Iterator[datetime]:
        """The run ticks (logical dates), enumerated lazily: only to show or execute."""
        return self.grid.iter_ticks(self.first, self.last)


def runs_overlapping(grid: Grid, period: Period) -> RunRange | None:
    """The runs of ``grid`` whose covered period overlaps ``period``.

    A run at tick ``t`` covers ``[prev(t), t)``; it overlaps ``[a, b)`` iff
    ``t > a`` and ``prev(t) < b``, i.e. ``t`` in ``(a, ceil(b)]``.
    Daily period, hourly grid → 24 runs; hourly period, daily grid → the one
    covering day.
    """
    if period.end <= period.start:
        return None
    first = grid.next_after(period.start)
    last = grid.ceil(period.end)
    return RunRange(grid, first, last) if first <= last else None


def snap_outward(grid: Grid, period: Period) -> Period | None:
    """The union of the periods of the runs of ``grid`` that overlap ``period``."""
    runs = runs_overlapping(grid, period)
    return runs.period if runs else None


@dataclass(frozen=True)
class IntervalSet:
    """Disjoint, sorted, merged half-open periods: a set of time held as ranges."""

    periods: tuple[Period, ...] = ()

    @classmethod
    def of(cls, periods: Iterable[Period]) -> "IntervalSet":
        merged: list[Period] = []
        for p in sorted(p for p in periods if p.end > p.start):
            if merged and p.start <= merged[-1].end:
                if p.end > merged[-1].end:
                    merged[-1] = Period(merged[-1].start, p.end)
            else:
                merged.append(p)
        return cls(tuple(merged))

    def __bool__(self) -> bool:
        return bool(self.periods)

    def union(self, other: "IntervalSet") -> "IntervalSet":
        return IntervalSet.of(self.periods + other.periods)

    def clip(self, bounds: Period) -> "IntervalSet":
        """Only the parts of this set inside ``bounds``."""
        out = []
        for p in self.periods:
            start, end = max(p.start, bounds.start), min(p.end, bounds.end)
            if start < end:
                out.append(Period(start, end))
        return IntervalSet(tuple(out))

    def snap_outward(self, grid: Grid) -> "IntervalSet":
        """Widen every period to whole runs of ``grid`` (what a consumer must recompute)."""
        return IntervalSet.of(filter(None, (snap_outward(grid, p) for p in self.periods)))

    def run_ranges(self, grid: Grid) -> list[RunRange]:
        """The runs of ``grid`` overlapping this set, as ranges (one per merged period)."""
        ranges: list[RunRange] = []
        for p in self.periods:
            r = runs_overlapping(grid, p)
            if r is None:
                continue
            if ranges and r.first <= ranges[-1].last:
                if r.last > ranges[-1].last:
                    ranges[-1] = RunRange(grid, ranges[-1].first, r.last)
            else:
                ranges.append(r)
        return ranges

    def contains(self, t: datetime) -> bool:
        starts = [p.start for p in self.periods]
        i = bisect_right(starts, t) - 1
        return i >= 0 and self.periods[i].start <= t < self.periods[i].end

    def overlaps(self, period: Period) -> bool:
        ends = [p.end for p in self.periods]
        i = bisect_left(ends, period.start + timedelta(microseconds=1))
        return i < len(self.periods) and self.periods[i].overlaps(period)

    @property
    def total(self) -> timedelta:
        return sum((p.end - p.start for p in self.periods), timedelta())
