"""A refused call changes nothing, and reads never write (issue #28): a steering call answered 403/404 and a
job read leave the job's row, its DAG parts and its native backfills exactly as they were, even when the job's
runs are all done; storing its final status is the materializer tick's. Dates 15-28 February 2026 belong to
this module."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select, update

from airflow_mesh.core.intervals import UTC

pytestmark = pytest.mark.usefixtures("airflow_db", "mesh_jobs")


@pytest.fixture(scope="module")
def client():
    """The real API server app; this process's materializer thread idles meanwhile, so only the test ticks."""
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW__MESH__BACKFILL_MATERIALIZER", "false")
        yield TestClient(create_app())


def bearer(role: str) -> dict[str, str]:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    token = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username=f"{role}-refused", role=role))
    return {"Authorization": f"Bearer {token}"}


def snapshot(job_id: int) -> tuple:
    """Every column of the job's row, its DAG parts and its native backfills."""
    from airflow.models.backfill import Backfill
    from airflow.utils.session import create_session

    from airflow_mesh.backfill.models import job, job_dag

    with create_session() as s:
        row = tuple(s.execute(select(job).where(job.c.id == job_id)).one())
        parts = [tuple(r) for r in s.execute(select(job_dag).where(job_dag.c.job_id == job_id).order_by(job_dag.c.id))]
        ids = [p[job_dag.c.keys().index("backfill_id")] for p in parts]
        natives = [tuple(r) for r in s.execute(select(Backfill.__table__).where(Backfill.id.in_(ids)).order_by(Backfill.id))]
    return row, parts, natives


@pytest.fixture
def done_job(client) -> int:
    """A materialized job of payments_daily whose runs all succeeded: the next tick stores it succeeded."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    from airflow_mesh.backfill import jobs
    from airflow_mesh.backfill.materialize import materialize_next
    from airflow_mesh.backfill.request import BackfillRequest
    from airflow_mesh.settings import configured_mesh

    req = BackfillRequest(roots=["payments_daily.build_settlements"], start=datetime(2026, 2, 16, tzinfo=UTC),
                          end=datetime(2026, 2, 19, tzinfo=UTC), downstream=False)
    job_id = jobs.submit(req.plan(configured_mesh(), datetime(2026, 11, 1, tzinfo=UTC)), req, "owner").id
    assert materialize_next(job_id=job_id) is not None
    with create_session() as s:
        backfill_ids = [p["backfill_id"] for p in jobs.get_job(s, job_id)["dags"]]
        s.execute(update(DagRun).where(DagRun.backfill_id.in_(backfill_ids)).values(state="success"))
    return job_id


@pytest.mark.parametrize("action", ["pause", "resume", "cancel", "retry"])
def test_a_refused_steering_call_changes_nothing(client, done_job: int, action: str) -> None:
    before = snapshot(done_job)
    r = client.post(f"/mesh/api/backfills/{done_job}/{action}", headers=bearer("viewer"))
    assert r.status_code == 403, r.text
    assert snapshot(done_job) == before


def test_reading_a_job_writes_nothing_and_the_tick_stores_its_final_status(client, done_job: int) -> None:
    from airflow.models.backfill import Backfill
    from airflow.utils.session import create_session

    from airflow_mesh.backfill import worker

    before = snapshot(done_job)
    r = client.get(f"/mesh/api/backfills/{done_job}", headers=bearer("viewer"))
    assert r.status_code == 200 and r.json()["status"] == "running", r.text
    assert client.get("/mesh/api/backfills", headers=bearer("viewer")).status_code == 200
    assert snapshot(done_job) == before
    worker.tick()
    record = client.get(f"/mesh/api/backfills/{done_job}", headers=bearer("viewer")).json()
    assert record["status"] == "succeeded"
    with create_session() as s:
        natives = s.scalars(select(Backfill).where(Backfill.id.in_([d["backfill_id"] for d in record["dags"]]))).all()
        assert natives and all(b.completed_at is not None for b in natives)


STARTUP_PROBE = """
from airflow.api_fastapi.app import create_app
from fastapi.testclient import TestClient
from airflow_mesh.backfill import worker

assert worker._thread is None
with TestClient(create_app()):  # the API server's start-up (lifespan), no request at all
    print("STARTED" if worker._thread is not None and worker._thread.is_alive() else "NOT STARTED")
"""


def test_every_api_server_runs_the_materializer_from_start_up() -> None:
    """Issue #23: API server B, which had served no mesh request, had no materializer (no tick, no settling)."""
    import os
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", STARTUP_PROBE], capture_output=True, text=True, timeout=300,
                         env=dict(os.environ))
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "STARTED"
