"""The planner across every pair of schedules, checked against a brute-force croniter oracle, and
fan-in/fan-out chains. Pure: no Airflow."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import product
from pathlib import Path

import pytest
from conftest import write_mesh
from croniter import croniter

from airflow_mesh.core.intervals import UTC, Period
from airflow_mesh.core.planner import plan_backfill
from airflow_mesh.core.registry.loader import load_mesh

SCHEDULES = {"hourly": "0 * * * *", "daily": "0 0 * * *", "weekly": "0 0 * * 0", "monthly": "0 0 1 * *",
             "offset": "30 2 * * *"}
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def ticks(cron: str, start: datetime, end: datetime) -> list[datetime]:
    """Every tick in [start, end], by croniter alone (the oracle shares no code with the planner)."""
    it = croniter(cron, start - timedelta(seconds=1))
    out = []
    while (t := it.get_next(datetime)) <= end:
        out.append(t)
    return out


def oracle_runs(up: str, down: str, period: Period) -> list[datetime]:
    """Downstream runs whose period [prev tick, tick) overlaps an upstream run period that overlaps ``period``."""
    lo, hi = period.start - timedelta(days=70), period.end + timedelta(days=70)
    up_ticks = ticks(SCHEDULES[up], lo, hi)
    up_periods = [(a, b) for a, b in zip(up_ticks, up_ticks[1:], strict=False) if b > period.start and a < period.end]
    down_ticks = ticks(SCHEDULES[down], lo, hi)
    return [b for a, b in zip(down_ticks, down_ticks[1:], strict=False)
            if any(b > s and a < e for s, e in up_periods) and b <= NOW]


@pytest.mark.parametrize("up,down", list(product(SCHEDULES, SCHEDULES)))
def test_each_schedule_pair_matches_the_oracle(tmp_path: Path, up: str, down: str) -> None:
    mesh = load_mesh(write_mesh(tmp_path, {"up": (up, []), "down": (down, ["up"])}))
    period = Period(datetime(2026, 3, 4, 5, tzinfo=UTC), datetime(2026, 3, 11, 17, tzinfo=UTC))  # ragged edges
    plan = plan_backfill(mesh, ["db.up"], period, now=NOW)
    got = [t for r in plan.dags["dag_down"].ranges for t in r.ticks()]
    assert got == oracle_runs(up, down, period)
    up_got = [t for r in plan.dags["dag_up"].ranges for t in r.ticks()]
    assert up_got == [b for b in ticks(SCHEDULES[up], period.start - timedelta(days=40), period.end + timedelta(days=40))
                      if b > period.start and croniter(SCHEDULES[up], b).get_prev(datetime) < period.end]


def test_fan_out_and_fan_in_chain_orders_waves_and_unions_ranges(tmp_path: Path) -> None:
    mesh = load_mesh(write_mesh(tmp_path, {
        "events": ("hourly", []),
        "daily_totals": ("daily", ["events"]),          # fan-out from events
        "hourly_clean": ("hourly", ["events"]),
        "weekly_report": ("weekly", ["daily_totals", "hourly_clean"]),   # fan-in
        "monthly_report": ("monthly", ["weekly_report"]),
        "unrelated": ("daily", []),
    }))
    plan = plan_backfill(mesh, ["db.events"], Period(datetime(2026, 3, 31, 22, tzinfo=UTC), datetime(2026, 4, 1, 2, tzinfo=UTC)), now=NOW)
    waves = plan.waves
    assert waves == [["dag_events"], ["dag_daily_totals", "dag_hourly_clean"], ["dag_weekly_report"], ["dag_monthly_report"]]
    assert plan.dags["dag_events"].runs == 4 and plan.dags["dag_hourly_clean"].runs == 4
    assert plan.dags["dag_daily_totals"].runs == 2                 # Mar 31 and Apr 1 (ticks Apr 1, Apr 2)
    assert plan.dags["dag_weekly_report"].runs == 1                # week Mar 29 - Apr 4 (tick Apr 5)
    assert [t.date().isoformat() for r in plan.dags["dag_monthly_report"].ranges for t in r.ticks()] == ["2026-04-01", "2026-05-01"]
    assert plan.dags["dag_weekly_report"].reads == ["db.daily_totals", "db.hourly_clean"]
    assert "dag_unrelated" not in plan.dags
