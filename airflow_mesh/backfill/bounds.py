"""Bound what one plan request may make the server compute: range x schedule density.

Arithmetic schedules (fixed steps, months) count runs in O(1); any other cron expression is walked
tick by tick (croniter), so a long range on a dense, irregular schedule costs seconds per request.
Before planning, the ticks every irregular schedule of the mesh would have in the range are
estimated from a short sample; above ``[mesh] backfill_max_schedule_ticks`` the request is refused
(422) with the limit, before any work. A thin guard of the backfill side: the planner itself is unchanged.
"""

from __future__ import annotations

from datetime import timedelta

from airflow_mesh.core.intervals import CronGrid, Period, grid_for
from airflow_mesh.settings import setting

SAMPLE = timedelta(days=7)
SAMPLE_TICKS = 5_000


class RangeTooDense(ValueError):
    """The request would walk too many schedule ticks."""


def max_schedule_ticks() -> int:
    return setting("backfill_max_schedule_ticks")


def estimated_cron_ticks(schedule: str, period: Period) -> int:
    """Ticks of an irregular schedule in ``period``, from at most SAMPLE_TICKS ticks of its first week."""
    grid = grid_for(schedule)
    if not isinstance(grid, CronGrid):
        return 0
    end = min(period.end, period.start + SAMPLE)
    n, t = 0, grid.ceil(period.start)
    while t < end and n < SAMPLE_TICKS:
        n, t = n + 1, grid.next_after(t)
    sampled = (min(t, end) - period.start).total_seconds() or 1.0
    return int(n * (period.end - period.start).total_seconds() / sampled)


def check_density(schedules: set[str], period: Period) -> None:
    limit = max_schedule_ticks()
    total = sum(estimated_cron_ticks(s, period) for s in sorted(schedules))
    if total > limit:
        raise RangeTooDense(
            f"the range {period} spans about {total:,} ticks of schedules that must be walked tick by tick, more "
            f"than [mesh] backfill_max_schedule_ticks = {limit:,}. Fix: shorten the range (or split it)")
