"""The backfill API under FabAuthManager with team roles from 'airflow-mesh sync-roles': a risk team
member may execute plans of risk's DAGs only. Runs the real API server app in a subprocess configured
with FabAuthManager (the auth manager is process-wide), on this session's metadata DB."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.usefixtures("airflow_db")
BIN = Path(sys.executable).parent

CLIENT = textwrap.dedent("""
    import json
    from fastapi.testclient import TestClient
    from airflow.api_fastapi.app import create_app

    client = TestClient(create_app())
    token = client.post("/auth/token", json={"username": "rita", "password": "rita-pw"}).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    OWN = {"roots": ["risk.fraud_scores_daily"], "start": "2026-08-24", "end": "2026-08-26",
           "stop_at_teams": ["business-intelligence"]}
    OTHER = {"roots": ["payments.transactions"], "start": "2026-08-24", "end": "2026-08-26"}
    def plan(req):
        return client.post("/mesh/api/backfills/plan", headers=auth, json=req).json()
    own, other = plan(OWN), plan(OTHER)
    def confirmed(p):
        return {"request": p["request"], "fingerprint": p["fingerprint"], "summary": p["summary"]}
    denied = client.post("/mesh/api/backfills", headers=auth, json=confirmed(other))
    allowed = client.post("/mesh/api/backfills", headers=auth, json=confirmed(own))
    # Airflow's own answers to rita for the same actions: the reference the mesh must match
    native = {"from_date": "2026-08-24T00:00:00Z", "to_date": "2026-08-26T00:00:00Z"}
    airflow_dry_run = {dag: client.post("/api/v2/backfills/dry_run", headers=auth, json={"dag_id": dag, **native}).status_code
                       for dag in ("risk_daily", "payments_hourly", "bi_daily")}
    print("RESULT " + json.dumps({"airflow_dry_run": airflow_dry_run,
                                   "own_dags": sorted(own["dags"]), "own": own["permission"],
                                   "other": other["permission"], "denied": [denied.status_code, denied.json()],
                                   "allowed": [allowed.status_code, allowed.json()]}))
""")


@pytest.mark.usefixtures("mesh_jobs")
def test_team_role_may_execute_its_own_dags_only() -> None:
    env = dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}",
               AIRFLOW__CORE__AUTH_MANAGER="airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager")
    run = lambda *cmd: subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)  # noqa: E731
    assert run("airflow", "fab-db", "migrate").returncode == 0
    assert run("airflow-mesh", "sync-roles").returncode == 0
    created = run("airflow", "users", "create", "--username", "rita", "--password", "rita-pw", "--role", "Viewer",
                  "--firstname", "Rita", "--lastname", "Risk", "--email", "rita@example.com")
    assert created.returncode == 0, created.stderr
    added = run("airflow", "users", "add-role", "--username", "rita", "--role", "team:risk")
    assert added.returncode == 0, added.stderr

    result = run(sys.executable, "-c", CLIENT)
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert line, result.stderr[-3000:]
    r = json.loads(line[len("RESULT "):])
    # Airflow refuses rita a backfill of payments' and business-intelligence's DAGs, and allows risk's ...
    assert r["airflow_dry_run"] == {"risk_daily": 200, "payments_hourly": 403, "bi_daily": 403}
    # ... and so does the mesh
    assert r["own_dags"] == ["risk_daily", "risk_merchant", "risk_weekly"]
    assert r["own"] == {"can_execute": True, "missing_edit_on": []}
    assert r["other"]["can_execute"] is False
    assert "payments_hourly" in r["other"]["missing_edit_on"] and "bi_daily" in r["other"]["missing_edit_on"]
    assert not any(d.startswith("risk_") for d in r["other"]["missing_edit_on"])
    assert r["denied"][0] == 403 and "payments_hourly" in r["denied"][1]["detail"]["missing_on"]
    assert r["allowed"][0] == 202, r["allowed"]
