"""Authentication: hourly loads of logins and (private) MFA events."""

from datetime import datetime, timedelta

from _example.warehouse import write_partition  # the example's writer: local files
from airflow.sdk import DAG

from airflow_mesh.operators import ProduceTableOperator

with DAG(
    dag_id="authentication_hourly",
    schedule="@hourly",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["mesh", "team:authentication"],
    doc_md=__doc__,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=5)},
):
    load_logins = ProduceTableOperator(task_id="load_logins", table="auth.logins", python_callable=write_partition)
    load_mfa_events = ProduceTableOperator(task_id="load_mfa_events", table="auth.mfa_events", python_callable=write_partition)
