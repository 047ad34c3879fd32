"""The backfill planner's pure core on the example mesh: runs mapped across schedules, waves, cuts."""

from __future__ import annotations

from datetime import datetime

from conftest import EXAMPLE_ROOT

from airflow_mesh.core.intervals import UTC, Period
from airflow_mesh.core.planner import plan_backfill
from airflow_mesh.core.registry import load_mesh

NOW = datetime(2026, 11, 23, 19, 0, tzinfo=UTC)


def d(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_week_of_hourly_transactions_maps_to_every_downstream_schedule() -> None:
    mesh = load_mesh(EXAMPLE_ROOT)
    plan = plan_backfill(mesh, ["payments.transactions"], Period(d(2026, 11, 2), d(2026, 11, 9)), now=NOW)
    runs = {dag: p.runs for dag, p in plan.dags.items()}
    assert runs["payments_hourly"] == 168 and plan.dags["payments_hourly"].tasks == ["load_transactions"]
    assert runs["bi_hourly"] == 168
    assert runs["payments_daily"] == 7 and plan.dags["payments_daily"].tasks == ["build_settlements"]
    assert runs["risk_daily"] == 7 and runs["bi_daily"] == 7
    assert runs["risk_merchant"] == 8  # 02:30-aligned days overlapping 7 midnight-aligned days
    first = plan.dags["payments_daily"].ranges[0]
    assert (first.first, first.last) == (d(2026, 11, 3), d(2026, 11, 9))
    # Nov 1 2026 is a Sunday: weeks ending Nov 8 and Nov 15 overlap Nov 2-8.
    assert runs["risk_weekly"] == 2 and runs["bi_weekly"] == 2
    # November's monthly runs happen on Dec 1, in the future: left out, and said so.
    assert "bi_monthly" not in plan.dags
    assert ("bi.transactions_monthly: 1 run(s) covering [2026-11-01T00:00, 2026-12-01T00:00) left out: their periods "
            "end after now (2026-11-23T19:00), in the future") in plan.left_out
    assert "authentication_hourly" not in plan.dags
    waves = plan.waves
    pos = {dag: i for i, wave in enumerate(waves) for dag in wave}
    assert pos["payments_hourly"] == 0
    assert pos["payments_hourly"] < pos["payments_daily"] < pos["bi_daily"] < pos["bi_weekly"]
    assert pos["risk_daily"] < pos["risk_merchant"]
    assert plan.runs_by_team()["payments"] == 175


def test_monthly_downstream_and_start_date_cut() -> None:
    mesh = load_mesh(EXAMPLE_ROOT)
    plan = plan_backfill(mesh, ["payments.transactions"], Period(d(2025, 12, 30), d(2026, 1, 3)), now=NOW)
    assert plan.dags["payments_hourly"].runs == 48  # Jan 1 and 2 only: no data before Jan 1 2026
    assert ("payments.transactions: 48 run(s) covering [2025-12-30T00:00, 2026-01-01T00:00) left out: no data "
            "before its start date 2026-01-01T00:00") in plan.left_out
    # The 02:30 run covering [Dec 31 02:30, Jan 1 02:30) straddles the start date: cut, and said so exactly.
    assert ("risk.merchant_risk: 1 run(s) covering [2025-12-31T02:30, 2026-01-01T02:30) left out: no data before "
            "its start date 2026-01-01T00:00") in plan.left_out
    assert plan.dags["risk_merchant"].ranges[0].first == d(2026, 1, 2, 2, 30)
    monthly = plan.dags["bi_monthly"]
    assert monthly.tasks == ["build_revenue_monthly", "count_transactions_monthly"]
    assert [(r.first, r.count) for r in monthly.ranges] == [(d(2026, 2, 1), 1)]


def test_options_no_downstream_depth_and_stop_at_team() -> None:
    mesh = load_mesh(EXAMPLE_ROOT)
    week = Period(d(2026, 11, 2), d(2026, 11, 9))
    only = plan_backfill(mesh, ["payments.transactions"], week, now=NOW, downstream=False)
    assert list(only.dags) == ["payments_hourly"]
    one = plan_backfill(mesh, ["payments.transactions"], week, now=NOW, depth=1)
    assert set(one.dags) == {"payments_hourly", "payments_daily", "risk_daily", "bi_hourly"}
    no_bi = plan_backfill(mesh, ["payments.transactions"], week, now=NOW, stop_at_teams=frozenset({"business-intelligence"}))
    assert not any(p.team == "business-intelligence" for p in no_bi.dags.values())
    assert any("team business-intelligence excluded" in x for x in no_bi.left_out)


def test_cli_backfill_plan_prints_waves_and_cuts_and_rejects_a_bad_range() -> None:
    import subprocess
    import sys

    base = [sys.executable, "-m", "airflow_mesh.cli", "backfill", "plan", "payments.transactions", "--root", str(EXAMPLE_ROOT),
            "--now", NOW.isoformat()]
    ok = subprocess.run(base + ["--start", "2026-11-02", "--end", "2026-11-09"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "wave 0:" in ok.stdout and "payments_hourly" in ok.stdout
    assert "risk_merchant" in ok.stdout and "8 runs" in ok.stdout
    assert "left out: bi.revenue_monthly" in ok.stdout
    bad = subprocess.run(base + ["--start", "2026-11-09", "--end", "2026-11-02"], capture_output=True, text=True)
    assert bad.returncode == 2 and "is not after start 2026-11-09" in bad.stderr  # the API's own validation
    assert "pydantic.dev" not in bad.stderr  # one line a person can act on, no validator dump
    typo = subprocess.run(base + ["--start", "yesterday", "--end", "2026-11-02"], capture_output=True, text=True)
    assert typo.returncode == 2 and "'yesterday' is not an ISO date" in typo.stderr
