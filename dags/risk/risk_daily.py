"""Risk: daily fraud scores, a Spark job on YARN. Fan-in of two other teams' hourly tables (payments, authentication).

The Spark job runs in the team's YARN queue as its proxy user (teams/risk.yaml), tracked from the
triggerer. Connection ``mesh_spark`` says where: master ``yarn`` in production; ``make demo`` and
the tests point it at ``local[1]``.
"""

import os
from datetime import datetime, timedelta

from _example.cadence import POKE_SECONDS  # how often sensors check (the tests: 1 s)
from _example.warehouse import warehouse
from airflow.sdk import DAG

from airflow_mesh.operators import SparkYarnOperator
from airflow_mesh.sensors import TableSensor

with DAG(
    dag_id="risk_daily",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["mesh", "team:risk"],
    doc_md=__doc__,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=5)},
):
    score_fraud = SparkYarnOperator(
        task_id="score_fraud",
        deferrable=True,  # tracked from the triggerer: no worker slot while YARN runs the job
        table="risk.fraud_scores_daily",
        # The PySpark job lives beside the DAGs, in the repository's jobs/ folder.
        application=os.path.join(os.path.dirname(__file__), "..", "..", "jobs", "fraud_scores.py"),
        # The example job writes to the example warehouse, like the local writer of the other example DAGs.
        application_args=["--warehouse", str(warehouse())],
        poll_interval=POKE_SECONDS,
        execution_timeout=timedelta(hours=6),
    )
    wait_transactions = TableSensor(task_id="wait_transactions", table="payments.transactions", deferrable=True, poke_interval=POKE_SECONDS, timeout=timedelta(hours=36))
    wait_logins = TableSensor(task_id="wait_logins", table="auth.logins", deferrable=True, poke_interval=POKE_SECONDS, timeout=timedelta(hours=36))
    wait_transactions >> score_fraud
    wait_logins >> score_fraud
