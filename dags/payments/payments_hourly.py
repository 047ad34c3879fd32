"""Payments: hourly loads of transactions, refunds and (private) card tokens."""

from datetime import datetime, timedelta

from _example.warehouse import write_partition  # the example's writer: local files
from airflow.sdk import DAG

from airflow_mesh.operators import ProduceTableOperator

with DAG(
    dag_id="payments_hourly",
    schedule="@hourly",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["mesh", "team:payments"],
    doc_md=__doc__,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=5)},
):
    load_transactions = ProduceTableOperator(task_id="load_transactions", table="payments.transactions", python_callable=write_partition)
    load_refunds = ProduceTableOperator(task_id="load_refunds", table="payments.refunds", python_callable=write_partition)
    load_card_tokens = ProduceTableOperator(task_id="load_card_tokens", table="payments.card_tokens", python_callable=write_partition)
