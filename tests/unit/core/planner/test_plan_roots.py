"""The planner's issue #11 cases: a root downstream of another root, waves after inputs, time zones."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from conftest import write_mesh

from airflow_mesh.core.intervals import UTC, Period
from airflow_mesh.core.planner import plan_backfill
from airflow_mesh.core.registry.loader import load_mesh

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def d(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_root_downstream_of_a_root_also_reruns_what_its_inputs_rerun(tmp_path: Path) -> None:
    """t0 @hourly -> t1 @weekly -> t2 @daily, roots t0 and t2, one hour of 2025-03-05."""
    mesh = load_mesh(write_mesh(tmp_path, {"t0": ("hourly", []), "t1": ("weekly", ["t0"]), "t2": ("daily", ["t1"])}))
    plan = plan_backfill(mesh, ["db.t0", "db.t2"], Period(d(2025, 3, 5, 7), d(2025, 3, 5, 8)), now=NOW)
    assert [(r.first, r.last) for r in plan.dags["dag_t1"].ranges] == [(d(2025, 3, 9), d(2025, 3, 9))]  # week 03-02..03-09
    # t2 re-runs every day of that week (it reads t1), not only the requested 03-05.
    t2 = plan.dags["dag_t2"]
    assert [(r.first, r.last, r.count) for r in t2.ranges] == [(d(2025, 3, 3), d(2025, 3, 9), 7)]
    assert t2.reads == ["db.t1"] and t2.is_root
    assert plan.waves == [["dag_t0"], ["dag_t1"], ["dag_t2"]]
    assert plan.runs == 1 + 1 + 7


def test_root_range_and_inputs_are_united(tmp_path: Path) -> None:
    """A root's affected time is the requested range *and* what its inputs re-run, even when disjoint."""
    mesh = load_mesh(write_mesh(tmp_path, {"t0": ("daily", []), "t2": ("daily", ["t0"])}))
    # Roots t0 for Mar 5 only; t2 for Mar 5 via t0, plus nothing else: one run each.
    plan = plan_backfill(mesh, ["db.t0", "db.t2"], Period(d(2025, 3, 5), d(2025, 3, 6)), now=NOW)
    assert plan.dags["dag_t2"].runs == 1 and plan.waves == [["dag_t0"], ["dag_t2"]]


def test_runs_are_counted_once(tmp_path: Path) -> None:
    mesh = load_mesh(write_mesh(tmp_path, {"t0": ("hourly", []), "t1": ("daily", ["t0"])}))
    plan = plan_backfill(mesh, ["db.t0"], Period(d(2025, 3, 1), d(2025, 4, 1)), now=NOW)
    assert plan.runs == 31 * 24 + 31 and plan.dags["dag_t0"].runs == 744


def write_zoned(root: Path) -> Path:
    """An hourly UTC producer and a daily Amsterdam consumer."""
    write_mesh(root, {"hourly": ("hourly", []), "daily_ams": ("daily", ["hourly"])})
    sql = root / "ddl" / "data" / "daily_ams.sql"
    sql.write_text(sql.read_text().replace("'mesh.schedule' = '@daily',",
                                           "'mesh.schedule' = '@daily',\n  'mesh.timezone' = 'Europe/Amsterdam',"))
    return root


def test_utc_hour_replans_the_amsterdam_day_it_belongs_to(tmp_path: Path) -> None:
    mesh = load_mesh(write_zoned(tmp_path))
    assert mesh.tables["db.daily_ams"].timezone == "Europe/Amsterdam"
    # 22:30Z on 28 March is 23:30 local 28 March; 23:30Z is 00:30 local 29 March (the 23-hour day).
    plan = plan_backfill(mesh, ["db.hourly"], Period(d(2026, 3, 28, 22), d(2026, 3, 29, 0)), now=NOW)
    ranges = plan.dags["dag_daily_ams"].ranges
    assert [(r.first, r.last, r.count) for r in ranges] == [(d(2026, 3, 28, 23), d(2026, 3, 29, 22), 2)]
    assert ranges[0].period == Period(d(2026, 3, 27, 23), d(2026, 3, 29, 22))
