"""Schedule grids: the ticks of one cron schedule in one time zone, as arithmetic where possible.

A grid answers floor/ceil/next/previous tick and "how many ticks in [first, last]" for
aware UTC instants. Regular shapes (every N minutes or hours, daily, weekly, monthly,
quarterly, yearly at a fixed time) are pure arithmetic, so counting a year of hourly runs
is one subtraction. In a zone other than UTC:

* schedules that fire at least once every hour (``M * * * *``, ``*/15 * * * *``) tick on
  the absolute time line, as Airflow's ``CronMixin`` does (its "fold hour" rule): an
  Amsterdam hourly schedule has 23 ticks on the spring day and 25 on the autumn day;
* every other schedule ticks on the zone's wall clock (:class:`ZonedGrid`): the arithmetic
  grid computes wall-clock ticks and each maps to one instant (Airflow's ``make_aware``
  rule for the gap and the fold, see :mod:`.zones`). Counting stays O(1).

Anything irregular falls back to croniter (:class:`CronGrid`, per-tick cost).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum
from functools import lru_cache
from typing import Protocol

from croniter import CroniterBadDateError, croniter

from airflow_mesh.core.intervals.zones import (
    EPOCH,
    UTC,
    as_utc,
    instant_of_wall,
    wall_clock,
    zone,
)

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
_TINY = timedelta(microseconds=1)


class Grain(StrEnum):
    """How coarse a schedule's periods are: names partitions and words messages."""

    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"
    CRON = "cron"  # irregular: no single grain

    @property
    def partition_format(self) -> str:
        return _PARTITION_FORMAT[self]


_PARTITION_FORMAT = {Grain.MINUTE: "%Y-%m-%dT%H:%M", Grain.HOUR: "%Y-%m-%dT%H", Grain.DAY: "%Y-%m-%d",
                     Grain.WEEK: "%Y-%m-%d", Grain.MONTH: "%Y-%m", Grain.QUARTER: "%Y-%m", Grain.YEAR: "%Y",
                     Grain.CRON: "%Y-%m-%dT%H:%M"}


class ScheduleError(ValueError):
    """A schedule string the mesh cannot use (not cron, not a preset, or never fires)."""


class Grid(Protocol):
    """The ticks of one schedule. All methods take and return aware UTC datetimes.

    The attributes are read-only properties: grids are immutable (frozen dataclasses, or computed from the
    grid they wrap), and a protocol with plain attributes would demand settable ones.
    """

    @property
    def expression(self) -> str:
        """The cron expression (presets resolved)."""

    @property
    def grain(self) -> Grain:
        """How coarse the periods are."""

    @property
    def tz(self) -> tzinfo:
        """The zone the expression is evaluated in."""

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
    """Ticks every ``step`` seconds, shifted by ``offset`` from the Unix epoch (absolute time line)."""

    expression: str
    grain: Grain
    step: int
    offset: int
    tz: tzinfo = UTC

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
    (``@quarterly``: months 1, 4, 7, 10 -> step 3, offset 0).
    """

    expression: str
    grain: Grain
    months: int
    month_offset: int
    day: int
    hour: int
    minute: int
    tz: tzinfo = UTC

    def _index(self, t: datetime) -> int:
        """Index of the cycle month ``t`` falls in (its tick may still be after ``t``)."""
        t = as_utc(t)
        return (t.year * 12 + t.month - 1 - self.month_offset) // self.months

    def _tick(self, index: int) -> datetime:
        year, month0 = divmod(index * self.months + self.month_offset, 12)
        return datetime(year, month0 + 1, self.day, self.hour, self.minute, tzinfo=UTC)

    def floor(self, t: datetime) -> datetime:
        t = as_utc(t)
        i = self._index(t)
        tick = self._tick(i)
        return tick if tick <= t else self._tick(i - 1)

    def ceil(self, t: datetime) -> datetime:
        f = self.floor(t)
        return f if f == as_utc(t) else self._tick(self._index(f) + 1)

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


class _SteppedGrid:
    """Floor, ceil, count and walk for grids that can only step tick by tick (no arithmetic index).

    Subclasses say what a tick is (``_is_tick``) and how to step (``next_after``,
    ``prev_before``); counting then costs one step per tick, which is why the planner
    bounds the ticks a request may walk.
    """

    def _is_tick(self, t: datetime) -> bool:
        raise NotImplementedError

    def next_after(self, t: datetime) -> datetime:
        raise NotImplementedError

    def prev_before(self, t: datetime) -> datetime:
        raise NotImplementedError

    def floor(self, t: datetime) -> datetime:
        t = as_utc(t)
        return t if self._is_tick(t) else self.prev_before(t)

    def ceil(self, t: datetime) -> datetime:
        t = as_utc(t)
        return t if self._is_tick(t) else self.next_after(t)

    def count(self, first: datetime, last: datetime) -> int:
        return sum(1 for _ in self.iter_ticks(first, last))

    def iter_ticks(self, first: datetime, last: datetime) -> Iterator[datetime]:
        t = self.ceil(first)
        while t <= last:
            yield t
            t = self.next_after(t)


@dataclass(frozen=True)
class CronGrid(_SteppedGrid):
    """Any other cron expression in UTC, through croniter (correct, but per-tick cost)."""

    expression: str
    grain: Grain = Grain.CRON
    tz: tzinfo = UTC

    def _is_tick(self, t: datetime) -> bool:
        return t.second == 0 and t.microsecond == 0 and croniter.match(self.expression, t)

    def next_after(self, t: datetime) -> datetime:
        return as_utc(croniter(self.expression, as_utc(t)).get_next(datetime))

    def prev_before(self, t: datetime) -> datetime:
        return as_utc(croniter(self.expression, as_utc(t)).get_prev(datetime))


@dataclass(frozen=True)
class ZonedGrid:
    """A schedule evaluated on the wall clock of ``tz``: ``wall`` computes wall-clock ticks.

    Each wall-clock tick happens at one instant (:func:`.zones.instant_of_wall`); the
    mapping is monotonic, so floor/next search at most a few wall ticks around the
    wall-clock reading of ``t``, and counting ticks is counting wall ticks.
    """

    wall: Grid
    tz: tzinfo

    @property
    def expression(self) -> str:
        return self.wall.expression

    @property
    def grain(self) -> Grain:
        return self.wall.grain

    def _instant(self, wall_tick: datetime) -> datetime:
        return instant_of_wall(wall_tick, self.tz)

    def _wall_tick(self, tick: datetime) -> datetime:
        """The wall tick that happens at instant ``tick`` (a gap-shifted tick reads one gap later)."""
        return self.wall.floor(wall_clock(tick, self.tz))

    def floor(self, t: datetime) -> datetime:
        t = as_utc(t)
        w = self.wall.next_after(wall_clock(t, self.tz))
        while (u := self._instant(w)) > t:
            w = self.wall.prev_before(w)
        return u

    def next_after(self, t: datetime) -> datetime:
        t = as_utc(t)
        w = self.wall.prev_before(self.wall.floor(wall_clock(t, self.tz)))
        while (u := self._instant(w)) <= t:
            w = self.wall.next_after(w)
        return u

    def ceil(self, t: datetime) -> datetime:
        f = self.floor(t)
        return f if f == as_utc(t) else self.next_after(t)

    def prev_before(self, t: datetime) -> datetime:
        return self.floor(as_utc(t) - _TINY)

    def count(self, first: datetime, last: datetime) -> int:
        if last < first:
            return 0
        return self.wall.count(self._wall_tick(first), self._wall_tick(last))

    def iter_ticks(self, first: datetime, last: datetime) -> Iterator[datetime]:
        seen = None
        for w in self.wall.iter_ticks(self._wall_tick(first), self._wall_tick(last)):
            u = self._instant(w)
            if u != seen and first <= u <= last:
                yield u
            seen = u


@dataclass(frozen=True)
class EveryHourCronGrid(_SteppedGrid):
    """An irregular schedule that fires every hour (``0,20 * * * *``) in a zone: Airflow's fold-hour rule.

    Airflow steps such schedules by the wall-clock distance to the next match, added on
    the absolute time line (``CronMixin._get_next``); this grid does the same.
    """

    expression: str
    tz: tzinfo
    grain: Grain = Grain.CRON

    def _is_tick(self, t: datetime) -> bool:
        w = wall_clock(t, self.tz).replace(tzinfo=None)
        return t.second == 0 and t.microsecond == 0 and croniter.match(self.expression, w)

    def next_after(self, t: datetime) -> datetime:
        t = as_utc(t)
        w = wall_clock(t, self.tz).replace(tzinfo=None)
        return t + (croniter(self.expression, w).get_next(datetime) - w)

    def prev_before(self, t: datetime) -> datetime:
        t = as_utc(t)
        w = wall_clock(t, self.tz).replace(tzinfo=None)
        return t - (w - croniter(self.expression, w).get_prev(datetime))


_INT = re.compile(r"^\d+$")
_STEP = re.compile(r"^\*/(\d+)$")


def expression_of(schedule: str) -> str:
    """The cron expression of a schedule string (presets resolved); :class:`ScheduleError` if not cron."""
    expression = CRON_PRESETS.get(schedule.strip(), schedule.strip())
    if expression.startswith("@") or not croniter.is_valid(expression):
        raise ScheduleError(
            f"{schedule!r} is not a cron expression or one of {', '.join(sorted(CRON_PRESETS))}")
    return expression


def _arithmetic_grid(expression: str) -> Grid | None:
    """An arithmetic grid for the regular cron shapes (on a uniform time line), else ``None``."""
    fields = expression.split()
    if len(fields) != 5:
        return None
    m, h, dom, mon, dow = fields
    if _INT.match(m) and h == dom == mon == dow == "*" and int(m) < 60:
        return FixedStepGrid(expression, Grain.HOUR, 3600, int(m) * 60)
    step = _STEP.match(m)
    if step and h == dom == mon == dow == "*" and 60 % int(step.group(1)) == 0:
        return FixedStepGrid(expression, Grain.MINUTE, int(step.group(1)) * 60, 0)
    step = _STEP.match(h)
    if _INT.match(m) and step and dom == mon == dow == "*" and 24 % int(step.group(1)) == 0:
        return FixedStepGrid(expression, Grain.HOUR, int(step.group(1)) * 3600, int(m) * 60)
    if not (_INT.match(m) and _INT.match(h)) or int(m) > 59 or int(h) > 23:
        return None
    time_of_day = int(h) * 3600 + int(m) * 60
    if dom == mon == dow == "*":
        return FixedStepGrid(expression, Grain.DAY, 86400, time_of_day)
    if dom == mon == "*" and _INT.match(dow):
        days = (int(dow) % 7 - 4) % 7  # 1970-01-01 was a Thursday (cron weekday 4); cron allows 7 for Sunday
        return FixedStepGrid(expression, Grain.WEEK, 7 * 86400, days * 86400 + time_of_day)
    if _INT.match(dom) and 1 <= int(dom) <= 28 and dow == "*":
        if mon == "*":
            return MonthlyGrid(expression, Grain.MONTH, 1, 0, int(dom), int(h), int(m))
        step = _STEP.match(mon)
        if step and 12 % int(step.group(1)) == 0:
            grain = Grain.QUARTER if step.group(1) == "3" else Grain.MONTH
            return MonthlyGrid(expression, grain, int(step.group(1)), 0, int(dom), int(h), int(m))
        if _INT.match(mon) and 1 <= int(mon) <= 12:
            return MonthlyGrid(expression, Grain.YEAR, 12, int(mon) - 1, int(dom), int(h), int(m))
    return None


def _fires_every_hour(expression: str) -> bool:
    """Airflow's test for its fold-hour rule (``_covers_every_hour``): the hour field expands to ``*``."""
    return croniter(expression).expanded[1] == ["*"]


def _zone_shift(tz: tzinfo, step: int) -> int:
    """Seconds to add to a UTC grid's offset so its ticks fall on the zone's wall-clock minutes."""
    offset = datetime(2026, 1, 1, tzinfo=UTC).astimezone(tz).utcoffset() or timedelta()
    return -int(offset.total_seconds()) % step


@lru_cache(maxsize=4096)
def grid_for(schedule: str, timezone: str = "UTC") -> Grid:
    """The grid of a cron expression or Airflow preset, evaluated in IANA zone ``timezone``.

    Raises :class:`ScheduleError` for strings that are not cron. Cached: grids are immutable.
    """
    expression = expression_of(schedule)
    tz = zone(timezone)
    wall = _arithmetic_grid(expression)
    if tz is UTC:
        return wall or CronGrid(expression)
    if _fires_every_hour(expression):
        if isinstance(wall, FixedStepGrid):  # absolute time line, shifted to the zone's minutes
            return FixedStepGrid(expression, wall.grain, wall.step, (wall.offset + _zone_shift(tz, wall.step)) % wall.step, tz)
        return EveryHourCronGrid(expression, tz)
    return ZonedGrid(wall or CronGrid(expression), tz)


def validate_schedule(schedule: str, timezone: str = "UTC") -> str | None:
    """An error message for a schedule the mesh cannot use (not cron, or never fires), else ``None``."""
    try:
        grid = grid_for(schedule, timezone)
        grid.next_after(datetime(2000, 1, 1, tzinfo=UTC))
    except ScheduleError as err:
        return str(err)
    except CroniterBadDateError:
        return (f"{schedule!r} never fires (no date matches it, e.g. the 31st of February); "
                "a table needs a schedule that produces periods")
    return None
