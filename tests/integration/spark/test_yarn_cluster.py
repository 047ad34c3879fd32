"""SparkYarnOperator on a REAL YARN: Hadoop 3.5.0's ResourceManager and NodeManager (MiniYARNCluster, started once
per session by ``conftest.py``), real ``spark-submit --master yarn --deploy-mode cluster`` of the example PySpark
job as the team's proxy user in the team's queue. Every assertion is on the RM's own answers
(``/ws/v1/cluster/apps``), on the partition the job wrote, or on what the operator returns or raises.

The tests run in file order and share the cluster: the last one needs the RM to have forgotten the first
application (``max-completed-applications`` is 3). Dates in March 2027 belong to this module.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import StateStore, spark_operator, worker_context

from airflow_mesh.core.intervals import UTC
from airflow_mesh.operators.spark_yarn import application_tag

pytestmark = pytest.mark.usefixtures("airflow_db")

FAILING_JOB = """\
from pyspark.sql import SparkSession
spark = SparkSession.builder.getOrCreate()
raise ValueError("boom: the input of this partition is bad")
"""


def d(*a: int) -> datetime:
    return datetime(*a, tzinfo=UTC)


def fresh_operator(**kw):
    """The operator as a new worker parses it, polling the real RM at a test's pace."""
    return spark_operator(**{"poll_interval": 0.5, "max_backoff": 1.0, **kw})


async def first_event(trigger):
    async for event in trigger.run():
        return event


def run_dag(day: datetime, timeout: timedelta | None = None):
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag().dags["risk_daily"]
    task = dag.get_task("score_fraud")
    task.retries, task.poll_interval, task.max_backoff = 0, 0.5, 1.0
    if timeout is not None:
        task.execution_timeout = timeout
    dr = dag.test(logical_date=day, mark_success_pattern="wait_.*")
    return dr, {ti.task_id: ti.state for ti in dr.get_task_instances()}


def partition(day: str) -> Path:
    return Path(os.environ["MESH_EXAMPLE_WAREHOUSE"]) / "risk" / "fraud_scores_daily" / f"day={day}"


@pytest.fixture(scope="module")
def first_run(local_yarn, tmp_path_factory):
    """risk_daily for 2027-03-02 once, deferred, on the real YARN: (dag run, its application report, part files)."""
    with pytest.MonkeyPatch.context() as mp:
        cluster = local_yarn.cluster
        import json

        for key, value in cluster.env().items():
            mp.setenv(key, value)
        mp.setenv("AIRFLOW_CONN_MESH_SPARK", json.dumps(cluster.spark_connection()))
        mp.setenv("AIRFLOW_CONN_YARN_RM_DEFAULT", json.dumps(cluster.rm_connection()))
        dr, states = run_dag(d(2027, 3, 2))
    [app] = local_yarn.apps_with_tag(application_tag("risk_daily", "score_fraud", dr.run_id, -1))
    return SimpleNamespace(dr=dr, states=states, app=app, parts=sorted(partition("2027-03-01").glob("part-*")))


def test_1_submit_accepted_running_finished_in_the_team_queue_as_its_proxy_user(real_yarn, first_run) -> None:
    dr, app = first_run.dr, real_yarn.app(first_run.app["id"])
    assert first_run.states["score_fraud"] == "success"
    assert (app["state"], app["finalStatus"]) == ("FINISHED", "SUCCEEDED")
    assert app["queue"] == "root.risk" and app["user"] == "svc_risk"                 # teams/risk.yaml
    assert app["name"] == f"risk.risk_daily.score_fraud.{dr.run_id}"
    assert app["applicationTags"] == application_tag("risk_daily", "score_fraud", dr.run_id, -1)
    assert app["applicationType"] == "SPARK"
    # ACCEPTED (started) -> RUNNING (the AM launched) -> FINISHED, in one attempt
    assert 0 < app["startedTime"] <= app["launchTime"] <= app["finishedTime"]
    assert len(real_yarn.attempts(app["id"])) == 1
    assert app["trackingUrl"].startswith(f"http://localhost:{real_yarn.url.rsplit(':', 1)[1]}/proxy/{app['id']}")
    [part] = first_run.parts
    import pyarrow.parquet as pq

    table = pq.read_table(part)
    assert table.num_rows == 20 and table.column_names == ["merchant_id", "fraud_score", "model_version"]


def test_7_a_clear_of_the_partition_runs_the_job_again_and_overwrites_it(real_yarn, first_run) -> None:
    dr, states = run_dag(d(2027, 3, 2))          # the same logical date again: what a clear does to the task
    assert states["score_fraud"] == "success"
    apps = real_yarn.apps_with_tag(application_tag("risk_daily", "score_fraud", dr.run_id, -1))
    rerun = [a for a in apps if a["id"] != first_run.app["id"]]
    assert len(rerun) == 1 and (rerun[0]["state"], rerun[0]["finalStatus"]) == ("FINISHED", "SUCCEEDED")
    parts = sorted(partition("2027-03-01").glob("part-*"))
    assert len(parts) == 1 and parts != first_run.parts      # overwritten: the first run's file is gone


def test_2_a_job_that_raises_fails_the_task_with_yarns_diagnostics_and_the_drivers_traceback(
        real_yarn, tmp_path) -> None:
    from airflow.sdk.exceptions import AirflowException, TaskDeferred

    job = tmp_path / "failing_job.py"
    job.write_text(FAILING_JOB)
    op = fresh_operator(application=str(job))
    ctx = worker_context("manual__2027-03-03-boom", d(2027, 3, 3), StateStore())
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(ctx)
    event = asyncio.run(asyncio.wait_for(first_event(deferred.value.trigger), 240))
    with pytest.raises(AirflowException) as failed:
        fresh_operator(application=str(job)).execute_complete(ctx, event.payload)
    app = real_yarn.app(deferred.value.trigger.app_id)
    assert (app["state"], app["finalStatus"]) == ("FINISHED", "FAILED")
    message = str(failed.value)
    assert app["diagnostics"] in message and "User application exited with status 1" in message
    assert "Traceback (most recent call last)" in message
    assert "ValueError: boom: the input of this partition is bad" in message
    assert f"/proxy/{app['id']}/" in message                                            # the tracking URL


def test_3_an_unknown_queue_fails_at_once_naming_the_team_file_and_the_queue(
        real_yarn, mesh_copy, monkeypatch) -> None:
    from airflow.sdk.exceptions import AirflowException

    team = mesh_copy / "teams" / "risk.yaml"
    team.write_text(team.read_text().replace("queue: risk", "queue: risk-gone"))
    monkeypatch.setenv("AIRFLOW__MESH__ROOT", str(mesh_copy))
    op = fresh_operator()
    ctx = worker_context("manual__2027-03-04-queue", d(2027, 3, 4), StateStore())
    started = time.monotonic()
    with pytest.raises(AirflowException, match=r"YARN queue 'risk-gone' \(teams/risk\.yaml yarn\.queue\) does not "
                                               r"exist on the ResourceManager; its queues: .*risk"):
        op.execute(ctx)
    assert time.monotonic() - started < 15                                  # no spark-submit JVM was started
    assert real_yarn.apps_with_tag(application_tag("risk_daily", "score_fraud", ctx["ti"].run_id, -1)) == []


def test_4_retry_after_worker_loss_before_the_id_was_persisted_reattaches_by_tag(real_yarn) -> None:
    """Try 1 submitted and deferred, its worker died before the id reached the store; try 2 re-attaches. Then
    ``on_kill`` on the worker (task killed there) ends the application KILLED on the RM."""
    from airflow.sdk.exceptions import TaskDeferred

    ctx = worker_context("manual__2027-03-05-retry", d(2027, 3, 5), StateStore())
    with pytest.raises(TaskDeferred) as first:
        fresh_operator().execute(ctx)
    ctx["task_state_store"] = StateStore()               # the id never reached the store
    second_try = fresh_operator()
    with pytest.raises(TaskDeferred) as second:
        second_try.execute(ctx)
    app_id = first.value.trigger.app_id
    assert second.value.trigger.app_id == app_id
    tag = application_tag("risk_daily", "score_fraud", ctx["ti"].run_id, -1)
    assert [a["id"] for a in real_yarn.apps_with_tag(tag)] == [app_id]          # exactly one on the RM
    second_try.on_kill()
    assert real_yarn.wait_terminal(app_id, 60)["state"] == "KILLED"


def test_5_execution_timeout_kills_the_application_on_the_rm(real_yarn) -> None:
    dr, states = run_dag(d(2027, 3, 6), timeout=timedelta(seconds=20))
    assert states["score_fraud"] == "failed"
    [app] = real_yarn.apps_with_tag(application_tag("risk_daily", "score_fraud", dr.run_id, -1))
    app = real_yarn.wait_terminal(app["id"], 60)
    assert (app["state"], app["finalStatus"]) == ("KILLED", "KILLED")


def test_6_a_stored_application_the_rm_has_forgotten_is_submitted_anew(real_yarn, first_run) -> None:
    from airflow.sdk.exceptions import TaskDeferred

    forgotten = first_run.app["id"]
    if real_yarn.app(forgotten):
        pytest.skip("the RM still knows the first application: run the whole module (it needs 3 finished later)")
    store = StateStore(spark_job_id=forgotten, mesh_yarn_conn_id="yarn_rm_default")
    ctx = worker_context("manual__2027-03-07-forgotten", d(2027, 3, 7), store)
    op = fresh_operator()
    with pytest.raises(TaskDeferred) as submitted:
        op.execute(ctx)
    app_id = submitted.value.trigger.app_id
    try:
        assert app_id != forgotten and store["spark_job_id"] == app_id
        tag = application_tag("risk_daily", "score_fraud", ctx["ti"].run_id, -1)
        assert [a["id"] for a in real_yarn.apps_with_tag(tag)] == [app_id]
    finally:
        op.on_kill()
        real_yarn.wait_terminal(app_id, 60)


def test_the_cluster_has_one_queue_per_team(real_yarn) -> None:
    import httpx

    info = httpx.get(f"{real_yarn.url}/ws/v1/cluster/scheduler", timeout=10).json()["scheduler"]["schedulerInfo"]
    assert sorted(q["queueName"] for q in info["queues"]["queue"]) == ["authentication", "bi", "default",
                                                                       "payments", "risk"]
    assert shutil.which("yarn", path=real_yarn.cluster.env()["PATH"])


def test_8_retry_reattaches_through_the_task_state_store_and_a_users_kill_while_deferred_kills(real_yarn) -> None:
    """The provider's durable path (try 1 persisted the id, try 2 re-attaches), then the trigger's ``on_kill`` (a
    user marks the deferred task failed or clears it) ends the application KILLED on the RM."""
    from airflow.sdk.exceptions import TaskDeferred

    store = StateStore()
    ctx = worker_context("manual__2027-03-08-store", d(2027, 3, 8), store)
    with pytest.raises(TaskDeferred) as first:
        fresh_operator().execute(ctx)
    app_id = first.value.trigger.app_id
    assert store == {"spark_job_id": app_id, "mesh_yarn_conn_id": "yarn_rm_default"}
    with pytest.raises(TaskDeferred) as second:
        fresh_operator().execute(ctx)
    assert second.value.trigger.app_id == app_id
    assert [a["id"] for a in real_yarn.apps_with_tag(application_tag(
        "risk_daily", "score_fraud", ctx["ti"].run_id, -1))] == [app_id]
    asyncio.run(asyncio.wait_for(second.value.trigger.on_kill(), 60))
    assert (real_yarn.wait_terminal(app_id, 60)["state"]) == "KILLED"


def test_9_an_application_killed_on_the_cluster_fails_the_task(real_yarn) -> None:
    """Someone kills the application on YARN (an admin, a queue policy): the deferred task fails with KILLED."""
    from airflow.sdk.exceptions import AirflowException, TaskDeferred

    ctx = worker_context("manual__2027-03-09-killed", d(2027, 3, 9), StateStore())
    with pytest.raises(TaskDeferred) as deferred:
        fresh_operator().execute(ctx)
    app_id = deferred.value.trigger.app_id
    real_yarn.kill(app_id)                                   # through the RM's REST API, not the operator
    event = asyncio.run(asyncio.wait_for(first_event(deferred.value.trigger), 120))
    assert event.payload["status"] == "killed"
    with pytest.raises(AirflowException, match=f"YARN application {app_id} ended KILLED/KILLED"):
        fresh_operator().execute_complete(ctx, event.payload)
    assert real_yarn.app(app_id)["finalStatus"] == "KILLED"
