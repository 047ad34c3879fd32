"""BI: monthly revenue from 28-31 daily revenue partitions, and monthly transaction counts from ~744 hourly runs."""

import os
from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_mesh.operators import ProduceTableOperator
from airflow_mesh.sensors import TableSensor

# How often waiting sensors check their producers (the tests set 1 second).
POKE_SECONDS = float(os.environ.get("AIRFLOW_MESH_EXAMPLE_POKE_SECONDS", "60"))

with DAG(
    dag_id="bi_monthly",
    schedule="@monthly",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["mesh", "team:business-intelligence"],
    doc_md=__doc__,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=5)},
):
    build_revenue_monthly = ProduceTableOperator(task_id="build_revenue_monthly", table="bi.revenue_monthly")
    wait_daily_revenue = TableSensor(task_id="wait_daily_revenue", table="bi.merchant_revenue_daily", deferrable=True, poke_interval=POKE_SECONDS, timeout=timedelta(hours=36))
    wait_daily_revenue >> build_revenue_monthly
    count_transactions_monthly = ProduceTableOperator(task_id="count_transactions_monthly", table="bi.transactions_monthly")
    wait_hourly_transactions = TableSensor(task_id="wait_hourly_transactions", table="payments.transactions", deferrable=True, poke_interval=POKE_SECONDS, timeout=timedelta(hours=36))
    wait_hourly_transactions >> count_transactions_monthly
