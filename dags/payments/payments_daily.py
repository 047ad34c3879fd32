"""Payments: daily FX rates, and settlements from the 24 hourly transaction and refund loads."""

import os
from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_mesh.operators import ProduceTableOperator
from airflow_mesh.sensors import TableSensor

# How often waiting sensors check their producers (the tests set 1 second).
POKE_SECONDS = float(os.environ.get("AIRFLOW_MESH_EXAMPLE_POKE_SECONDS", "60"))

with DAG(
    dag_id="payments_daily",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["mesh", "team:payments"],
    doc_md=__doc__,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=5)},
):
    load_fx_rates = ProduceTableOperator(task_id="load_fx_rates", table="payments.fx_rates")
    build_settlements = ProduceTableOperator(task_id="build_settlements", table="payments.settlements_daily")
    wait_hourly_loads = TableSensor(task_id="wait_hourly_loads", tables=["payments.transactions", "payments.refunds"], mode="reschedule", poke_interval=POKE_SECONDS, timeout=timedelta(hours=36))
    wait_hourly_loads >> build_settlements
