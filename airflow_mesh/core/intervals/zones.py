"""Instants and wall clocks: the one place the interval model converts between UTC and a time zone.

Every datetime the model hands out is an aware UTC instant. A schedule is evaluated on
the wall clock of its table's zone (``mesh.timezone``); converting a wall-clock tick back
to an instant follows Airflow's own rule (``airflow._shared.timezones.timezone.make_aware``):
a wall time that happens twice (the autumn fold) is the *second* occurrence, and one that
does not exist (the spring gap) is shifted forward by the gap (02:30 -> 03:30).
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo  # noqa: F401  (UTC is re-exported)
from functools import lru_cache
from zoneinfo import ZoneInfo

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def as_utc(value: datetime) -> datetime:
    """Return ``value`` as a plain aware UTC ``datetime``; naive values are taken as UTC.

    Subclasses (pendulum's ``DateTime``, which Airflow hands to tasks) become plain
    datetimes: their arithmetic and comparisons differ subtly from the standard library's.
    """
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if type(value) is not datetime:
        value = datetime(value.year, value.month, value.day, value.hour, value.minute, value.second,
                         value.microsecond, tzinfo=UTC)
    return value


def iso(value: datetime) -> str:
    """Short ISO form used in messages: minutes precision, UTC implied."""
    return as_utc(value).strftime("%Y-%m-%dT%H:%M")


@lru_cache(maxsize=256)
def zone(name: str) -> tzinfo:
    """The ``tzinfo`` of an IANA name (``UTC`` is the fixed UTC zone, so UTC grids skip all conversion)."""
    return UTC if name in ("UTC", "Etc/UTC", "utc") else ZoneInfo(name)


def wall_clock(instant: datetime, tz: tzinfo) -> datetime:
    """The wall-clock reading of ``instant`` in ``tz``, held as a UTC-tagged datetime.

    Tagging the wall clock as UTC lets the arithmetic grids (which work on a uniform
    time line) compute local ticks without knowing about zones.
    """
    return as_utc(instant).astimezone(tz).replace(tzinfo=UTC, fold=0)


def instant_of_wall(wall: datetime, tz: tzinfo) -> datetime:
    """The instant a wall-clock tick in ``tz`` happens, exactly as Airflow's ``make_aware`` decides."""
    naive = wall.replace(tzinfo=None)
    second = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if second.astimezone(tz).replace(tzinfo=None) == naive:
        return second  # exists (once, or twice: fold=1 is the second occurrence)
    # In the spring gap: fold=0 takes the offset before the transition, i.e. the wall time shifted forward.
    return naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
