"""Periods and sets of periods: time held as merged half-open ranges, never as one object per run."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from airflow_mesh.core.intervals.zones import iso


@dataclass(frozen=True, order=True)
class Period:
    """A half-open time range ``[start, end)`` of aware UTC instants."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"period ends before it starts: {self.start} > {self.end}")

    def overlaps(self, other: Period) -> bool:
        return self.start < other.end and other.start < self.end

    def __str__(self) -> str:
        return f"[{iso(self.start)}, {iso(self.end)})"


def merge_sorted(periods: Iterable[Period]) -> tuple[Period, ...]:
    """Merge periods that are already sorted by start (linear time); empty periods are dropped."""
    merged: list[Period] = []
    for p in periods:
        if p.end <= p.start:
            continue
        if merged and p.start <= merged[-1].end:
            if p.end > merged[-1].end:
                merged[-1] = Period(merged[-1].start, p.end)
        else:
            merged.append(p)
    return tuple(merged)


@dataclass(frozen=True)
class IntervalSet:
    """Disjoint, sorted, merged half-open periods: a set of time held as ranges."""

    periods: tuple[Period, ...] = ()

    @classmethod
    def of(cls, periods: Iterable[Period]) -> IntervalSet:
        return cls(merge_sorted(sorted(periods)))

    @classmethod
    def union_of(cls, sets: Iterable[IntervalSet]) -> IntervalSet:
        """Union of several sets: a k-way merge of already sorted runs, no re-sorting of each set."""
        # Readers of one re-run input share its set object: drop repeats by identity first (no hashing).
        unique = list({id(s): s for s in sets if s.periods}.values())
        if len(unique) <= 1:
            return unique[0] if unique else cls()
        sets = unique
        from heapq import merge

        return cls(merge_sorted(merge(*(s.periods for s in sets))))

    def __bool__(self) -> bool:
        return bool(self.periods)

    def union(self, other: IntervalSet) -> IntervalSet:
        return IntervalSet.union_of((self, other))

    def clip(self, bounds: Period) -> IntervalSet:
        """Only the parts of this set inside ``bounds``."""
        out = []
        for p in self.periods:
            start, end = max(p.start, bounds.start), min(p.end, bounds.end)
            if start < end:
                out.append(Period(start, end))
        return IntervalSet(tuple(out))

    @property
    def total(self) -> timedelta:
        return sum((p.end - p.start for p in self.periods), timedelta())
