"""Risk: daily fraud scores. Fan-in of two other teams' hourly tables (payments, authentication)."""

import os
from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_mesh.operators import ProduceTableOperator
from airflow_mesh.sensors import TableSensor

# How often waiting sensors check their producers (the tests set 1 second).
POKE_SECONDS = float(os.environ.get("AIRFLOW_MESH_EXAMPLE_POKE_SECONDS", "60"))

with DAG(
    dag_id="risk_daily",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["mesh", "team:risk"],
    doc_md=__doc__,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=5)},
):
    score_fraud = ProduceTableOperator(task_id="score_fraud", table="risk.fraud_scores_daily")
    wait_transactions = TableSensor(task_id="wait_transactions", table="payments.transactions", deferrable=True, poke_interval=POKE_SECONDS, timeout=timedelta(hours=36))
    wait_logins = TableSensor(task_id="wait_logins", table="auth.logins", deferrable=True, poke_interval=POKE_SECONDS, timeout=timedelta(hours=36))
    wait_transactions >> score_fraud
    wait_logins >> score_fraud
