"""The request bound on range x schedule density (issue #12: a 5-year plan on an irregular cron took 26 s)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from airflow_mesh.backfill.bounds import (
    RangeTooDense,
    check_density,
    estimated_cron_ticks,
)
from airflow_mesh.core.intervals import Period

BUSINESS_HOURS = "0 9-17 * * 1-5"   # 45 ticks a week, walked tick by tick
FIVE_YEARS = Period(datetime(2021, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))


def test_irregular_schedules_are_estimated_from_a_sample_and_arithmetic_ones_cost_nothing() -> None:
    week = Period(datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 12, tzinfo=UTC))
    assert estimated_cron_ticks(BUSINESS_HOURS, week) == 45
    assert 11_000 < estimated_cron_ticks(BUSINESS_HOURS, FIVE_YEARS) < 12_500   # 45 x 261 weeks = 11,745
    assert estimated_cron_ticks("@hourly", FIVE_YEARS) == 0


def test_a_dense_long_range_is_refused_naming_the_limit_and_a_short_one_passes(monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW__MESH__BACKFILL_MAX_SCHEDULE_TICKS", "10000")
    with pytest.raises(RangeTooDense, match=r"more than \[mesh\] backfill_max_schedule_ticks = 10,000. Fix: shorten"):
        check_density({BUSINESS_HOURS, "@daily"}, FIVE_YEARS)
    check_density({BUSINESS_HOURS, "@daily"}, Period(datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 6, 1, tzinfo=UTC)))
