"""Test session: a real Airflow home with a real metadata DB and the example mesh's DAGs.

The environment is set before anything imports Airflow, so every test talks to
this throw-away home and never to a developer's own Airflow.

The metadata DB is SQLite in that home, or with ``AIRFLOW_MESH_TEST_DB=postgresql`` a throw-away
PostgreSQL server started here and stopped at the end (``scripts/throwaway_postgres.py``).
``make test`` runs the whole suite both ways. No test may assume SQLite.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_ROOT = ROOT  # the example registry (teams/, ddl/) and DAGs (dags/) live at the repository's top level
sys.path.insert(0, str(ROOT / "scripts"))  # seed.py: demo and test tooling, not part of the wheel
sys.path.append(str(ROOT / "dags"))  # the example DAGs' helpers (dags/_example/), as Airflow's bundle DagBag adds it
HOME = Path(tempfile.mkdtemp(prefix="airflow-mesh-test-home-"))
os.environ.update({
    "AIRFLOW_HOME": str(HOME),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
    "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
    # Every mesh setting is a [mesh] option, read through Airflow's configuration.
    "MESH_EXAMPLE_WAREHOUSE": str(HOME / "warehouse"),  # the example DAGs' own settings (dags/_example/)
    "AIRFLOW__MESH__CACHE_DIR": str(HOME / "mesh-cache"),
    "MESH_EXAMPLE_POKE_SECONDS": "1",
    # Spark: the example mesh's Spark job runs for real in local mode, with this venv's Python and spark-submit.
    "AIRFLOW_CONN_MESH_SPARK": '{"conn_type": "spark", "host": "local[1]"}',
    "PYSPARK_PYTHON": sys.executable,
    "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    "AIRFLOW__API_AUTH__JWT_SECRET": "airflow-mesh-tests-only-secret-" + "x" * 64,
    # Known logins for the UI tests (SimpleAuthManager): admin may edit every DAG, viewer only reads.
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,viewer:viewer",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(HOME / "passwords.json"),
})
(HOME / "passwords.json").write_text('{"admin": "admin-pw", "viewer": "viewer-pw"}')
os.environ["AIRFLOW__MESH__ROOT"] = str(EXAMPLE_ROOT)

TEST_DB = os.environ.get("AIRFLOW_MESH_TEST_DB", "sqlite").lower()
if TEST_DB == "postgresql":
    from throwaway_postgres import ThrowawayPostgres

    _postgres = ThrowawayPostgres()
    atexit.register(_postgres.stop)  # also when the session dies early
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = _postgres.start()
elif TEST_DB == "sqlite":
    os.environ.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)  # SQLite in the throw-away home
else:
    raise RuntimeError(f"AIRFLOW_MESH_TEST_DB={TEST_DB!r}: use sqlite or postgresql")


def pytest_report_header(config) -> str:
    return f"airflow-mesh metadata DB: {_db_description()}"


def pytest_terminal_summary(terminalreporter) -> None:
    terminalreporter.write_line(f"airflow-mesh: this run used {_db_description()}")


def _db_description() -> str:
    if TEST_DB == "postgresql":
        return f"PostgreSQL (throw-away server, {_postgres.bin.parent.name}) at {_postgres.url}"
    return f"SQLite at {HOME / 'airflow.db'}"


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """Migrate a fresh metadata DB once per session and load the example DAGs into it."""
    from airflow.utils.db import resetdb
    from seed import sync_dags_to_db

    resetdb()
    sync_dags_to_db()
    return HOME


@pytest.fixture(scope="session")
def live_server(airflow_db):
    """Airflow's real API server app (UI, REST API, mounted plugins) on a loopback port, in this process."""
    import socket
    import threading

    import httpx
    import uvicorn
    from airflow.api_fastapi.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    with httpx.Client(timeout=5) as client:
        for _ in range(300):  # readiness: until the health endpoint answers (at most ~30 s)
            try:
                status = client.get(f"{url}/api/v2/monitor/health").status_code
                if status < 500:
                    break
            except httpx.TransportError:
                pass
            thread.join(0.1)
        else:
            raise RuntimeError("the API server did not start")
    yield url
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium, driven by Playwright (no browser download)."""
    import shutil

    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        raise RuntimeError("Chromium is missing: 'apt-get install chromium' (make test does this)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield b
        b.close()


def ui_login(browser, live_server: str, username: str, password: str):
    """Log in through Airflow's own login page, as a user would; returns the logged-in page."""
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    page.goto(f"{live_server}/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda u: "/auth/login" not in u, timeout=30000)
    return page


def plugin_frame(page, url: str | None = None, ready: str | None = None, timeout_ms: int = 60000):
    """A mesh page as Airflow shows it: the iframe ``external_views`` renders at ``/plugin/<route>``
    (opened at ``url`` first, when given), once the selector ``ready`` is in it."""
    if url is not None:
        page.goto(url)
    page.wait_for_selector("iframe", timeout=timeout_ms)
    frame = page.frame_locator("iframe").first
    if ready is not None:
        frame.locator(ready).first.wait_for(timeout=timeout_ms)
    return frame


class StateStore(dict):
    """The task state store of one task instance as the worker hands it over (``get``/``set``), kept across tries."""

    def set(self, key, value):
        self[key] = value


def worker_context(run_id: str, day, store: StateStore | None = None) -> dict:
    """What a worker hands risk_daily's Spark task for one task instance (the same for every try)."""
    from datetime import UTC, datetime
    from types import SimpleNamespace

    ti = SimpleNamespace(dag_id="risk_daily", task_id="score_fraud", run_id=run_id, map_index=-1,
                         start_date=datetime.now(UTC), stats_tags={})
    ctx = {"ti": ti, "logical_date": day, "data_interval_start": day, "data_interval_end": day}
    if store is not None:
        ctx["task_state_store"] = store
    return ctx


def spark_operator(**attributes):
    """risk_daily's Spark task as a new worker parses it from the DAG file, with ``attributes`` set on it."""
    from airflow.dag_processing.dagbag import DagBag

    op = DagBag().dags["risk_daily"].get_task("score_fraud")
    for k, v in attributes.items():
        setattr(op, k, v)
    return op


def table_ddl(table: str, properties: dict[str, str], partition: str = "part") -> str:
    """A minimal DDL file for ``table`` (``db.name``): a commented id column and a partition column, and
    ``properties`` as its TBLPROPERTIES in the order given (line numbers in located errors follow it)."""
    name = table.split(".", 1)[1]
    body = ",\n".join(f"  '{key}' = '{value}'" for key, value in properties.items())
    return (f"CREATE TABLE {table} (\n  id STRING COMMENT 'Row id',\n  {partition} STRING COMMENT 'Partition'\n)\n"
            f"USING parquet\nPARTITIONED BY ({partition})\nCOMMENT 'Table {name}'\nTBLPROPERTIES (\n{body}\n);\n")


# Schedules by name, as a table contract spells them (the one-DAG-per-table meshes of the planner tests).
MACRO = {"hourly": "@hourly", "daily": "@daily", "weekly": "@weekly", "monthly": "@monthly", "offset": "30 2 * * *"}
_TEAM = "name: {t}\ncontacts:\n  - name: Lead\n    email: lead@example.com\nyarn:\n  queue: {t}\n"


def write_mesh(root: Path, tables: dict[str, tuple[str, list[str]]]) -> Path:
    """``{name: (schedule key, inputs)}``; one DAG per table; all of team 'data'."""
    (root / "teams").mkdir(parents=True)
    (root / "teams" / "data.yaml").write_text(_TEAM.format(t="data"))
    (root / "ddl" / "data").mkdir(parents=True)
    for name, (sched, inputs) in tables.items():
        props = {"mesh.producer": f"dag_{name}.build", "mesh.schedule": MACRO[sched], "mesh.access": "public",
                 "mesh.start_date": "2025-01-01"}
        props |= {"mesh.inputs": ", ".join(f"db.{i}" for i in inputs)} if inputs else {}
        (root / "ddl" / "data" / f"{name}.sql").write_text(table_ddl(f"db.{name}", props))
    return root


class LockSampler(threading.Thread):
    """PostgreSQL: the longest any backend of the engine's database has waited on a lock, sampled every 50 ms
    (measured from the start of its waiting statement, so an upper bound) until :meth:`finish`."""

    def __init__(self, engine) -> None:
        super().__init__(daemon=True)
        self.engine = engine
        self.worst = 0.0
        self.samples = 0
        self._stop_sampling = threading.Event()

    def run(self) -> None:
        from sqlalchemy import text

        with self.engine.connect() as c:
            while not self._stop_sampling.is_set():
                waited = c.execute(text(
                    "SELECT coalesce(max(extract(epoch FROM now() - query_start)), 0) FROM pg_stat_activity "
                    "WHERE wait_event_type = 'Lock' AND datname = current_database()")).scalar()
                c.commit()
                self.worst = max(self.worst, float(waited))
                self.samples += 1
                self._stop_sampling.wait(0.05)

    def finish(self) -> None:
        self._stop_sampling.set()
        self.join(10)


def separate_database_url(tmp: Path, name: str) -> str:
    """A metadata DB of a module's own, on the same kind of server as the session's.

    SQLite: a file in ``tmp``. Otherwise a fresh database ``<session db>_mesh_<name>`` beside the session's on
    the same server (dropped and created again), so PostgreSQL runs test PostgreSQL.
    """
    from airflow.configuration import conf
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(conf.get("database", "sql_alchemy_conn"))
    if url.get_backend_name() == "sqlite":
        return str(url.set(database=str(tmp / f"{name}.db")))
    database = f"{url.database}_mesh_{name}"
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{database}"'))
        conn.execute(text(f'CREATE DATABASE "{database}"'))
    engine.dispose()
    return url.set(database=database).render_as_string(hide_password=False)


@pytest.fixture
def mesh_copy(tmp_path: Path) -> Path:
    """A copy of the example registry (teams/ and ddl/) that a test may break."""
    import shutil

    root = tmp_path / "mesh"
    shutil.copytree(EXAMPLE_ROOT / "teams", root / "teams")
    shutil.copytree(EXAMPLE_ROOT / "ddl", root / "ddl")
    return root


@pytest.fixture(scope="session")
def mesh_tables(airflow_db) -> None:
    """The mesh's tables, as ``airflow db migrate`` makes them through MeshDBManager (idempotent)."""
    from airflow.utils.session import create_session

    from airflow_mesh.backfill.db_manager import MeshDBManager

    with create_session() as s:
        MeshDBManager(s).initdb()


@pytest.fixture
def mesh_jobs(mesh_tables):
    """After the test, cancel every job it left active: no scheduler runs in these tests, and an active job
    holds its DAGs (one active backfill per DAG), which would refuse the next test's plan."""
    yield
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from airflow_mesh.backfill import steering
    from airflow_mesh.backfill.models import JobStatus, job

    with create_session() as s:
        ids = s.scalars(select(job.c.id).where(job.c.status.in_([x.value for x in JobStatus if x.active]))).all()
    for job_id in ids:
        steering.cancel(job_id, "test-teardown")


# --- one real local YARN (Hadoop's MiniYARNCluster, scripts/local_yarn.py) for the whole test session ----
# Started on first use and stopped at the end of the session, which must leave no JVM behind. Each test that
# uses it gets the worker's view through ``real_yarn``: HADOOP_CONF_DIR, PYSPARK_ARCHIVES_PATH, the cluster's
# ``yarn`` CLI on PATH, and the ``mesh_spark`` / ``yarn_rm_default`` connections pointing at it (undone after
# the test, so other modules keep their local[1] Spark and their simulator). Here, not in a conftest.py of
# tests/integration/spark/: a second module named conftest would shadow this one for `from conftest import`.


class RealYarn:
    """The session's cluster, plus the RM REST calls tests assert on (the RM's own answers)."""

    def __init__(self, cluster) -> None:
        self.cluster = cluster
        self.url = cluster.rm_url

    def app(self, app_id: str) -> dict:
        r = httpx.get(f"{self.url}/ws/v1/cluster/apps/{app_id}", timeout=10)
        if r.status_code == 404:
            return {}
        r.raise_for_status()
        return r.json()["app"]

    def apps_with_tag(self, tag: str) -> list[dict]:
        r = httpx.get(f"{self.url}/ws/v1/cluster/apps", params={"applicationTags": tag}, timeout=10)
        r.raise_for_status()
        return ((r.json() or {}).get("apps") or {}).get("app") or []

    def attempts(self, app_id: str) -> list[dict]:
        r = httpx.get(f"{self.url}/ws/v1/cluster/apps/{app_id}/appattempts", timeout=10)
        r.raise_for_status()
        return r.json()["appAttempts"]["appAttempt"]

    def wait_terminal(self, app_id: str, timeout: float = 180) -> dict:
        """The application's report once it is terminal (bounded; polls the RM once a second)."""
        deadline = time.monotonic() + timeout
        while True:
            app = self.app(app_id)
            if app.get("state") in ("FINISHED", "FAILED", "KILLED") or time.monotonic() > deadline:
                return app
            time.sleep(1)

    def kill(self, app_id: str) -> None:
        httpx.put(f"{self.url}/ws/v1/cluster/apps/{app_id}/state", json={"state": "KILLED"}, timeout=10)


@pytest.fixture(scope="session")
def local_yarn() -> Iterator[RealYarn]:
    from local_yarn import LocalYarn

    cluster = LocalYarn()
    cluster.start()
    try:
        yield RealYarn(cluster)
    finally:
        killed_by_hand = cluster.stop()
        pid_gone = cluster.cluster_dir is not None and not LocalYarn.processes_in(str(cluster.cluster_dir.resolve()))
        assert pid_gone, "processes of the local YARN survived its stop"
        assert killed_by_hand == [], f"container processes outlived the NodeManager: {killed_by_hand}"


@pytest.fixture()
def real_yarn(local_yarn: RealYarn, monkeypatch: pytest.MonkeyPatch) -> RealYarn:
    cluster = local_yarn.cluster
    for key, value in cluster.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AIRFLOW_CONN_MESH_SPARK", json.dumps(cluster.spark_connection()))
    monkeypatch.setenv("AIRFLOW_CONN_YARN_RM_DEFAULT", json.dumps(cluster.rm_connection()))
    return local_yarn
