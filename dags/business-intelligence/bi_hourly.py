"""BI: hourly revenue in EUR. Waits for the hour's transactions and the day's FX rates (the covering daily run)."""

import os
from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_mesh.operators import ProduceTableOperator
from airflow_mesh.sensors import TableSensor

# How often waiting sensors check their producers (the tests set 1 second).
POKE_SECONDS = float(os.environ.get("AIRFLOW_MESH_EXAMPLE_POKE_SECONDS", "60"))

with DAG(
    dag_id="bi_hourly",
    schedule="@hourly",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["mesh", "team:business-intelligence"],
    doc_md=__doc__,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=5)},
):
    build_revenue_hourly = ProduceTableOperator(task_id="build_revenue_hourly", table="bi.revenue_hourly")
    wait_transactions = TableSensor(task_id="wait_transactions", table="payments.transactions", deferrable=True, poke_interval=POKE_SECONDS, timeout=timedelta(hours=36))
    wait_fx_rates = TableSensor(task_id="wait_fx_rates", table="payments.fx_rates", deferrable=True, poke_interval=POKE_SECONDS, timeout=timedelta(hours=36))
    wait_transactions >> build_revenue_hourly
    wait_fx_rates >> build_revenue_hourly
