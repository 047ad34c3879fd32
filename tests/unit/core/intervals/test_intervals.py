"""The interval model: grids agree with croniter, and the period rules the mesh documents hold."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from croniter import croniter

from airflow_mesh.core.intervals import (
    UTC,
    CronGrid,
    FixedStepGrid,
    IntervalSet,
    MonthlyGrid,
    Period,
    ScheduleError,
    grid_for,
    period_of_run,
    run_ranges,
    runs_overlapping,
    widen_to_runs,
)


def d(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


SCHEDULES = [
    "@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly",
    "30 2 * * *", "15 * * * *", "*/15 * * * *", "5 */6 * * *", "0 6 * * 1", "0 3 7 * *",
    "0 0 1 7 *", "0 9 * * 1-5", "0 0 31 * *",
]


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_grid_matches_croniter_at_random_instants(schedule: str) -> None:
    grid = grid_for(schedule)
    reference = CronGrid(grid.expression)
    rng = random.Random(schedule)
    for _ in range(200):
        t = d(2020, 1, 1) + timedelta(minutes=rng.randrange(0, 60 * 24 * 365 * 8))
        assert grid.floor(t) == reference.floor(t), t
        assert grid.ceil(t) == reference.ceil(t), t
        assert grid.next_after(t) == reference.next_after(t), t
        assert grid.prev_before(t) == reference.prev_before(t), t
    first = grid.ceil(d(2024, 2, 20))
    last = grid.floor(d(2024, 5, 3, 7))
    assert grid.count(first, last) == sum(1 for _ in reference.iter_ticks(first, last))
    assert list(grid.iter_ticks(first, last)) == list(reference.iter_ticks(first, last))


def test_regular_shapes_get_arithmetic_grids() -> None:
    assert isinstance(grid_for("@hourly"), FixedStepGrid)
    assert isinstance(grid_for("30 2 * * *"), FixedStepGrid)
    assert isinstance(grid_for("@weekly"), FixedStepGrid)
    assert isinstance(grid_for("@monthly"), MonthlyGrid)
    assert isinstance(grid_for("0 9 * * 1-5"), CronGrid)
    assert grid_for("@daily").grain == "day"


@pytest.mark.parametrize("bad", ["@once", "every day", "61 * * * *", "", "@continuous"])
def test_bad_schedule_is_rejected(bad: str) -> None:
    with pytest.raises(ScheduleError):
        grid_for(bad)


def test_run_covers_previous_tick_to_its_tick() -> None:
    assert period_of_run(grid_for("@hourly"), d(2026, 11, 1, 4)) == Period(d(2026, 11, 1, 3), d(2026, 11, 1, 4))
    assert period_of_run(grid_for("@daily"), d(2026, 11, 2)) == Period(d(2026, 11, 1), d(2026, 11, 2))
    assert period_of_run(grid_for("@monthly"), d(2026, 3, 1)) == Period(d(2026, 2, 1), d(2026, 3, 1))
    # A manual run off the grid covers the last complete period before it.
    assert period_of_run(grid_for("@daily"), d(2026, 11, 2, 10, 17)) == Period(d(2026, 11, 1), d(2026, 11, 2))


def test_daily_consumer_needs_all_24_hourly_runs() -> None:
    runs = runs_overlapping(grid_for("@hourly"), Period(d(2026, 11, 1), d(2026, 11, 2)))
    assert runs is not None and runs.count == 24
    ticks = list(runs.ticks())
    assert ticks[0] == d(2026, 11, 1, 1) and ticks[-1] == d(2026, 11, 2)


def test_hourly_consumer_needs_the_covering_daily_run() -> None:
    runs = runs_overlapping(grid_for("@daily"), Period(d(2026, 11, 1, 3), d(2026, 11, 1, 4)))
    assert runs is not None and list(runs.ticks()) == [d(2026, 11, 2)]


def test_monthly_consumer_counts_days_of_the_month() -> None:
    for month, days in [(2, 28), (4, 30), (1, 31)]:
        p = Period(d(2026, month, 1), d(2026, month + 1, 1))
        assert runs_overlapping(grid_for("@daily"), p).count == days
    p = Period(d(2026, 1, 1), d(2026, 2, 1))
    assert runs_overlapping(grid_for("@hourly"), p).count == 31 * 24


def test_offset_cron_against_daily_period() -> None:
    # Daily at 02:30 covers [02:30 day-1, 02:30 day); the midnight day overlaps two of them.
    runs = runs_overlapping(grid_for("30 2 * * *"), Period(d(2026, 11, 1), d(2026, 11, 2)))
    assert list(runs.ticks()) == [d(2026, 11, 1, 2, 30), d(2026, 11, 2, 2, 30)]


def test_weekly_consumer_of_daily_producer() -> None:
    weekly = grid_for("@weekly")  # Sundays 00:00
    week = period_of_run(weekly, d(2026, 11, 22))
    assert week == Period(d(2026, 11, 15), d(2026, 11, 22))
    assert runs_overlapping(grid_for("@daily"), week).count == 7


def test_interval_set_merges_and_snaps() -> None:
    s = IntervalSet.of([
        Period(d(2026, 1, 1, 3), d(2026, 1, 1, 5)),
        Period(d(2026, 1, 1, 4), d(2026, 1, 1, 6)),
        Period(d(2026, 1, 3), d(2026, 1, 3, 1)),
    ])
    assert s.periods == (Period(d(2026, 1, 1, 3), d(2026, 1, 1, 6)), Period(d(2026, 1, 3), d(2026, 1, 3, 1)))
    daily = widen_to_runs(grid_for("@daily"), s)
    assert daily.periods == (Period(d(2026, 1, 1), d(2026, 1, 2)), Period(d(2026, 1, 3), d(2026, 1, 4)))
    monthly = widen_to_runs(grid_for("@monthly"), daily)
    assert monthly.periods == (Period(d(2026, 1, 1), d(2026, 2, 1)),)
    ranges = run_ranges(grid_for("@daily"), daily)
    assert [(r.first, r.last, r.count) for r in ranges] == [
        (d(2026, 1, 2), d(2026, 1, 2), 1), (d(2026, 1, 4), d(2026, 1, 4), 1)]


def test_year_of_hourly_runs_is_one_range() -> None:
    year = IntervalSet.of([Period(d(2025, 1, 1), d(2026, 1, 1))])
    ranges = run_ranges(grid_for("@hourly"), year)
    assert len(ranges) == 1 and ranges[0].count == 8760


def test_croniter_agrees_with_preset_expansion() -> None:
    # Guards CRON_PRESETS against drifting from what croniter (and Airflow) run.
    t = d(2026, 5, 17, 13, 7)
    for preset in ["@hourly", "@daily", "@weekly", "@monthly"]:
        assert grid_for(preset).next_after(t) == croniter(grid_for(preset).expression, t).get_next(datetime)


def test_grain_is_an_enum_naming_partitions() -> None:
    from airflow_mesh.core.intervals import Grain

    assert grid_for("@hourly").grain is Grain.HOUR and grid_for("0 9 * * 1-5").grain is Grain.CRON
    assert Grain.MONTH.partition_format == "%Y-%m"


def test_schedule_that_never_fires_is_invalid() -> None:
    from airflow_mesh.core.intervals import validate_schedule

    assert "never fires" in validate_schedule("0 0 31 2 *")
    assert validate_schedule("0 0 29 2 *") is None  # leap days exist
    assert validate_schedule("@daily", "Asia/Kolkata") is None


def test_wall_clock_ticks_follow_airflows_gap_and_fold_rule() -> None:
    from airflow_mesh.core.intervals import instant_of_wall, zone

    ams = zone("Europe/Amsterdam")
    assert instant_of_wall(d(2026, 3, 29, 2, 30), ams) == d(2026, 3, 29, 1, 30)  # gap: shifted to 03:30 CEST
    assert instant_of_wall(d(2026, 10, 25, 2, 30), ams) == d(2026, 10, 25, 1, 30)  # fold: second 02:30 (CET)
    assert instant_of_wall(d(2026, 7, 1, 2, 30), ams) == d(2026, 7, 1, 0, 30)


def test_partition_is_named_in_the_tables_zone() -> None:
    from airflow_mesh.core.intervals import partition_value

    grid = grid_for("@daily", "Europe/Amsterdam")
    # The run at local midnight 11 March covers local 10 March, which starts at 09 March 23:00Z.
    assert partition_value(grid, period_of_run(grid, d(2026, 3, 10, 23))) == "2026-03-10"
    kolkata = grid_for("@hourly", "Asia/Kolkata")
    assert kolkata.floor(d(2026, 3, 10, 12, 45)) == d(2026, 3, 10, 12, 30)  # local minute 0 is UTC minute 30
    assert partition_value(kolkata, period_of_run(kolkata, d(2026, 3, 10, 12, 30))) == "2026-03-10T17"


def test_pendulum_like_subclasses_become_plain_datetimes() -> None:
    from airflow_mesh.core.intervals import as_utc

    class Sub(datetime):
        pass

    value = as_utc(Sub(2026, 3, 1, 5, tzinfo=UTC))
    assert type(value) is datetime and value == d(2026, 3, 1, 5)
