"""SparkYarnOperator's constructor: which queue is whose (issue #23)."""

from __future__ import annotations

from datetime import datetime


def _task(**kw):
    from airflow.sdk import DAG

    from airflow_mesh.operators import SparkYarnOperator

    with DAG(dag_id="risk_daily", schedule=None, start_date=datetime(2026, 1, 1)):
        return SparkYarnOperator(task_id="score_fraud", table="risk.fraud_scores_daily", application="job.py", **kw)


def test_the_team_yarn_queue_goes_to_spark_submit_not_to_airflows_executor_queue() -> None:
    """Issue #23: ``self.queue`` was set to the YARN queue, so on CeleryExecutor every Spark task went to Celery
    queue 'risk', which no worker consumes."""
    from airflow.configuration import conf

    task = _task()
    assert task.queue == conf.get("operators", "default_queue")     # Airflow's executor queue: untouched
    assert task._get_hook()._connection["queue"] == "risk"           # spark-submit --queue (teams/risk.yaml)


def test_an_explicit_airflow_queue_and_yarn_queue_each_go_where_they_belong() -> None:
    task = _task(queue="spark-workers", yarn_queue="risk-adhoc")
    assert task.queue == "spark-workers"
    assert task._get_hook()._connection["queue"] == "risk-adhoc"


def test_deferrable_follows_airflows_default_deferrable(monkeypatch) -> None:
    from airflow_mesh.operators import SparkYarnOperator

    def make(**kw):
        return SparkYarnOperator(task_id="score_fraud", table="risk.fraud_scores_daily", application="job.py", **kw)

    monkeypatch.delenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", raising=False)
    assert make().deferrable is False and make(deferrable=True).deferrable is True
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "True")
    assert make().deferrable is True and make(deferrable=False).deferrable is False
