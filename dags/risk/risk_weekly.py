"""Risk: weekly chargeback ratio (private to risk) from 7 daily settlements and fraud scores."""

from datetime import datetime, timedelta

from _example.cadence import POKE_SECONDS  # how often sensors check (the tests: 1 s)
from _example.warehouse import write_partition  # the example's writer: local files
from airflow.sdk import DAG

from airflow_mesh.operators import ProduceTableOperator
from airflow_mesh.sensors import TableSensor

with DAG(
    dag_id="risk_weekly",
    schedule="@weekly",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["mesh", "team:risk"],
    doc_md=__doc__,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=5)},
):
    build_chargeback_ratio = ProduceTableOperator(task_id="build_chargeback_ratio", table="risk.chargeback_ratio_weekly", python_callable=write_partition)
    wait_inputs = TableSensor(task_id="wait_inputs", tables=["payments.settlements_daily", "risk.fraud_scores_daily"], deferrable=True, poke_interval=POKE_SECONDS, timeout=timedelta(hours=36))
    wait_inputs >> build_chargeback_ratio
