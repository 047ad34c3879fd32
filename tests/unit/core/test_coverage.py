"""The sensor's pure logic: which producer runs (by logical date) a consumer period needs, in any zone
and for either timetable kind; and how their states are judged."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from conftest import write_mesh

from airflow_mesh.core.coverage import evaluate, requirements_for
from airflow_mesh.core.intervals import UTC, Period
from airflow_mesh.core.registry.loader import load_mesh


def d(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def mesh_with(tmp_path: Path, extra: str):
    write_mesh(tmp_path, {"src": ("daily", [])})
    sql = tmp_path / "ddl" / "data" / "src.sql"
    sql.write_text(sql.read_text().replace("'mesh.schedule' = '@daily',", f"'mesh.schedule' = '@daily',\n  {extra},"))
    return load_mesh(tmp_path)


def test_data_interval_producer_is_asked_for_interval_start_logical_dates(tmp_path: Path) -> None:
    mesh = mesh_with(tmp_path, "'mesh.timetable' = 'data_interval'")
    [req] = requirements_for(mesh, ["db.src"], Period(d(2026, 4, 5), d(2026, 4, 7)))
    assert req.logical_dates() == [d(2026, 4, 5), d(2026, 4, 6)] and req.expected == 2


def test_trigger_producer_is_asked_for_period_end_logical_dates(tmp_path: Path) -> None:
    mesh = mesh_with(tmp_path, "'mesh.timetable' = 'trigger'")
    [req] = requirements_for(mesh, ["db.src"], Period(d(2026, 4, 5), d(2026, 4, 7)))
    assert req.logical_dates() == [d(2026, 4, 6), d(2026, 4, 7)]


def test_amsterdam_producer_days_overlapping_a_utc_day(tmp_path: Path) -> None:
    mesh = mesh_with(tmp_path, "'mesh.timezone' = 'Europe/Amsterdam'")
    # The UTC day 29 March overlaps the Amsterdam days 29 March (ends 22:00Z) and 30 March.
    [req] = requirements_for(mesh, ["db.src"], Period(d(2026, 3, 29), d(2026, 3, 30)))
    assert req.logical_dates() == [d(2026, 3, 29, 22), d(2026, 3, 30, 22)]
    round_trip = type(req).from_json(req.to_json())
    assert round_trip == req and round_trip.timezone == "Europe/Amsterdam"


def test_evaluate_counts_the_runs_of_a_23_hour_day(tmp_path: Path) -> None:
    write_mesh(tmp_path, {"hourly": ("hourly", [])})
    mesh = load_mesh(tmp_path)
    local_day = Period(d(2026, 3, 28, 23), d(2026, 3, 29, 22))  # Amsterdam 29 March
    [req] = requirements_for(mesh, ["db.hourly"], local_day)
    dates = req.logical_dates()
    assert len(dates) == 23 and dates[0] == d(2026, 3, 29) and dates[-1] == d(2026, 3, 29, 22)

    def fetch(dag_id, task_id, logical_dates):
        return {f"scheduled__{ld.isoformat()}": {task_id: "success"} for ld in logical_dates if ld != dates[-1]}

    status, message, _ = evaluate([req], fetch)
    assert status == "waiting" and "1 of 23 hourly runs of dag_hourly.build not done" in message
    status, _, _ = evaluate([req], lambda dag, task, lds: {f"r{i}": {task: "success"} for i, _ in enumerate(lds)})
    assert status == "success"
