"""Risk: weekly chargeback ratio (private to risk) from 7 daily settlements and fraud scores."""

import os
from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_mesh.operators import ProduceTableOperator
from airflow_mesh.sensors import TableSensor

# How often waiting sensors check their producers (the tests set 1 second).
POKE_SECONDS = float(os.environ.get("AIRFLOW_MESH_EXAMPLE_POKE_SECONDS", "60"))

with DAG(
    dag_id="risk_weekly",
    schedule="@weekly",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["mesh", "team:risk"],
    doc_md=__doc__,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=5)},
):
    build_chargeback_ratio = ProduceTableOperator(task_id="build_chargeback_ratio", table="risk.chargeback_ratio_weekly")
    wait_inputs = TableSensor(task_id="wait_inputs", tables=["payments.settlements_daily", "risk.fraud_scores_daily"], deferrable=True, poke_interval=POKE_SECONDS, timeout=timedelta(hours=36))
    wait_inputs >> build_chargeback_ratio
