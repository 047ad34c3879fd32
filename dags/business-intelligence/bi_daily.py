"""BI: daily merchant revenue in EUR from payments' settlements and FX rates."""

from datetime import datetime, timedelta

from _example.cadence import POKE_SECONDS  # how often sensors check (the tests: 1 s)
from _example.warehouse import write_partition  # the example's writer: local files
from airflow.sdk import DAG

from airflow_mesh.operators import ProduceTableOperator
from airflow_mesh.sensors import TableSensor

with DAG(
    dag_id="bi_daily",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["mesh", "team:business-intelligence"],
    doc_md=__doc__,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=5)},
):
    build_merchant_revenue = ProduceTableOperator(task_id="build_merchant_revenue", table="bi.merchant_revenue_daily", python_callable=write_partition)
    wait_settlements = TableSensor(task_id="wait_settlements", tables=["payments.settlements_daily", "payments.fx_rates"], deferrable=True, poke_interval=POKE_SECONDS, timeout=timedelta(hours=36))
    wait_settlements >> build_merchant_revenue
