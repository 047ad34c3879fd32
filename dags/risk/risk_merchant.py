"""Risk: merchant risk tiers at 02:30 UTC (cron with an offset), from fraud scores and payments' settlements."""

import os
from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_mesh.operators import ProduceTableOperator
from airflow_mesh.sensors import TableSensor

# How often waiting sensors check their producers (the tests set 1 second).
POKE_SECONDS = float(os.environ.get("AIRFLOW_MESH_EXAMPLE_POKE_SECONDS", "60"))

with DAG(
    dag_id="risk_merchant",
    schedule="30 2 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["mesh", "team:risk"],
    doc_md=__doc__,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=5)},
):
    build_merchant_risk = ProduceTableOperator(task_id="build_merchant_risk", table="risk.merchant_risk")
    wait_inputs = TableSensor(task_id="wait_inputs", tables=["risk.fraud_scores_daily", "payments.settlements_daily"], deferrable=True, poke_interval=POKE_SECONDS, timeout=timedelta(hours=36))
    wait_inputs >> build_merchant_risk
