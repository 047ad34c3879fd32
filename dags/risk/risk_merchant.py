"""Risk: merchant risk tiers at 02:30 UTC (cron with an offset), from fraud scores and payments' settlements."""

from datetime import datetime, timedelta

from _example.cadence import POKE_SECONDS  # how often sensors check (the tests: 1 s)
from _example.warehouse import write_partition  # the example's writer: local files
from airflow.sdk import DAG

from airflow_mesh.operators import ProduceTableOperator
from airflow_mesh.sensors import TableSensor

with DAG(
    dag_id="risk_merchant",
    schedule="30 2 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["mesh", "team:risk"],
    doc_md=__doc__,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=5)},
):
    build_merchant_risk = ProduceTableOperator(task_id="build_merchant_risk", table="risk.merchant_risk", python_callable=write_partition)
    wait_inputs = TableSensor(task_id="wait_inputs", tables=["risk.fraud_scores_daily", "payments.settlements_daily"], deferrable=True, poke_interval=POKE_SECONDS, timeout=timedelta(hours=36))
    wait_inputs >> build_merchant_risk
