"""A real deployment: the package in an Airflow that has its own DAGs and no mesh yet, settings in
airflow.cfg only, commands run where no Airflow is configured, the demo on another port, the wheel."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT

BIN = Path(sys.executable).parent

ORDINARY_DAGS = {
    "deploy_plain_etl.py": """
        from datetime import datetime
        from airflow.sdk import DAG, task

        with DAG(dag_id="deploy_plain_etl", schedule="@daily", start_date=datetime(2026, 1, 1), catchup=False):
            @task
            def extract():
                return 21

            @task
            def load(n):
                assert n * 2 == 42

            load(extract())
    """,
    "deploy_plain_report.py": """
        from datetime import datetime
        from airflow.sdk import DAG
        from airflow.providers.standard.operators.bash import BashOperator

        with DAG(dag_id="deploy_plain_report", schedule=None, start_date=datetime(2026, 1, 1),
                 default_args={"owner": "reporting"}):
            BashOperator(task_id="report", bash_command="echo report done")
    """,
}


def write_dags(folder: Path, dags: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, source in dags.items():
        (folder / name).write_text(textwrap.dedent(source).lstrip())
    return folder


def metadata_db_url() -> str:
    """The session's metadata DB (SQLite or PostgreSQL), for subprocesses that get their own Airflow home."""
    from airflow.configuration import conf

    return conf.get("database", "sql_alchemy_conn")


def existing_airflow_env(home: Path, dags: Path, **extra: str) -> dict[str, str]:
    """An Airflow someone already runs: its own home and DAGs, the session's DB, no mesh settings at all."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__MESH__", "AIRFLOW__CORE__DAGS_FOLDER"))}
    home.mkdir(parents=True, exist_ok=True)
    env.update(AIRFLOW_HOME=str(home), AIRFLOW__CORE__DAGS_FOLDER=str(dags), PATH=f"{BIN}:{env.get('PATH', '')}",
               AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=metadata_db_url(), **extra)
    return env


# --- installed into an Airflow with its own DAGs and no mesh -------------------------------------------

@pytest.mark.usefixtures("airflow_db")
def test_without_a_registry_ordinary_dags_import_and_run(tmp_path: Path) -> None:
    dags = write_dags(tmp_path / "dags", ORDINARY_DAGS)
    env = existing_airflow_env(tmp_path / "home", dags)
    # The dag processor's DagBag (with the installed cluster policy), then each DAG run for real through
    # the Execution API against the metadata DB, as `airflow dags test` does.
    probe = subprocess.run([sys.executable, "-c", textwrap.dedent("""
        import json
        from datetime import datetime, timezone
        from airflow.dag_processing.dagbag import DagBag
        bag = DagBag()
        print("RESULT " + json.dumps({"dags": sorted(bag.dags), "errors": bag.import_errors}), flush=True)
        for day, dag_id in enumerate(sorted(bag.dags), start=2):
            bag.dags[dag_id].test(logical_date=datetime(2026, 11, day, tzinfo=timezone.utc))
    """)], env=env, capture_output=True, text=True, timeout=300)
    line = next((ln for ln in probe.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert line, probe.stderr[-3000:]
    result = json.loads(line[len("RESULT "):])
    assert result["errors"] == {}
    assert result["dags"] == ["deploy_plain_etl", "deploy_plain_report"]
    assert "no mesh registry is configured" in probe.stdout + probe.stderr  # the policy's one warning
    assert probe.returncode == 0, probe.stderr[-3000:]
    assert run_states("deploy_plain_etl") == {"extract": "success", "load": "success"}
    assert run_states("deploy_plain_report") == {"report": "success"}


def run_states(dag_id: str) -> dict[str, str]:
    """Task states of the DAG's only run, read from the metadata DB the subprocess wrote to."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        (run,) = session.query(DagRun).filter(DagRun.dag_id == dag_id).all()
        assert run.state == "success"
        return {ti.task_id: ti.state for ti in run.get_task_instances(session=session)}


# --- [mesh] root only in airflow.cfg: the CLI, the policy and the pages see the same registry -------------

@pytest.mark.usefixtures("airflow_db")
def test_root_only_in_airflow_cfg_reaches_validate_policy_and_pages(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "airflow.cfg").write_text(f"[mesh]\nroot = {ROOT}\nenforce = strict\n")
    dags = write_dags(tmp_path / "dags", {"deploy_no_team.py": ORDINARY_DAGS["deploy_plain_report.py"]})
    env = existing_airflow_env(home, dags)
    assert not any(k.startswith("AIRFLOW__MESH__") for k in env)

    validate = subprocess.run(["airflow-mesh", "validate"], env=env, capture_output=True, text=True, timeout=300)
    assert validate.returncode == 0, validate.stderr
    assert f"OK: 4 teams, 16 tables in {ROOT}" in validate.stdout

    probe = subprocess.run([sys.executable, "-c", textwrap.dedent("""
        import json
        from airflow.dag_processing.dagbag import DagBag
        from fastapi.testclient import TestClient
        from airflow.api_fastapi.app import create_app, get_auth_manager
        from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

        bag = DagBag()
        client = TestClient(create_app())
        jwt = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="deploy", role="viewer"))
        tables = client.get("/mesh/api/tables", headers={"Authorization": f"Bearer {jwt}"}).json()
        print("RESULT " + json.dumps({"errors": list(bag.import_errors.values()),
                                      "tables": sorted(t["name"] for t in tables)}))
    """)], env=env, capture_output=True, text=True, timeout=300)
    line = next((ln for ln in probe.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert line, probe.stderr[-3000:]
    result = json.loads(line[len("RESULT "):])
    # The policy enforces that registry: a DAG without a team is rejected (strict).
    assert len(result["errors"]) == 1 and "deploy_plain_report breaks 1 mesh rule" in result["errors"][0]
    # The plugin's pages serve the same registry.
    assert len(result["tables"]) == 16 and "payments.transactions" in result["tables"]


# --- commands where no mesh or no Airflow is configured -------------------------------------------------

def bare_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A shell with nothing configured: no AIRFLOW_* at all, an empty home."""
    home = tmp_path / "user"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(HOME=str(home), PATH=f"{BIN}:{env.get('PATH', '')}", **extra)
    return env


def test_registry_commands_without_a_root_exit_2_naming_the_setting(tmp_path: Path) -> None:
    env = bare_env(tmp_path, AIRFLOW_HOME=str(tmp_path / "airflow"))
    for argv in (["validate"], ["show", "payments.transactions"], ["backfill", "plan", "payments.transactions",
                                                                   "--start", "2026-11-01", "--end", "2026-11-02"]):
        proc = subprocess.run(["airflow-mesh", *argv], env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 2, (argv, proc.stdout, proc.stderr)
        assert "set [mesh] root (AIRFLOW__MESH__ROOT)" in proc.stderr, argv
    explicit = subprocess.run(["airflow-mesh", "validate", str(ROOT)], env=env, capture_output=True, text=True,
                              timeout=300)
    assert explicit.returncode == 0 and "16 tables" in explicit.stdout


def test_db_commands_refuse_instead_of_creating_a_db(tmp_path: Path) -> None:
    env = bare_env(tmp_path)
    status = subprocess.run(["airflow-mesh", "backfill", "status"], env=env, capture_output=True, text=True,
                            timeout=300)
    assert status.returncode == 2
    assert "no Airflow is configured here" in status.stderr and "Fix: set AIRFLOW_HOME" in status.stderr
    assert list(tmp_path.rglob("airflow.db")) == []

    empty_home = tmp_path / "empty-home"
    status = subprocess.run(["airflow-mesh", "backfill", "status"], env=dict(env, AIRFLOW_HOME=str(empty_home)),
                            capture_output=True, text=True, timeout=300)
    assert status.returncode == 2
    assert f"metadata DB {empty_home / 'airflow.db'} does not exist" in status.stderr
    assert list(tmp_path.rglob("airflow.db")) == []


# --- the demo on a port of one's choosing ---------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def demo_env(home: Path, port: int) -> dict[str, str]:
    """The environment scripts/demo_env.sh exports (what `PORT=<port> make demo` runs Airflow with)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    base.update(ROOT=str(ROOT), PORT=str(port), AIRFLOW_HOME=str(home))
    dump = subprocess.run(["bash", "-c", "set -e; source scripts/demo_env.sh; env -0"], cwd=ROOT, env=base,
                          capture_output=True, timeout=60, check=True).stdout
    env = dict(item.split("=", 1) for item in dump.decode().split("\0") if "=" in item)
    env["PATH"] = f"{BIN}:{env['PATH']}"  # this test's venv (make demo: the repository's .venv)
    env["MESH_EXAMPLE_POKE_SECONDS"] = "1"
    env["AIRFLOW__API__EXPOSE_STACKTRACE"] = "True"  # a 500 in the test names its cause
    return env


DB_INDEPENDENT = pytest.mark.skipif(os.environ.get("AIRFLOW_MESH_TEST_DB") == "postgresql",
                                    reason="does not use the suite's metadata DB: runs in the SQLite run only")


@DB_INDEPENDENT  # the demo has its own SQLite DB whatever the suite's
def test_demo_sqlite_waits_for_the_writer_instead_of_failing_after_5_seconds(tmp_path: Path) -> None:
    """Every demo component (sync and async engines) waits a minute for SQLite's one writer: with Python's 5 s
    default, triggering a run while standalone's components wrote answered HTTP 500 (seen in CI)."""
    env = demo_env(tmp_path / "demo", free_port())
    probe = """
import asyncio
from sqlalchemy import text
from airflow import settings
settings.configure_orm()
with settings.engine.connect() as c:
    print("busy_timeout", c.execute(text("PRAGMA busy_timeout")).scalar())
async def main():
    async with settings.async_engine.connect() as c:
        print("busy_timeout", (await c.execute(text("PRAGMA busy_timeout"))).scalar())
asyncio.run(main())
"""
    out = subprocess.run([str(BIN / "python"), "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    timeouts = [line.split()[1] for line in out.stdout.splitlines() if line.startswith("busy_timeout ")]
    assert timeouts == ["60000", "60000"], out.stdout[-3000:]


@DB_INDEPENDENT  # the demo has its own SQLite DB whatever the suite's
def test_demo_environment_on_another_port_runs_a_task(tmp_path: Path) -> None:
    import httpx
    from demo_sqlite import BUSY_TIMEOUT_SECONDS

    port = free_port()
    env = demo_env(tmp_path / "demo", port)
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == f"http://127.0.0.1:{port}/execution/"
    subprocess.run(["airflow", "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    log = open(tmp_path / "standalone.log", "w")
    server = subprocess.Popen(["airflow", "standalone"], env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        # A write may wait up to BUSY_TIMEOUT_SECONDS for SQLite's one writer while the components start
        # (a 10 s read timeout failed CI on the trigger POST): wait that long for an answer, plus its work.
        with httpx.Client(base_url=url, timeout=httpx.Timeout(BUSY_TIMEOUT_SECONDS + 30, connect=10)) as client:
            deadline = time.monotonic() + 240
            token = None
            while token is None:  # the API server is up and the DAG parsed
                assert time.monotonic() < deadline, (tmp_path / "standalone.log").read_text()[-4000:]
                assert server.poll() is None, (tmp_path / "standalone.log").read_text()[-4000:]
                try:
                    r = client.post("/auth/token", json={"username": "admin", "password": "admin"})
                    if r.status_code == 201:
                        headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
                        if client.get("/api/v2/dags/payments_hourly", headers=headers).status_code == 200:
                            token = headers
                except httpx.TransportError:
                    pass
                time.sleep(0.5)  # bounded polling: the deadline above
            run = client.post("/api/v2/dags/payments_hourly/dagRuns", headers=token,
                              json={"logical_date": "2026-11-20T05:00:00Z", "dag_run_id": "deploy_demo_port"})
            assert run.status_code == 200, run.text
            state = None
            while state not in ("success", "failed"):
                assert time.monotonic() < deadline + 240, (tmp_path / "standalone.log").read_text()[-4000:]
                state = client.get("/api/v2/dags/payments_hourly/dagRuns/deploy_demo_port", headers=token).json()["state"]
                time.sleep(1)
            assert state == "success", (tmp_path / "standalone.log").read_text()[-4000:]
        # The worker reached the Execution API on that port and wrote the run's partition.
        assert (tmp_path / "demo/warehouse/payments/transactions/hour=2026-11-20T04/part-00000.json").is_file()
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # standalone and every component it started (own session)
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            pass
        try:  # a component that ignored SIGTERM (the scheduler can be slow to stop) must not outlive the test
            os.killpg(server.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        server.wait(30)
        log.close()


# --- the package itself ---------------------------------------------------------------------------------

@DB_INDEPENDENT
def test_wheel_builds_without_warnings_and_ships_every_module(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "-w", str(tmp_path), str(ROOT)],
                           env=env, capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    output = build.stdout + build.stderr
    warnings = [ln for ln in output.splitlines()
                if "warning" in ln.lower() and not ln.strip().startswith("WARNING: Location ")]  # pip index config notes
    assert warnings == []
    (wheel,) = tmp_path.glob("airflow_mesh-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    sources = {str(p.relative_to(ROOT)) for p in (ROOT / "airflow_mesh").rglob("*")
               if p.is_file() and "__pycache__" not in p.parts}
    assert sources - names == set()
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    from airflow_mesh import __version__

    assert f"Version: {__version__}" in text and "Classifier: Framework :: Apache Airflow :: Provider" in text
