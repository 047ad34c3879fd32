"""A 5,000-run mesh backfill job beside production, on PostgreSQL, with Airflow's real components.

A real ``airflow api-server`` (which accepts the job and materializes it in its background thread, and serves
the Execution API to tasks) and a real ``airflow scheduler`` with the LocalExecutor run on a database of this
module's own on the session's throw-away PostgreSQL server. While the job materializes and its runs execute:

* a DAG outside the plan (``authentication_hourly``) starts and finishes a run;
* a non-backfill run of the backfilled DAG (``payments_hourly``) starts and finishes while thousands of the
  job's runs are still queued: the job's runs count against the job's own ``max_active_runs``, not the
  DAG's (the DAG's limit equals the job's here, so a shared count would hold the run back);
* no backend of that database waits on a lock for 1 s or more (``pg_stat_activity`` sampled throughout).

Then the job is cancelled through the mesh API and none of its runs is left queued.
Timings (accept, materialization, each run) are printed for the README, never asserted.
PostgreSQL only: row locks and lock waits are what is measured; SQLite serializes every writer.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import ROOT, LockSampler, separate_database_url

pytestmark = pytest.mark.usefixtures("airflow_db")
BIN = Path(sys.executable).parent
PLAN = {"roots": ["payments.transactions"], "start": "2026-01-01T00:00:00Z", "end": "2026-07-28T08:00:00Z",
        "downstream": False, "max_active_runs": 2}
DEADLINE_SECONDS = 420


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def stack():
    """``airflow api-server`` and ``airflow scheduler`` (LocalExecutor) on this module's own PostgreSQL DB."""
    from airflow import settings

    if settings.engine.dialect.name != "postgresql":
        pytest.skip("needs the suite on PostgreSQL: it measures row-lock waits, which SQLite does not have "
                    f"(this run uses {settings.engine.dialect.name})")
    home = Path(tempfile.mkdtemp(prefix="airflow-mesh-pg-scheduler-"))
    (home / "passwords.json").write_text(json.dumps({"admin": "admin-pw"}))
    port = free_port()
    url = separate_database_url(home, "scheduler")
    env = dict(
        os.environ,
        PATH=f"{BIN}:{os.environ['PATH']}",
        PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "scripts"), os.environ.get("PYTHONPATH", "")]),
        AIRFLOW_HOME=str(home),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=url,
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__PARALLELISM="4",
        AIRFLOW__CORE__MAX_ACTIVE_RUNS_PER_DAG="2",          # = the job's max_active_runs: see the module doc
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="True",   # only the DAGs this test unpauses run
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(home / "passwords.json"),
        MESH_EXAMPLE_WAREHOUSE=str(home / "warehouse"),
        AIRFLOW__MESH__CACHE_DIR=str(home / "mesh-cache"),
        AIRFLOW__LOGGING__LOGGING_LEVEL="WARNING",
    )
    subprocess.run(["airflow", "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    subprocess.run([sys.executable, "-c", "from seed import sync_dags_to_db; sync_dags_to_db()"], env=env,
                   check=True, capture_output=True, timeout=300, cwd=home)
    logs = {name: open(home / f"{name}.log", "w") for name in ("api-server", "scheduler")}
    procs = [subprocess.Popen(["airflow", name], env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True, cwd=home) for name, log in logs.items()]
    try:
        yield {"url": f"http://127.0.0.1:{port}", "db": url, "home": home, "procs": procs}
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        for log in logs.values():
            log.close()


def tail(home: Path) -> str:
    return "\n".join(f"--- {name}.log ---\n" + (home / f"{name}.log").read_text()[-3000:]
                     for name in ("api-server", "scheduler"))


class Stack:
    """The running components, through Airflow's and the mesh's HTTP APIs, under one deadline."""

    def __init__(self, stack: dict) -> None:
        import httpx

        self.home, self.procs = stack["home"], stack["procs"]
        self.deadline = time.monotonic() + DEADLINE_SECONDS
        self.client = httpx.Client(base_url=stack["url"], timeout=30)
        self.auth: dict[str, str] = {}
        self.job_id = 0
        while not self.auth:  # the API server is up
            self.alive()
            try:
                r = self.client.post("/auth/token", json={"username": "admin", "password": "admin-pw"})
                if r.status_code == 201:
                    self.auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
            except httpx.TransportError:
                pass
            time.sleep(0.5)  # bounded polling: alive() holds the deadline

    def alive(self) -> None:
        assert time.monotonic() < self.deadline, tail(self.home)
        assert all(p.poll() is None for p in self.procs), tail(self.home)

    def post(self, path: str, body: dict | None = None) -> dict:
        r = self.client.post(path, headers=self.auth, json=body)
        assert r.status_code in (200, 202), r.text
        return r.json()

    def unpause(self, dag_id: str) -> None:
        r = self.client.patch(f"/api/v2/dags/{dag_id}", headers=self.auth, json={"is_paused": False})
        assert r.status_code == 200, r.text

    def trigger(self, dag_id: str, logical_date: str, run_id: str) -> float:
        self.post(f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": logical_date, "dag_run_id": run_id})
        return time.monotonic()

    def run_state(self, dag_id: str, run_id: str) -> str | None:
        return self.client.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}", headers=self.auth).json().get("state")

    def finished(self, dag_id: str, run_id: str) -> str | None:
        state = self.run_state(dag_id, run_id)
        return state if state in ("success", "failed") else None

    def job(self) -> dict:
        return self.client.get(f"/mesh/api/backfills/{self.job_id}", headers=self.auth).json()

    def job_runs(self) -> dict:
        """The job's runs running, and waiting (queued, or not yet materialized)."""
        d = self.job()["progress"]["dags"]["payments_hourly"]
        return {"running": d["runs"]["running"], "waiting": d["runs"]["queued"] + d["planned"] - d["materialized"]}


def test_a_5000_run_job_runs_beside_production_without_lock_waits(stack) -> None:
    api = Stack(stack)
    timings: dict[str, float] = {}
    seen: dict[str, object] = {}
    for dag_id in ("payments_hourly", "authentication_hourly"):
        api.unpause(dag_id)
    # Baseline, before any backfill: a run of the DAG outside the plan, start to finish.
    started = api.trigger("authentication_hourly", "2026-11-20T04:00:00Z", "baseline")
    while not api.finished("authentication_hourly", "baseline"):
        api.alive()
        time.sleep(0.5)
    timings["outside run, no backfill (s)"] = time.monotonic() - started
    assert api.finished("authentication_hourly", "baseline") == "success", tail(api.home)

    from sqlalchemy import create_engine

    sampler = LockSampler(create_engine(stack["db"]))
    sampler.start()
    try:
        plan = api.post("/mesh/api/backfills/plan", PLAN)
        assert plan["can_execute"], plan["problems"]
        assert plan["runs"] >= 5000 and list(plan["dags"]) == ["payments_hourly"]
        started = time.monotonic()
        api.job_id = api.post("/mesh/api/backfills", {
            "request": plan["request"], "fingerprint": plan["fingerprint"], "summary": plan["summary"]})["id"]
        timings["execute answered (s)"] = time.monotonic() - started
        outside = api.trigger("authentication_hourly", "2026-11-20T05:00:00Z", "outside")
        while not (done := api.finished("authentication_hourly", "outside")):
            api.alive()
            time.sleep(0.5)
        timings["outside run, during the job (s)"] = time.monotonic() - outside
        seen["job when the outside run finished"] = f"{api.job()['status']}, {api.job()['progress']['materializing']}"
        assert done == "success", tail(api.home)
        # Once the job's runs execute (a limit shared with the DAG's would be full), a run of the DAG itself.
        while api.job_runs()["running"] < 1:
            api.alive()
            time.sleep(0.5)
        beside = api.trigger("payments_hourly", "2026-11-20T05:00:00Z", "beside")
        while not (done := api.finished("payments_hourly", "beside")):
            api.alive()
            time.sleep(0.5)
        timings["non-backfill run of the backfilled DAG (s)"] = time.monotonic() - beside
        seen["job runs waiting when it finished"] = waiting = api.job_runs()["waiting"]
        assert done == "success", tail(api.home)
        assert waiting > 1000, f"the job had {waiting} runs waiting when the DAG's own run finished"
        while api.job()["status"] in ("queued", "materializing"):
            api.alive()
            time.sleep(1)
        timings["materialized (s, from execute)"] = time.monotonic() - started
    finally:
        sampler.finish()
    assert sampler.samples > 0
    assert sampler.worst < 1.0, f"a backend waited {sampler.worst:.2f} s on a lock\n{tail(api.home)}"

    api.post(f"/mesh/api/backfills/{api.job_id}/cancel")
    record = api.job()
    assert record["status"] in ("cancelling", "cancelled"), record["status"]
    assert record["progress"]["dags"]["payments_hourly"]["runs"]["queued"] == 0, record["progress"]
    api.client.close()
    print("\nmesh job beside production, PostgreSQL, real scheduler:", json.dumps(
        {k: round(v, 1) for k, v in timings.items()} | seen | {"runs": plan["runs"],
                                                                "worst lock wait (s)": round(sampler.worst, 3)}))
