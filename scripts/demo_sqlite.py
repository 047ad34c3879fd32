"""Connection arguments for an Airflow that runs on SQLite (the demo, a laptop); production uses PostgreSQL.

SQLite has one writer at a time. Python's ``sqlite3`` waits 5 s for the write lock and then raises
``database is locked``, which Airflow's API server answers with HTTP 500 and a task's Execution API call
retries. Under ``airflow standalone`` on a 2-core laptop the scheduler, dag processor, triggerer, API server
and several task processes write at once, and a write can wait longer than 5 s while a run is triggered
(seen in CI: ``POST /api/v2/dags/{dag_id}/dagRuns`` failed with 500). ``scripts/demo_env.sh`` puts this folder on ``PYTHONPATH`` and points
``[database] sql_alchemy_connect_args`` (and its async twin) here so every component waits up to a minute
instead. Airflow adds ``check_same_thread`` to the sync dict itself, so the two are separate objects.
"""

BUSY_TIMEOUT_SECONDS = 60

SYNC_CONNECT_ARGS: dict[str, object] = {"timeout": BUSY_TIMEOUT_SECONDS}
ASYNC_CONNECT_ARGS: dict[str, object] = {"timeout": BUSY_TIMEOUT_SECONDS}
