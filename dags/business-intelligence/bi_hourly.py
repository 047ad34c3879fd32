"""BI: hourly revenue in EUR. Waits for the hour's transactions and the day's FX rates (the covering daily run)."""

from datetime import datetime, timedelta

from _example.cadence import POKE_SECONDS  # how often sensors check (the tests: 1 s)
from _example.warehouse import write_partition  # the example's writer: local files
from airflow.sdk import DAG

from airflow_mesh.operators import ProduceTableOperator
from airflow_mesh.sensors import TableSensor

with DAG(
    dag_id="bi_hourly",
    schedule="@hourly",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["mesh", "team:business-intelligence"],
    doc_md=__doc__,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=5)},
):
    build_revenue_hourly = ProduceTableOperator(task_id="build_revenue_hourly", table="bi.revenue_hourly", python_callable=write_partition)
    wait_transactions = TableSensor(task_id="wait_transactions", table="payments.transactions", deferrable=True, poke_interval=POKE_SECONDS, timeout=timedelta(hours=36))
    wait_fx_rates = TableSensor(task_id="wait_fx_rates", table="payments.fx_rates", deferrable=True, poke_interval=POKE_SECONDS, timeout=timedelta(hours=36))
    wait_transactions >> build_revenue_hourly
    wait_fx_rates >> build_revenue_hourly
