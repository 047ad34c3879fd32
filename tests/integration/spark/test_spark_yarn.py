"""SparkYarnOperator against the loopback YARN RM SIMULATOR (submitted through a spark-submit simulator), for
what a real RM cannot be made to do on demand: 503s and outages mid-job, an RM down while killing, and one
scripted end not moved to the real cluster (a succeeded application reused with ``reuse_succeeded=True``).
Submit/finish, a failing job with its traceback, an unknown queue, re-attach by tag and through the task state
store, the forgotten application, execution_timeout, kills (worker, user while deferred, on the cluster) and
a clear run on a REAL YARN: ``tests/integration/spark/test_yarn_cluster.py``.
Also a real spark-submit in local mode through the same operator.
Dates in October 2026 belong to this module."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import datetime
from pathlib import Path

import pytest
from conftest import StateStore, spark_operator, worker_context

from airflow_mesh.core.intervals import UTC
from airflow_mesh.testing.spark_submit_simulator import install_shim
from airflow_mesh.testing.yarn_rm_simulator import YarnRMSimulator

pytestmark = pytest.mark.usefixtures("airflow_db")


@pytest.fixture()
def rm(monkeypatch, tmp_path):
    """The RM simulator, a yarn_rm connection to it, and spark-submit for 'yarn' replaced by the simulator."""
    with YarnRMSimulator() as sim:
        port = sim.url.rsplit(":", 1)[1]
        monkeypatch.setenv("AIRFLOW_CONN_YARN_RM_DEFAULT", json.dumps({"conn_type": "yarn_rm", "host": "127.0.0.1", "port": int(port)}))
        monkeypatch.setenv("AIRFLOW_CONN_MESH_SPARK", json.dumps({"conn_type": "spark", "host": "yarn", "extra": {
            "deploy-mode": "cluster", "yarn_resourcemanager_webapp_address": sim.url}}))
        monkeypatch.setenv("YARN_RM_SIMULATOR_URL", sim.url)
        install_shim(tmp_path / "bin")
        monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
        yield sim


@pytest.fixture(scope="module")
def risk_daily():
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag().dags["risk_daily"]
    task = dag.get_task("score_fraud")
    task.retries, task.poll_interval, task.max_backoff = 0, 0.2, 0.2
    return dag


def run(dag, day: datetime):
    dr = dag.test(logical_date=day, mark_success_pattern="wait_.*")
    return dr, {ti.task_id: ti.state for ti in dr.get_task_instances()}


def d(*a: int) -> datetime:
    return datetime(*a, tzinfo=UTC)


def test_rm_outage_mid_job_is_ridden_out_without_losing_the_application(rm, risk_daily, capfd) -> None:
    """SIMULATOR: 503s mid-job, which a real RM does not give on demand."""
    rm.script_next([["ACCEPTED", "UNDEFINED"], ["RUNNING", "UNDEFINED"], ["OUTAGE", "4"], ["FINISHED", "SUCCEEDED"]])
    _, states = run(risk_daily, d(2026, 10, 5))
    out = "".join(capfd.readouterr())
    assert states["score_fraud"] == "success"
    assert len(rm.apps) == 1 and out.count("ResourceManager unavailable") == 4
    assert rm.polls(next(iter(rm.apps))) == 2 + 4 + 1       # the same application, tracked through the outage


def test_retry_after_worker_loss_reattaches_through_the_task_state_store(rm) -> None:
    """SIMULATOR. The provider's durable path: try 1 persisted the id; try 2 reads it and re-attaches."""
    from airflow.sdk.exceptions import TaskDeferred

    rm.script_next([["ACCEPTED", "UNDEFINED"], ["RUNNING", "UNDEFINED"]])  # stays RUNNING until told otherwise
    store = StateStore()
    ctx = worker_context("scheduled__2026-10-11T00:00:00+00:00", d(2026, 10, 11), store)
    with pytest.raises(TaskDeferred) as first:
        spark_operator().execute(ctx)       # try 1 submits, persists the id, defers ... and its worker dies
    app_id = first.value.trigger.app_id
    # the id, and the RM connection a job cancel uses to kill the application (backfill/spark_apps.py)
    assert store == {"spark_job_id": app_id, "mesh_yarn_conn_id": "yarn_rm_default"}
    with pytest.raises(TaskDeferred) as second:
        spark_operator().execute(ctx)       # try 2 on another worker
    assert second.value.trigger.app_id == app_id and len(rm.apps) == 1

    rm.set_state(app_id, "FINISHED", "SUCCEEDED")
    event = asyncio.run(first_event(second.value.trigger))
    assert spark_operator().execute_complete(ctx, event.payload) == app_id

    # Cleared after success (a backfill): the stored succeeded id does not skip the job (apache/airflow#71356) ...
    with pytest.raises(TaskDeferred) as third:
        spark_operator().execute(ctx)
    assert third.value.trigger.app_id != app_id and len(rm.apps) == 2
    assert store == {"spark_job_id": third.value.trigger.app_id, "mesh_yarn_conn_id": "yarn_rm_default"}
    # ... unless the task asks to reuse a succeeded application.
    rm.set_state(third.value.trigger.app_id, "FINISHED", "SUCCEEDED")
    assert spark_operator(reuse_succeeded=True).execute(ctx) == third.value.trigger.app_id and len(rm.apps) == 2


def test_non_deferrable_mode_polls_on_the_worker_through_an_outage(rm) -> None:
    """SIMULATOR: an outage while the worker polls."""
    rm.script_next([["ACCEPTED", "UNDEFINED"], ["OUTAGE", "2"], ["RUNNING", "UNDEFINED"], ["FINISHED", "SUCCEEDED"]])
    op = spark_operator(deferrable=False, poll_interval=0.01, max_backoff=0.01)
    app_id = op.execute(worker_context("manual__sync-1", d(2026, 10, 9)))
    assert app_id == next(iter(rm.apps)) and rm.polls(app_id) == 1 + 2 + 2


async def first_event(trigger):
    async for event in trigger.run():
        return event


def test_kill_falls_back_to_the_yarn_cli_when_the_rm_is_down(rm, tmp_path, monkeypatch) -> None:
    """SIMULATOR: the RM down (100 failed requests) while killing."""
    import logging

    from airflow_mesh.hooks.yarn_rm import YarnResourceManagerHook
    from airflow_mesh.operators.spark_yarn import kill_application

    calls = tmp_path / "yarn-calls"
    (tmp_path / "bin" / "yarn").write_text(f"#!/bin/sh\necho \"$@\" >> {calls}\n")
    (tmp_path / "bin" / "yarn").chmod(0o755)
    rm.fail_next(100)
    assert kill_application(YarnResourceManagerHook().get_conn(), "application_1_0001", logging.getLogger("t"))
    assert calls.read_text().strip() == "application -kill application_1_0001"


def test_yarn_client_mode_is_refused_with_a_fix(rm, monkeypatch) -> None:
    """In client mode the driver would run on the worker: nothing to defer, nothing to re-attach (the SIMULATOR's
    URL only: the check happens before any RM call)."""
    from airflow.sdk.exceptions import AirflowException

    monkeypatch.setenv("AIRFLOW_CONN_MESH_SPARK", json.dumps({"conn_type": "spark", "host": "yarn", "extra": {
        "deploy-mode": "client", "yarn_resourcemanager_webapp_address": rm.url}}))
    with pytest.raises(AirflowException, match="deploy-mode 'client'. Fix: set extra \"deploy-mode\": \"cluster\""):
        spark_operator().execute(worker_context("manual__client-1", d(2026, 10, 12), StateStore()))
    assert rm.apps == {}


def test_real_spark_submit_in_local_mode_writes_the_partition(risk_daily) -> None:
    warehouse = Path(os.environ["MESH_EXAMPLE_WAREHOUSE"])
    _, states = run(risk_daily, d(2026, 10, 10))   # connection mesh_spark = local[1] (conftest)
    assert states["score_fraud"] == "success"
    target = warehouse / "risk" / "fraud_scores_daily" / "day=2026-10-09"
    assert (target / "_SUCCESS").exists()
    parts = list(target.glob("part-*.parquet"))
    assert len(parts) == 1 and parts[0].stat().st_size > 0
    import pyarrow.parquet as pq

    table = pq.read_table(parts[0])
    assert table.num_rows == 20 and table.column_names == ["merchant_id", "fraud_score", "model_version"]
