"""The backfill job JSON API through Airflow's real API server app, as users with different rights:
dry run, execute (202, background materialization by the app's own thread), steering, conflicts,
fingerprints, bad input. Dates in August 2026 belong to this module."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.usefixtures("airflow_db", "mesh_jobs")


def wait_for(client, job_id: int, statuses: set[str], headers: dict) -> dict:
    """Poll the job until it reaches one of ``statuses`` (bounded: 120 s)."""
    import time

    deadline = time.monotonic() + 120
    while True:
        record = client.get(f"/mesh/api/backfills/{job_id}", headers=headers).json()
        if record["status"] in statuses or time.monotonic() > deadline:
            return record
        time.sleep(0.1)

WEEK = {"roots": ["payments.transactions"], "start": "2026-08-03", "end": "2026-08-10"}


@pytest.fixture(scope="module")
def client():
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

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


def execute_body(plan: dict) -> dict:
    return {"request": plan["request"], "fingerprint": plan["fingerprint"], "summary": plan["summary"]}


def test_execute_needs_run_rights_on_every_dag(client) -> None:
    plan = client.post("/mesh/api/backfills/plan", json=WEEK, headers=bearer("viewer")).json()
    r = client.post("/mesh/api/backfills", json=execute_body(plan), headers=bearer("viewer"))
    assert r.status_code == 403
    assert "payments_hourly" in r.json()["detail"]["missing_on"]


def test_execute_answers_202_at_once_then_the_app_materializes_and_the_job_is_steered(client) -> None:
    from airflow.models.backfill import Backfill
    from airflow.utils.session import create_session

    req = {"roots": ["payments_daily.build_settlements"], "start": "2026-08-03", "end": "2026-08-05"}
    plan = client.post("/mesh/api/backfills/plan", json=req, headers=bearer("admin")).json()
    assert plan["permission"] == {"can_execute": True, "missing_edit_on": []} and len(plan["fingerprint"]) == 64

    r = client.post("/mesh/api/backfills", json=execute_body(plan), headers=bearer("admin"))
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    assert r.json()["status"] == "queued" and r.json()["url"] == f"/mesh/backfill/{job_id}"
    again = client.post("/mesh/api/backfills", json=execute_body(plan), headers=bearer("admin"))
    assert again.status_code == 409 and f"mesh job #{job_id} is active on" in again.json()["detail"]["message"]
    replan = client.post("/mesh/api/backfills/plan", json=req, headers=bearer("admin")).json()
    assert replan["can_execute"] is False and replan["overlapping"][0]["id"] == job_id   # refused in the dry run

    status = wait_for(client, job_id, {"running", "failed", "interrupted"}, bearer("viewer"))
    assert status["status"] == "running", status
    assert status["user"] == "admin-1" and status["roots"] == ["payments_daily.build_settlements"]
    assert status["progress"]["materialized"] == plan["runs"] and status["progress"]["materializing"] == (
        f"{plan['runs']} of {plan['runs']} runs materialized")
    assert set(status["progress"]["dags"]) == set(plan["dags"])
    assert sum(d["runs"]["queued"] for d in status["progress"]["dags"].values()) == plan["runs"]
    with create_session() as s:
        natives = {b.dag_id: b for b in s.query(Backfill).filter(Backfill.id.in_([d["backfill_id"] for d in status["dags"]]))}
        assert set(natives) == set(plan["dags"]) and {b.triggering_user_name for b in natives.values()} == {"admin-1"}

    denied = client.post(f"/mesh/api/backfills/{job_id}/pause", headers=bearer("viewer"))
    assert denied.status_code == 403 and set(denied.json()["detail"]["missing_on"]) == set(plan["dags"])
    assert client.post(f"/mesh/api/backfills/{job_id}/pause", headers=bearer("admin")).json()["status"] == "paused"
    with create_session() as s:
        assert all(s.get(Backfill, d["backfill_id"]).is_paused for d in status["dags"])
    assert client.post(f"/mesh/api/backfills/{job_id}/resume", headers=bearer("admin")).json()["status"] == "running"
    cancelled = client.post(f"/mesh/api/backfills/{job_id}/cancel", headers=bearer("admin")).json()
    assert cancelled["status"] == "cancelled" and cancelled["cancelled_by"] == "admin-1"
    late = client.post(f"/mesh/api/backfills/{job_id}/retry", headers=bearer("admin"))
    assert late.status_code == 409 and "cancelled: it cannot be retried" in late.json()["detail"]["message"]
    listed = client.get("/mesh/api/backfills", headers=bearer("viewer")).json()
    assert listed[0]["id"] == job_id and listed[0]["status"] == "cancelled"
    assert client.get("/mesh/api/backfills/999999", headers=bearer("viewer")).status_code == 404


def test_a_changed_plan_cannot_be_executed_with_the_old_fingerprint(client) -> None:
    req = {"roots": ["payments_daily.build_settlements"], "start": "2026-08-10", "end": "2026-08-12"}
    plan = client.post("/mesh/api/backfills/plan", json=req, headers=bearer("admin")).json()
    changed = {**execute_body(plan), "request": {**req, "end": "2026-08-13"}}
    r = client.post("/mesh/api/backfills", json=changed, headers=bearer("admin"))
    assert r.status_code == 409
    changes = r.json()["detail"]["changes"]
    assert any(c.startswith("end: '2026-08-12T00:00:00Z' -> '2026-08-13T00:00:00Z'") for c in changes), changes
    assert any(c.startswith("DAG payments_daily: 2 -> 3 runs") for c in changes), changes


def test_two_concurrent_executes_of_one_plan_one_wins_the_other_is_told_which(client) -> None:
    from concurrent.futures import ThreadPoolExecutor

    req = {"roots": ["payments_daily.build_settlements"], "start": "2026-08-17", "end": "2026-08-19"}
    plan = client.post("/mesh/api/backfills/plan", json=req, headers=bearer("admin")).json()
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: client.post("/mesh/api/backfills", json=execute_body(plan),
                                                      headers=bearer("admin")), range(2)))
    codes = sorted(a.status_code for a in answers)
    assert codes == [202, 409], [a.text for a in answers]
    winner = next(a for a in answers if a.status_code == 202).json()["id"]
    loser = next(a for a in answers if a.status_code == 409).json()["detail"]
    assert f"mesh job #{winner}" in loser["message"]


def test_plans_over_the_run_limit_say_so_in_the_dry_run(client, monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW__MESH__BACKFILL_MAX_RUNS", "10")
    plan = client.post("/mesh/api/backfills/plan", json=WEEK, headers=bearer("admin")).json()
    assert plan["can_execute"] is False and plan["max_runs"] == 10
    assert any("more than [mesh] backfill_max_runs = 10" in p for p in plan["problems"])


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
    far = client.post("/mesh/api/backfills/plan", json={**WEEK, "end": "9999-12-31T23:59:59"}, headers=bearer("viewer"))
    assert far.status_code == 422 and "outside the years 1900-2200" in far.text
    assert client.get("/mesh/api/backfills/9223372036854775808", headers=bearer("viewer")).status_code == 422
    assert client.get("/mesh/api/backfills?limit=-1", headers=bearer("viewer")).status_code == 422
    assert client.post("/mesh/api/backfills/0/pause", headers=bearer("admin")).status_code == 422
