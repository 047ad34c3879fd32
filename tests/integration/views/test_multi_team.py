"""Multi-team: the mesh refuses exactly whom Airflow's own API refuses, with the DAG's team.

Airflow 3.3 in multi-team mode (``AIRFLOW__CORE__MULTI_TEAM=True``) with DAG bundles
owned by teams: ``dags/payments`` belongs to ``teamA``, ``dags/risk`` to ``teamB``, the
others to no team. SimpleAuthManager users ``alice:user:teamB`` and ``bob:user:teamA``
log in through ``/auth/token`` and ask the real API server app (``create_app()``) the
same questions through Airflow's own routes and through the mesh's. Airflow refuses
alice on teamA's DAGs, so the mesh must too (issue #12: the mesh used to ask without
the DAG's team and let her backfill six of teamA's DAGs).

Team ownership lives in the metadata DB (``dag_bundle_team``) and Airflow consults it
even outside multi-team mode, so this runs in a subprocess on a metadata DB of its
own (a separate SQLite file, or a separate database on the session's PostgreSQL
server): the session's shared DB stays team-free. Everything is asked in one
subprocess run; each test checks one answer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from conftest import ROOT, separate_database_url

pytestmark = pytest.mark.usefixtures("airflow_db")
BIN = Path(sys.executable).parent
TEAM_A, TEAM_B = "teamA", "teamB"
# Its own DB, so any past range will do (Airflow's native dry run refuses future ranges).
RANGE = {"start": "2026-11-09", "end": "2026-11-11"}
PAYMENTS_ONLY = {"roots": ["payments.transactions"], **RANGE,
                 "stop_at_teams": ["risk", "business-intelligence", "authentication"]}
WHOLE_CHAIN = {"roots": ["payments.transactions"], **RANGE}

SCRIPT = textwrap.dedent("""
    import json, sys, time
    from datetime import datetime, timezone

    from airflow.utils.db import resetdb
    from airflow.utils.session import create_session

    resetdb()
    from airflow.models.team import Team
    with create_session() as s:
        s.add_all([Team(name="teamA"), Team(name="teamB")])
    from seed import seed_runs, sync_dags_to_db
    sync_dags_to_db()
    seed_runs("payments_hourly", [datetime(2026, 11, 1, 5, tzinfo=timezone.utc)])
    seed_runs("risk_daily", [datetime(2026, 11, 1, tzinfo=timezone.utc)])

    from fastapi.testclient import TestClient
    from airflow.api_fastapi.app import create_app
    from airflow.models.dag import DagModel
    from airflow.models.dagrun import DagRun
    from sqlalchemy import func, select

    client = TestClient(create_app())
    out = {"teams": {d: DagModel.get_team_name(d) for d in ("payments_daily", "risk_daily", "bi_daily")}}

    def login(name):
        r = client.post("/auth/token", json={"username": name, "password": name + "-pw"})
        assert r.status_code == 201, r.text
        return {"Authorization": "Bearer " + r.json()["access_token"]}

    def runs_in_range():
        with create_session() as s:
            return s.scalar(select(func.count()).select_from(DagRun).where(
                DagRun.logical_date >= datetime(2026, 11, 8, tzinfo=timezone.utc)))

    PAYMENTS_ONLY, WHOLE_CHAIN, RANGE = json.loads(sys.argv[1])
    native_range = {"from_date": RANGE["start"] + "T00:00:00Z", "to_date": RANGE["end"] + "T00:00:00Z"}
    for user in ("admin", "alice", "bob"):  # bob last: his backfill changes the latest states
        auth = login(user)
        got = out[user] = {}
        # Airflow's own answers
        got["airflow_pause"] = client.patch("/api/v2/dags/payments_daily", headers=auth,
                                            json={"is_paused": True}).status_code
        client.patch("/api/v2/dags/payments_daily", headers=auth, json={"is_paused": False})
        got["airflow_dry_run"] = {
            dag: client.post("/api/v2/backfills/dry_run", headers=auth,
                             json={"dag_id": dag, **native_range}).status_code
            for dag in ("payments_daily", "risk_daily", "bi_daily")}
        got["airflow_task_instances"] = {
            dag: client.get(f"/api/v2/dags/{dag}/dagRuns/~/taskInstances", headers=auth).status_code
            for dag in ("payments_hourly", "risk_daily")}
        # The mesh's answers
        got["plan_payments"] = client.post("/mesh/api/backfills/plan", headers=auth, json=PAYMENTS_ONLY).json()
        got["plan_chain"] = client.post("/mesh/api/backfills/plan", headers=auth, json=WHOLE_CHAIN).json()
        tables = client.get("/mesh/api/map", headers=auth).json()["tables"]
        got["map_latest"] = {t["name"]: t["latest"] for t in tables}
        if user != "admin":
            before = runs_in_range()
            plan = got["plan_payments"]
            r = client.post("/mesh/api/backfills", headers=auth, json={
                "request": plan["request"], "fingerprint": plan["fingerprint"], "summary": plan["summary"]})
            if r.status_code == 202:  # accepted: wait (bounded) until the background materializer applied it
                deadline = time.monotonic() + 120
                while client.get(f"/mesh/api/backfills/{r.json()['id']}", headers=auth).json()["status"] in (
                        "queued", "materializing"):
                    assert time.monotonic() < deadline, "the job was not materialized within 120 s"
                    time.sleep(0.2)
            got["execute"] = [r.status_code, r.json(), runs_in_range() - before]
    # history and job details: alice must not read bob's job of teamA's DAGs (Airflow: GET on RUN, with team)
    job = out["bob"]["execute"][1].get("id")
    alice = login("alice")
    out["alice"]["history_ids"] = [r["id"] for r in client.get("/mesh/api/backfills", headers=alice).json()]
    out["alice"]["job_status"] = client.get(f"/mesh/api/backfills/{job}", headers=alice).status_code
    out["bob"]["history_ids"] = [r["id"] for r in client.get("/mesh/api/backfills", headers=login("bob")).json()]
    out["job"] = job
    # Airflow's own answers to alice about a native backfill of teamA's DAG: the reference for job details and
    # steering (a job of DAGs she may not even read is "not found" to her, so ids across teams stay secret).
    # bob's job holds payments' DAGs (one active backfill per DAG): cancel it first, as bob may
    cancelled = client.post(f"/mesh/api/backfills/{job}/cancel", headers=login("bob"))
    assert cancelled.status_code == 200, cancelled.text
    # Disclosure (issue #28): admin's job holds payments_daily (teamA) and bi_daily (no team). Alice gets 404 for
    # it, so her dry run and execute of bi_daily alone, which it blocks, must name neither it nor payments_daily.
    admin = login("admin")
    mixed = {"roots": ["payments_daily.build_settlements"], **RANGE, "stop_at_teams": ["risk", "authentication"]}
    p = client.post("/mesh/api/backfills/plan", headers=admin, json=mixed).json()
    r = client.post("/mesh/api/backfills", headers=admin,
                    json={"request": p["request"], "fingerprint": p["fingerprint"], "summary": p["summary"]})
    assert r.status_code == 202, r.text
    mixed_job = r.json()["id"]
    bi_only = {"roots": ["bi_daily"], **RANGE, "downstream": False}
    ap = client.post("/mesh/api/backfills/plan", headers=alice, json=bi_only).json()
    ae = client.post("/mesh/api/backfills", headers=alice,
                     json={"request": ap["request"], "fingerprint": ap["fingerprint"], "summary": ap["summary"]})
    out["disclosure"] = {
        "job": mixed_job, "dags": sorted(p["dags"]),
        "get": client.get(f"/mesh/api/backfills/{mixed_job}", headers=alice).status_code,
        "plan": {"overlapping": ap["overlapping"], "problems": ap["problems"], "can_execute": ap["can_execute"]},
        "execute": [ae.status_code, ae.json()],
        "admin_plan": client.post("/mesh/api/backfills/plan", headers=admin, json=bi_only).json()["overlapping"]}
    cancelled = client.post(f"/mesh/api/backfills/{mixed_job}/cancel", headers=admin)
    assert cancelled.status_code == 200, cancelled.text
    native = client.post("/api/v2/backfills", headers=login("bob"),
                         json={"dag_id": "payments_daily", "from_date": "2026-11-02T00:00:00Z",
                               "to_date": "2026-11-04T00:00:00Z", "max_active_runs": 1})
    assert native.status_code == 200, native.text
    nid = native.json()["id"]
    out["alice"]["airflow_backfill"] = {
        "GET": client.get(f"/api/v2/backfills/{nid}", headers=alice).status_code,
        "PUT": client.put(f"/api/v2/backfills/{nid}/pause", headers=alice).status_code}
    # Steering a job (pause, resume, cancel, retry...): every state-changing route on one job, as the mesh app
    # declares them, so routes added later are covered. Airflow asks PUT on RUN of the job's DAGs, with team.
    from starlette.routing import Mount
    from test_api_fuzz import DATES, exemplar
    spec = next(r.app for r in client.app.routes if isinstance(r, Mount) and r.path == "/mesh").openapi()
    steer = {}
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if method == "get" or not path.startswith("/api/backfills/{"):
                continue
            params = [p["name"] for p in op.get("parameters", []) if p["in"] == "path"]
            url = "/mesh" + path.replace("{" + params[0] + "}", str(job))
            schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            body = exemplar(schema, spec, list(DATES)) if schema else None
            steer[f"{method.upper()} {path}"] = {
                user: client.request(method.upper(), url, headers=login(user), json=body).status_code
                for user in ("alice", "bob")}  # alice first: bob's answer may change the job
    out["steer"] = steer
    print("RESULT " + json.dumps(out))
""")


def bundle(folder: str, team: str | None) -> dict:
    """A local DAG bundle of one team's folder of the example mesh, owned by ``team`` (or by no team)."""
    return {"name": folder, "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(ROOT / "dags" / folder)}, **({"team_name": team} if team else {})}


@pytest.fixture(scope="module")
def answers() -> dict:
    """Every user's answers from Airflow's API and the mesh's, in one multi-team API server app."""
    tmp = Path(tempfile.mkdtemp(prefix="airflow-mesh-multi-team-"))
    (tmp / "passwords.json").write_text(json.dumps({u: f"{u}-pw" for u in ("alice", "bob", "admin")}))
    env = dict(
        os.environ,
        PATH=f"{BIN}:{os.environ['PATH']}",
        # ROOT/dags: the example's shared helpers (dags/_example/) sit outside each team's bundle, so they
        # are on the path as a deployment would install a shared helper package for every team
        PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "scripts"), str(ROOT / "tests" / "integration" / "views"),
                                    str(ROOT / "dags"), os.environ.get("PYTHONPATH", "")]),
        AIRFLOW_HOME=str(tmp),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=separate_database_url(tmp, "multi_team"),
        AIRFLOW__CORE__MULTI_TEAM="True",
        AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST=json.dumps([
            bundle("payments", TEAM_A), bundle("risk", TEAM_B),
            bundle("business-intelligence", None), bundle("authentication", None)]),
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=f"admin:admin,alice:user:{TEAM_B},bob:user:{TEAM_A}",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(tmp / "passwords.json"),
        AIRFLOW__MESH__CACHE_DIR=str(tmp / "mesh-cache"),
    )
    proc = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps([PAYMENTS_ONLY, WHOLE_CHAIN, RANGE])],
                          env=env, capture_output=True, text=True, timeout=600, cwd=tmp)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert line, proc.stderr[-5000:]
    return json.loads(line[len("RESULT "):])


def test_the_bundles_give_the_dags_their_teams(answers) -> None:
    assert answers["teams"] == {"payments_daily": TEAM_A, "risk_daily": TEAM_B, "bi_daily": None}


def test_airflow_itself_refuses_alice_on_team_a_and_bob_on_team_b(answers) -> None:
    """The reference the mesh must match: Airflow's own routes, asked by the same users."""
    assert answers["alice"]["airflow_pause"] == 403 and answers["bob"]["airflow_pause"] == 200
    assert answers["alice"]["airflow_dry_run"] == {"payments_daily": 403, "risk_daily": 200, "bi_daily": 200}
    assert answers["bob"]["airflow_dry_run"] == {"payments_daily": 200, "risk_daily": 403, "bi_daily": 200}
    assert answers["alice"]["airflow_task_instances"] == {"payments_hourly": 403, "risk_daily": 200}
    assert answers["bob"]["airflow_task_instances"] == {"payments_hourly": 200, "risk_daily": 403}


def test_dry_run_says_alice_may_not_execute_team_a_dags(answers) -> None:
    alice, bob = answers["alice"]["plan_payments"], answers["bob"]["plan_payments"]
    assert sorted(alice["dags"]) == ["payments_daily", "payments_hourly"]
    assert alice["permission"] == {"can_execute": False, "missing_edit_on": ["payments_daily", "payments_hourly"]}
    assert bob["permission"] == {"can_execute": True, "missing_edit_on": []}


def test_dry_run_hides_db_facts_of_dags_the_user_may_not_read(answers) -> None:
    """Task ids and counts of existing or in-flight runs come from the metadata DB: Airflow refuses alice
    ``GET`` on teamA's runs, so the mesh's dry run shows her none of them (issue #10), but shows bob his own."""
    alice, bob = answers["alice"]["plan_payments"]["dags"], answers["bob"]["plan_payments"]["dags"]
    for dag_id in ("payments_daily", "payments_hourly"):
        assert {k: alice[dag_id][k] for k in ("tasks", "to_clear", "to_create", "in_flight")} == dict.fromkeys(
            ("tasks", "to_clear", "to_create", "in_flight"))
        assert alice[dag_id]["hidden"] == "you may not read this DAG's runs"
        assert bob[dag_id]["tasks"] and isinstance(bob[dag_id]["to_create"], int) and "hidden" not in bob[dag_id]
        assert alice[dag_id]["runs"] == bob[dag_id]["runs"] > 0  # the plan itself is the registry's: shown


def test_dry_run_of_a_cross_team_chain_names_exactly_the_other_teams_dags(answers) -> None:
    """Teamless DAGs (business-intelligence, authentication) are editable by both; each team's by its own."""
    plan = answers["admin"]["plan_chain"]
    payments = sorted(d for d in plan["dags"] if d.startswith("payments_"))
    risk = sorted(d for d in plan["dags"] if d.startswith("risk_"))
    assert payments and risk and any(d.startswith("bi_") for d in plan["dags"])
    assert plan["permission"]["missing_edit_on"] == []
    assert answers["alice"]["plan_chain"]["permission"]["missing_edit_on"] == payments
    assert answers["bob"]["plan_chain"]["permission"]["missing_edit_on"] == risk


def test_execute_refuses_alice_and_changes_nothing(answers) -> None:
    status, body, runs_changed = answers["alice"]["execute"]
    assert status == 403, body
    assert body["detail"]["missing_on"] == ["payments_daily", "payments_hourly"]
    assert runs_changed == 0


def test_execute_lets_bob_run_his_teams_dags(answers) -> None:
    status, body, runs_changed = answers["bob"]["execute"]
    assert status == 202, body
    assert runs_changed == answers["bob"]["plan_payments"]["runs"] > 0


def test_map_shows_run_states_only_of_dags_the_user_may_read(answers) -> None:
    """The map asks what GET .../taskInstances asks: alice sees risk's states, not payments'; bob the opposite."""
    alice, bob = answers["alice"]["map_latest"], answers["bob"]["map_latest"]
    assert bob["payments.transactions"]["state"] == "success"
    assert alice["payments.transactions"] is None
    assert alice["risk.fraud_scores_daily"]["state"] == "success"
    assert bob["risk.fraud_scores_daily"] is None
    assert answers["admin"]["map_latest"]["payments.transactions"]["state"] == "success"


def test_history_hides_jobs_of_dags_alice_may_not_read(answers) -> None:
    assert answers["job"] in answers["bob"]["history_ids"]
    assert answers["job"] not in answers["alice"]["history_ids"]


def test_airflow_hides_a_backfill_of_team_a_from_alice(answers) -> None:
    """Airflow answers 404, not 403, to a caller who may not read the backfill's DAG (ids stay secret)."""
    assert answers["alice"]["airflow_backfill"] == {"GET": 404, "PUT": 404}


def test_job_details_answer_alice_as_airflow_answers_her_about_a_backfill_of_team_a(answers) -> None:
    assert answers["alice"]["job_status"] == answers["alice"]["airflow_backfill"]["GET"]


def test_steering_bobs_job_is_refused_to_alice_on_every_route(answers) -> None:
    """Pause, resume, cancel, retry...: on every route the mesh app declares on one job, alice gets what Airflow's
    PUT /api/v2/backfills/{id}/pause gives her on teamA's backfill; bob is not refused."""
    assert answers["steer"], "the mesh app declares no route that steers a job"
    for route, status in answers["steer"].items():
        assert status["alice"] == answers["alice"]["airflow_backfill"]["PUT"], route
        assert status["bob"] not in (403, 404), route


def test_an_overlap_names_no_job_or_dag_the_user_may_not_read(answers) -> None:
    """Alice gets 404 for admin's job of payments_daily and bi_daily; her dry run and execute of bi_daily, which
    it blocks, say a backfill is active on bi_daily without the job's id or payments_daily (admin is told both)."""
    seen = answers["disclosure"]
    assert {"payments_daily", "bi_daily"} <= set(seen["dags"])
    assert seen["get"] == 404
    assert seen["admin_plan"][0]["name"] == f"mesh job #{seen['job']}"
    status, body = seen["execute"]
    assert status == 409, body
    assert seen["plan"]["can_execute"] is False
    for told in (seen["plan"], body["detail"]):
        text = json.dumps(told)
        assert f"#{seen['job']}" not in text and "payments" not in text, text
        assert "bi_daily" in text and "a backfill on DAGs you may not read is active" in text, text
