"""The backfill JSON API through Airflow's real API server app, as users with different rights.
Dates in August 2026 belong to this module."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.usefixtures("airflow_db")

WEEK = {"roots": ["payments.transactions"], "start": "2026-08-03", "end": "2026-08-10"}


@pytest.fixture(scope="module")
def client():
    from fastapi.testclient import TestClient

    from airflow.api_fastapi.app import create_app

    return TestClient(create_app())


def bearer(role: str) -> dict[str, str]:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    token = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username=f"{role}-1", role=role))
    return {"Authorization": f"Bearer {token}"}


def test_dry_run_maps_a_week_of_hourly_data_to_every_downstream_dag(client) -> None:
    r = client.post("/mesh/api/backfills/plan", json=WEEK, headers=bearer("viewer"))
    assert r.status_code == 200, r.text
    plan = r.json()
    dags = plan["dags"]
    assert dags["payments_hourly"]["runs"] == 168 and dags["payments_hourly"]["wave"] == 0
    assert dags["payments_daily"]["runs"] == 7 and dags["risk_weekly"]["runs"] == 2
    assert dags["risk_daily"]["tasks"] == ["score_fraud", "wait_transactions"]
    assert dags["payments_daily"]["to_create"] + dags["payments_daily"]["to_clear"] == 7
    assert {"from": "payments_hourly", "to": "risk_daily", "table": "payments.transactions"} in plan["edges"]
    assert plan["runs"] == sum(d["runs"] for d in dags.values())
    # a viewer may look but not execute, and is told which DAGs they lack
    assert plan["permission"]["can_execute"] is False
    assert set(plan["permission"]["missing_edit_on"]) == set(dags)


def test_execute_needs_edit_rights_on_every_dag(client) -> None:
    plan = client.post("/mesh/api/backfills/plan", json=WEEK, headers=bearer("viewer")).json()
    r = client.post("/mesh/api/backfills", json={"request": WEEK, "confirm_runs": plan["runs"]}, headers=bearer("viewer"))
    assert r.status_code == 403
    assert "payments_hourly" in r.json()["detail"]["missing_edit_on"]


def test_execute_then_status_and_list(client) -> None:
    req = {"roots": ["payments_daily.build_settlements"], "start": "2026-08-03", "end": "2026-08-05"}
    plan = client.post("/mesh/api/backfills/plan", json=req, headers=bearer("admin")).json()
    assert plan["permission"] == {"can_execute": True, "missing_edit_on": []}
    stale = client.post("/mesh/api/backfills", json={"request": req, "confirm_runs": plan["runs"] + 1}, headers=bearer("admin"))
    assert stale.status_code == 409 and "review the dry run again" in stale.json()["detail"]

    r = client.post("/mesh/api/backfills", json={"request": req, "confirm_runs": plan["runs"]}, headers=bearer("admin"))
    assert r.status_code == 201, r.text
    record_id = r.json()["id"]
    status = client.get(f"/mesh/api/backfills/{record_id}", headers=bearer("viewer")).json()
    assert status["user"] == "admin-1" and status["roots"] == ["payments_daily.build_settlements"]
    assert status["progress"]["total"] == plan["runs"] and status["progress"]["status"] == "running"
    assert set(status["progress"]["dags"]) == set(plan["dags"])
    listed = client.get("/mesh/api/backfills", headers=bearer("viewer")).json()
    assert listed[0]["id"] == record_id
    assert client.get("/mesh/api/backfills/999999", headers=bearer("viewer")).status_code == 404


def test_cookie_posts_need_the_csrf_header_and_same_origin(client) -> None:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    cookie = {"_token": get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="v", role="viewer"))}
    client.cookies.update(cookie)
    try:
        assert client.post("/mesh/api/backfills/plan", json=WEEK).status_code == 403
        evil = client.post("/mesh/api/backfills/plan", json=WEEK,
                           headers={"X-Requested-By": "x", "Origin": "https://evil.example"})
        assert evil.status_code == 403 and "cross-origin" in evil.text
        assert client.post("/mesh/api/backfills/plan", json=WEEK, headers={"X-Requested-By": "x"}).status_code == 200
    finally:
        client.cookies.clear()
    assert client.post("/mesh/api/backfills/plan", json=WEEK).status_code == 401


def test_bad_input_is_named(client) -> None:
    bad_root = client.post("/mesh/api/backfills/plan", json={**WEEK, "roots": ["payments.transaction"]}, headers=bearer("viewer"))
    assert bad_root.status_code == 422 and "'payments.transaction' is neither a table" in bad_root.json()["detail"]
    backwards = client.post("/mesh/api/backfills/plan", json={**WEEK, "end": "2026-08-01"}, headers=bearer("viewer"))
    assert backwards.status_code == 422 and "is not after start" in backwards.text
    team = client.post("/mesh/api/backfills/plan", json={**WEEK, "stop_at_teams": ["finance"]}, headers=bearer("viewer"))
    assert team.status_code == 422 and "unknown team(s) finance" in team.text
