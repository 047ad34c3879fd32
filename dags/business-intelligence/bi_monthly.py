"""BI: monthly revenue from 28-31 daily revenue partitions, and monthly transaction counts from ~744 hourly runs."""

from datetime import datetime, timedelta

from _example.cadence import POKE_SECONDS  # how often sensors check (the tests: 1 s)
from _example.warehouse import write_partition  # the example's writer: local files
from airflow.sdk import DAG

from airflow_mesh.operators import ProduceTableOperator
from airflow_mesh.sensors import TableSensor

with DAG(
    dag_id="bi_monthly",
    schedule="@monthly",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["mesh", "team:business-intelligence"],
    doc_md=__doc__,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=5)},
):
    build_revenue_monthly = ProduceTableOperator(task_id="build_revenue_monthly", table="bi.revenue_monthly", python_callable=write_partition)
    wait_daily_revenue = TableSensor(task_id="wait_daily_revenue", table="bi.merchant_revenue_daily", deferrable=True, poke_interval=POKE_SECONDS, timeout=timedelta(hours=36))
    wait_daily_revenue >> build_revenue_monthly
    count_transactions_monthly = ProduceTableOperator(task_id="count_transactions_monthly", table="bi.transactions_monthly", python_callable=write_partition)
    wait_hourly_transactions = TableSensor(task_id="wait_hourly_transactions", table="payments.transactions", deferrable=True, poke_interval=POKE_SECONDS, timeout=timedelta(hours=36))
    wait_hourly_transactions >> count_transactions_monthly
