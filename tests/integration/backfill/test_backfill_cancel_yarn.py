"""Cancelling a mesh backfill job stops its Spark on YARN for real: a SparkYarnOperator task of the job runs
through Airflow's own worker path (``execute_workload``: the Task SDK supervisor against the live API server's
Execution API), submits to the loopback YARN RM SIMULATOR, and either defers to a real ``airflow triggerer``
(default) or polls on the worker (``deferrable=False``). ``steering.cancel`` then must get the application
KILLED on the cluster, leave no run of the job queued and record who cancelled.

Two paths kill the application. Airflow's: the supervisor's heartbeat is refused and it SIGTERMs the task
(``on_kill``), or the triggerer cancels the trigger of a task no longer deferred as a user action (the trigger's
``on_kill``). The mesh's own (``backfill/spark_apps.py``): the cancel kills the live applications of the tasks it
stopped by YARN tag, through the RM connection the operator recorded. The first two tests prove Airflow's path
alone: this process, where the cancel runs, has no RM connection (only the worker and triggerer have one). The
third gives it one and proves the mesh's path where Airflow's has nothing left to run (the triggerer died).

The scheduler's one step here, queueing the task instance, is done by the test (``queue_for_worker``): no
scheduler runs, so the job's other runs stay queued until the cancel.

The module has its own registry (the example's plus team ``cx`` with tables ``cx.*``), its own DAG ids
(``cx_*``) in a DAG bundle of its own, and dates in May 2025.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, table_ddl
from sqlalchemy import select

from airflow_mesh.core.intervals import UTC
from airflow_mesh.testing.spark_submit_simulator import install_shim
from airflow_mesh.testing.yarn_rm_simulator import YarnRMSimulator

pytestmark = pytest.mark.usefixtures("airflow_db", "mesh_jobs")

REPO = ROOT
BUNDLE = "cx-cancel"
TEAM = ("name: cx\ncontacts:\n  - name: Cora Cancel\n    email: cora@example.com\n"
        "yarn:\n  queue: cx\n  proxy_user: svc_cx\ndefaults:\n  retries: 0\n")
DAG_FILE = """
    from datetime import datetime
    from airflow.sdk import DAG
    from airflow_mesh.operators import SparkYarnOperator
    with DAG(dag_id="cx_{name}", schedule="@daily", start_date=datetime(2025, 5, 1), catchup=False):
        SparkYarnOperator(task_id="score", table="cx.{name}", application="{app}", retries=0,
                          poll_interval=0.3, max_backoff=1, deferrable={deferrable})
"""
DAGS = {"deferred": True, "worker": False}


def d(*a: int) -> datetime:
    return datetime(*a, tzinfo=UTC)


def ddl(name: str) -> str:
    return table_ddl(f"cx.{name}", {"mesh.producer": f"cx_{name}.score", "mesh.access": "public",
                                    "mesh.schedule": "@daily", "mesh.start_date": "2025-05-01"}, partition="day")


@pytest.fixture(scope="module")
def cx_mesh(tmp_path_factory: pytest.TempPathFactory, airflow_db) -> Iterator[Path]:
    """The example registry plus team ``cx`` and its two Spark DAGs in bundle ``cx-cancel``, synced to the DB."""
    root = tmp_path_factory.mktemp("cx_mesh")
    shutil.copytree(REPO / "teams", root / "teams")
    shutil.copytree(REPO / "ddl", root / "ddl")
    (root / "teams" / "cx.yaml").write_text(TEAM)
    (root / "ddl" / "cx").mkdir()
    (root / "dags" / "cx").mkdir(parents=True)
    for name, deferrable in DAGS.items():
        (root / "ddl" / "cx" / f"{name}.sql").write_text(ddl(name))
        (root / "dags" / "cx" / f"cx_{name}.py").write_text(textwrap.dedent(DAG_FILE.format(
            name=name, deferrable=deferrable, app=REPO / "jobs" / "fraud_scores.py")).lstrip())
    local = "airflow.dag_processing.bundles.local.LocalDagBundle"
    env = {
        "AIRFLOW__MESH__ROOT": str(root),
        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps([
            {"name": "dags-folder", "classpath": local, "kwargs": {}},
            {"name": BUNDLE, "classpath": local, "kwargs": {"path": str(root / "dags")}}]),
    }
    with pytest.MonkeyPatch.context() as patch:  # restored when the fixture ends
        for key, value in env.items():
            patch.setenv(key, value)
        from airflow.dag_processing.bundles.manager import DagBundlesManager
        from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db

        manager = DagBundlesManager()
        manager.sync_bundles_to_db()
        bundle = manager.get_bundle(BUNDLE)
        bundle.initialize()
        bag = BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path, bundle_name=BUNDLE)
        assert not bag.import_errors, bag.import_errors
        assert sorted(bag.dags) == ["cx_deferred", "cx_worker"]
        sync_bag_to_db(bag, BUNDLE, bundle.version)
        yield root


@pytest.fixture()
def rm(tmp_path: Path) -> Iterator[YarnRMSimulator]:
    with YarnRMSimulator() as sim:
        install_shim(tmp_path / "bin")   # spark-submit --master yarn submits to the simulator
        yield sim


@pytest.fixture()
def component_env(rm: YarnRMSimulator, live_server: str, tmp_path: Path, cx_mesh: Path,
                  monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """What a worker and a triggerer of this deployment see: the RM, the Spark connection, the Execution API."""
    monkeypatch.setenv("AIRFLOW__MESH__BACKFILL_MATERIALIZER", "false")   # the test materializes, in this process
    port = int(rm.url.rsplit(":", 1)[1])
    return dict(
        os.environ,
        AIRFLOW_CONN_YARN_RM_DEFAULT=json.dumps({"conn_type": "yarn_rm", "host": "127.0.0.1", "port": port}),
        AIRFLOW_CONN_MESH_SPARK=json.dumps({"conn_type": "spark", "host": "yarn", "extra": {
            "deploy-mode": "cluster", "yarn_resourcemanager_webapp_address": rm.url}}),
        YARN_RM_SIMULATOR_URL=rm.url,
        PATH=f"{tmp_path / 'bin'}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p),
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"{live_server}/execution/",
        AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL="1",   # the supervisor asks the API every second
        AIRFLOW__LOGGING__LOGGING_LEVEL="INFO",
    )


class Processes:
    """Subprocesses of the test, each stopped (by its own pid) and its output kept for failure messages."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, cmd: list[str], env: dict[str, str]) -> subprocess.Popen:
        out = open(self.tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process in stop()
        self.procs[name] = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        return self.procs[name]

    def log(self, name: str) -> str:
        return (self.tmp_path / f"{name}.log").read_text(errors="replace")

    def output(self) -> str:
        return "\n".join(f"--- {name} ---\n{self.log(name)[-6000:]}" for name in self.procs)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


@pytest.fixture()
def processes(tmp_path: Path) -> Iterator[Processes]:
    procs = Processes(tmp_path)
    yield procs
    procs.stop()


def wait_until(what: str, check: Callable[[], Any], procs: Processes, timeout: float = 120) -> Any:
    """Bounded polling: the first truthy ``check()``, else fail naming ``what`` with the components' output."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"not within {timeout:.0f} s: {what}\n{procs.output()}")


def start_job(table: str, user: str, first_day: int = 1) -> tuple[int, list[tuple[str, str]]]:
    """Accept and materialize a job backfilling ``table`` for three days of May 2025 from ``first_day``; its runs
    (dag_id, run_id), oldest first. Each test has its own days: a cleared run keeps its task state store."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    from airflow_mesh.backfill import jobs
    from airflow_mesh.backfill.materialize import materialize_next
    from airflow_mesh.backfill.request import BackfillRequest
    from airflow_mesh.settings import configured_mesh

    req = BackfillRequest(roots=[table], start=d(2025, 5, first_day), end=d(2025, 5, first_day + 3), downstream=False)
    job_id = jobs.submit(req.plan(configured_mesh(), datetime.now(UTC)), req, user).id
    materialize_next(job_id=job_id)
    with create_session() as s:
        backfills = [x["backfill_id"] for x in jobs.get_job(s, job_id)["dags"]]
        runs = s.execute(select(DagRun.dag_id, DagRun.run_id, DagRun.state).where(DagRun.backfill_id.in_(backfills))
                         .order_by(DagRun.logical_date)).all()
    assert [str(r.state) for r in runs] == ["queued"] * 3
    return job_id, [(r.dag_id, r.run_id) for r in runs]


def queue_for_worker(dag_id: str, run_id: str) -> str:
    """The scheduler's part: start the run, queue its task instance and hand the worker an ``ExecuteTask``
    workload (with its Execution API token), as an executor does. Returns the workload as JSON."""
    from airflow.api_fastapi.auth.tokens import JWTGenerator, get_signing_args
    from airflow.configuration import conf
    from airflow.executors.workloads import ExecuteTask
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, TaskInstanceState

    generator = JWTGenerator(valid_for=conf.getint("execution_api", "jwt_expiration_time"),
                             audience=conf.get_mandatory_list_value("execution_api", "jwt_audience")[0],
                             issuer=conf.get("api_auth", "jwt_issuer", fallback=None),
                             **get_signing_args(make_secret_key_if_needed=False))
    with create_session() as s:
        run = s.scalars(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)).one()
        run.state, run.start_date = DagRunState.RUNNING, datetime.now(UTC)
        ti = s.scalars(select(TI).where(TI.dag_id == dag_id, TI.run_id == run_id, TI.task_id == "score")).one()
        ti.state, ti.try_number, ti.queued_dttm = TaskInstanceState.QUEUED, 1, datetime.now(UTC)
        s.flush()
        return ExecuteTask.make(ti, generator=generator).model_dump_json()


def task_log(dag_id: str, run_id: str) -> str:
    """Every log file Airflow wrote for that task instance: the worker's and the triggerer's (``*.trigger.*``)."""
    from airflow.configuration import conf

    folder = Path(conf.get("logging", "base_log_folder")) / f"dag_id={dag_id}" / f"run_id={run_id}" / "task_id=score"
    return "".join(f.read_text(errors="replace") for f in sorted(folder.glob("*.log")))


def ti_state(dag_id: str, run_id: str) -> str | None:
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.utils.session import create_session

    with create_session() as s:
        state = s.scalar(select(TI.state).where(TI.dag_id == dag_id, TI.run_id == run_id, TI.task_id == "score"))
    return str(state) if state else None


def trigger_of(dag_id: str, run_id: str) -> int | None:
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.utils.session import create_session

    with create_session() as s:
        return s.scalar(select(TI.trigger_id).where(TI.dag_id == dag_id, TI.run_id == run_id, TI.task_id == "score"))


def trigger_exists(trigger_id: int) -> bool:
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session

    with create_session() as s:
        return s.get(Trigger, trigger_id) is not None


def app_of(rm: YarnRMSimulator, dag_id: str, run_id: str) -> dict | None:
    """The simulator's application of that task instance, found by the operator's YARN tag."""
    from airflow_mesh.operators.spark_yarn import application_tag

    tag = application_tag(dag_id, "score", run_id, -1)
    with rm.lock:
        return next((a for a in rm.apps.values() if tag in a["tags"]), None)


def app_state(rm: YarnRMSimulator, app_id: str) -> str:
    with rm.lock:
        app = rm.apps[app_id]
        return app["script"][app["step"]][0]


def job_run_states(job_id: int) -> list[str]:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    from airflow_mesh.backfill.jobs import get_job

    with create_session() as s:
        backfills = [x["backfill_id"] for x in get_job(s, job_id)["dags"]]
        return sorted(str(x) for x in s.scalars(select(DagRun.state).where(DagRun.backfill_id.in_(backfills))))


def kill_requests(rm: YarnRMSimulator, app_id: str) -> int:
    with rm.lock:
        return rm.requests.count(("PUT", f"/ws/v1/cluster/apps/{app_id}/state"))


def run_worker(procs: Processes, env: dict[str, str], workload: str) -> subprocess.Popen:
    return procs.start("worker", [sys.executable, "-m", "airflow.sdk.execution_time.execute_workload",
                                  "--json-string", workload], env)


def test_cancel_kills_the_yarn_application_of_a_deferred_spark_task_through_the_triggerer(
        rm, component_env, processes) -> None:
    from airflow_mesh.backfill import steering

    rm.script_next([["ACCEPTED", "UNDEFINED"], ["RUNNING", "UNDEFINED"]])   # runs until someone kills it
    job_id, runs = start_job("cx.deferred", "frank")
    dag_id, run_id = runs[0]
    processes.start("triggerer", [sys.executable, "-m", "airflow", "triggerer", "--capacity", "10"], component_env)
    worker = run_worker(processes, component_env, queue_for_worker(dag_id, run_id))

    wait_until("the task submitted its application and deferred",
               lambda: ti_state(dag_id, run_id) == "deferred" and app_of(rm, dag_id, run_id), processes)
    app_id = app_of(rm, dag_id, run_id)["id"]
    assert worker.wait(60) == 0   # the worker slot is free: tracking is the triggerer's
    # The triggerer tracks it: it polls the RM until the application is RUNNING (and keeps polling).
    polls = wait_until("the triggerer saw the application RUNNING",
                       lambda: app_state(rm, app_id) == "RUNNING" and rm.polls(app_id), processes)
    wait_until("the triggerer polled the RUNNING application again", lambda: rm.polls(app_id) > polls, processes)
    assert kill_requests(rm, app_id) == 0
    assert "AIRFLOW_CONN_YARN_RM_DEFAULT" not in os.environ   # the cancel itself cannot reach the RM: Airflow's path

    record = steering.cancel(job_id, "frank")

    assert record["status"] == "cancelled" and record["cancelled_by"] == "frank"
    assert record["status_reason"] == "cancelled by frank"
    assert job_run_states(job_id) == ["failed"] * 3           # none left queued (nor running)
    assert ti_state(dag_id, run_id) == "failed"
    wait_until("the triggerer killed the YARN application", lambda: app_state(rm, app_id) == "KILLED", processes)
    assert kill_requests(rm, app_id) >= 1
    # ... from the trigger's on_kill: the triggerer cancels a trigger whose task left DEFERRED as a user action.
    wait_until("the trigger's log says it killed the application", lambda: (
        f"Killed YARN application {app_id} because the task was stopped by a user" in task_log(dag_id, run_id)),
        processes, timeout=30)
    assert "Trigger cancelled by user action, invoking on_kill" in task_log(dag_id, run_id)
    assert [a["id"] for a in rm.apps.values()] == [app_id]   # nothing else was submitted
    assert ti_state(dag_id, run_id) == "failed"


def test_cancel_kills_the_yarn_application_of_a_spark_task_polling_on_the_worker(
        rm, component_env, processes) -> None:
    from airflow_mesh.backfill import steering

    rm.script_next([["ACCEPTED", "UNDEFINED"], ["RUNNING", "UNDEFINED"]])
    job_id, runs = start_job("cx.worker", "grace")
    dag_id, run_id = runs[0]
    worker = run_worker(processes, component_env, queue_for_worker(dag_id, run_id))

    app = wait_until("the task submitted its application", lambda: app_of(rm, dag_id, run_id), processes)
    app_id = app["id"]
    polls = wait_until("the worker saw the application RUNNING",
                       lambda: app_state(rm, app_id) == "RUNNING" and rm.polls(app_id), processes)
    wait_until("the worker polled the RUNNING application again", lambda: rm.polls(app_id) > polls, processes)
    assert ti_state(dag_id, run_id) == "running" and worker.poll() is None and kill_requests(rm, app_id) == 0
    assert "AIRFLOW_CONN_YARN_RM_DEFAULT" not in os.environ   # the cancel itself cannot reach the RM: Airflow's path

    record = steering.cancel(job_id, "grace")

    assert record["status"] == "cancelled" and record["cancelled_by"] == "grace"
    assert job_run_states(job_id) == ["failed"] * 3
    # The supervisor's next heartbeat is refused (409: no longer running): SIGTERM, the operator's on_kill.
    wait_until("the worker's on_kill killed the YARN application", lambda: app_state(rm, app_id) == "KILLED",
               processes)
    assert kill_requests(rm, app_id) >= 1
    wait_until("the worker exited", lambda: worker.poll() is not None, processes, timeout=60)
    log = processes.log("worker")
    assert "Server indicated the task shouldn't be running anymore" in log
    assert f"Killed YARN application {app_id} through the ResourceManager" in log   # the operator's on_kill
    assert ti_state(dag_id, run_id) == "failed"
    assert [a["id"] for a in rm.apps.values()] == [app_id]


def test_cancel_kills_the_application_itself_when_the_triggerer_holding_the_trigger_died(
        rm, component_env, processes, monkeypatch) -> None:
    """Airflow alone leaves this application running for good: the trigger's triggerer was SIGKILLed (OOM, lost
    node) and the cancel comes before another triggerer adopted the trigger (a dead triggerer counts as alive
    for ``[triggerer] triggerer_health_check_threshold``, 30 s by default; here 600 s, so the test does not
    depend on how fast the machine is), so no triggerer runs the trigger when its task is failed, and the next
    triggerer's ``clean_unused`` deletes the trigger without ``on_kill``."""
    from airflow_mesh.backfill import steering

    component_env = dict(component_env, AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD="600")

    rm.script_next([["ACCEPTED", "UNDEFINED"], ["RUNNING", "UNDEFINED"]])
    job_id, runs = start_job("cx.deferred", "heidi", first_day=11)
    dag_id, run_id = runs[0]
    triggerer = processes.start("triggerer", [sys.executable, "-m", "airflow", "triggerer", "--capacity", "10"],
                                component_env)
    run_worker(processes, component_env, queue_for_worker(dag_id, run_id))
    wait_until("the task submitted its application and deferred",
               lambda: ti_state(dag_id, run_id) == "deferred" and app_of(rm, dag_id, run_id), processes)
    app_id = app_of(rm, dag_id, run_id)["id"]
    polls = wait_until("the triggerer saw the application RUNNING",
                       lambda: app_state(rm, app_id) == "RUNNING" and rm.polls(app_id), processes)
    wait_until("the triggerer polled the RUNNING application again", lambda: rm.polls(app_id) > polls, processes)
    trigger_id = trigger_of(dag_id, run_id)
    assert trigger_id is not None
    os.killpg(triggerer.pid, signal.SIGKILL)   # the triggerer dies with the trigger in it
    triggerer.wait(30)
    # The API server (this process) has the RM connection the operator recorded (yarn_rm_default).
    monkeypatch.setenv("AIRFLOW_CONN_YARN_RM_DEFAULT", component_env["AIRFLOW_CONN_YARN_RM_DEFAULT"])

    record = steering.cancel(job_id, "heidi")

    assert record["status"] == "cancelled" and record["cancelled_by"] == "heidi"
    assert job_run_states(job_id) == ["failed"] * 3
    # A new triggerer comes up and drops the trigger of the failed task without running it (no on_kill) ...
    processes.start("triggerer-2", [sys.executable, "-m", "airflow", "triggerer", "--capacity", "10"],
                    component_env)
    wait_until("the new triggerer deleted the orphaned trigger", lambda: not trigger_exists(trigger_id), processes)
    # ... so the one kill is the cancel's own.
    assert app_state(rm, app_id) == "KILLED" and kill_requests(rm, app_id) == 1
    assert [a["id"] for a in rm.apps.values()] == [app_id]
