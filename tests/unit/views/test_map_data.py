"""The map's latest run says which data it covers: the period, from the table's schedule and timetable."""

from __future__ import annotations

from airflow_mesh.views.map_data import with_period


def test_an_hourly_trigger_run_covers_the_hour_before_its_logical_date() -> None:
    latest = {"state": "success", "logical_date": "2026-11-01T05:00:00+00:00", "run_id": "r"}
    assert with_period(latest, "@hourly", "trigger") == {
        **latest, "period_start": "2026-11-01T04:00", "period_end": "2026-11-01T05:00"}


def test_a_data_interval_run_covers_the_period_its_logical_date_starts() -> None:
    latest = {"state": "success", "logical_date": "2026-11-02T00:00:00+00:00", "run_id": "r"}
    assert with_period(latest, "@daily", "data_interval") == {
        **latest, "period_start": "2026-11-02T00:00", "period_end": "2026-11-03T00:00"}


def test_no_run_or_no_logical_date_has_no_period() -> None:
    assert with_period(None, "@daily", "trigger") is None
    manual = {"state": "running", "logical_date": None, "run_id": "manual"}
    assert with_period(manual, "@daily", "trigger") == manual
