"""Payments: daily FX rates, and settlements from the 24 hourly transaction and refund loads."""

from datetime import datetime, timedelta

from _example.cadence import POKE_SECONDS  # how often sensors check (the tests: 1 s)
from _example.warehouse import write_partition  # the example's writer: local files
from airflow.sdk import DAG

from airflow_mesh.operators import ProduceTableOperator
from airflow_mesh.sensors import TableSensor

with DAG(
    dag_id="payments_daily",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["mesh", "team:payments"],
    doc_md=__doc__,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=5)},
):
    load_fx_rates = ProduceTableOperator(task_id="load_fx_rates", table="payments.fx_rates", python_callable=write_partition)
    build_settlements = ProduceTableOperator(task_id="build_settlements", table="payments.settlements_daily", python_callable=write_partition)
    wait_hourly_loads = TableSensor(task_id="wait_hourly_loads", tables=["payments.transactions", "payments.refunds"], mode="reschedule", poke_interval=POKE_SECONDS, timeout=timedelta(hours=36))
    wait_hourly_loads >> build_settlements
