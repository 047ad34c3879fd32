# The demo's environment, sourced by scripts/demo.sh and by tests/integration/deployment/.
# Needs ROOT (the repository); PORT (default 8080), HOST (default 127.0.0.1), DEMO_VENV (default $ROOT/.venv)
# and AIRFLOW_HOME (default $ROOT/.demo/airflow) may be set.
PORT="${PORT:-8080}"
HOST="${HOST:-127.0.0.1}"   # the API server's address: loopback unless asked (HOST=0.0.0.0 make demo)
DEMO_VENV="${DEMO_VENV:-$ROOT/.venv}"
export PATH="$DEMO_VENV/bin:$PATH"   # Airflow starts task processes as `airflow ...` subprocesses
export AIRFLOW_HOME="${AIRFLOW_HOME:-$ROOT/.demo/airflow}"
unset AIRFLOW__DATABASE__SQL_ALCHEMY_CONN  # the demo's own SQLite in its home, never another Airflow's DB
# SQLite has one writer: wait up to a minute for it rather than Python's 5 s (see scripts/demo_sqlite.py, which
# every component imports from PYTHONPATH: a demo concern, not part of the package).
export PYTHONPATH="$ROOT/scripts${PYTHONPATH:+:$PYTHONPATH}"
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS=demo_sqlite.SYNC_CONNECT_ARGS
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS_ASYNC=demo_sqlite.ASYNC_CONNECT_ARGS
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=False
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin,viewer:viewer"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$AIRFLOW_HOME/passwords.json"
# The API server listens on HOST:PORT, and workers must call its Execution API there too (Airflow's default
# for the latter is localhost:8080 whatever the API server's address).
case "$HOST" in 0.0.0.0|::|"[::]") API_HOST=127.0.0.1 ;; *) API_HOST="$HOST" ;; esac
export AIRFLOW__API__HOST="$HOST"
export AIRFLOW__API__PORT="$PORT"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://$API_HOST:$PORT/execution/"
export AIRFLOW__CORE__EXECUTOR=LocalExecutor
export AIRFLOW__CORE__AUTH_MANAGER=airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager
# Every mesh setting is a [mesh] option (see docs/deployment.md).
export AIRFLOW__MESH__ROOT="$ROOT"          # the example registry: teams/ and ddl/ at the top level
export MESH_EXAMPLE_WAREHOUSE="$AIRFLOW_HOME/warehouse"  # dags/_example/warehouse.py
# SQLite has one writer and the LocalExecutor runs tasks on this machine: keep demo backfill jobs to a size a laptop finishes
# in minutes (production DBs: the default 50,000).
export AIRFLOW__MESH__BACKFILL_MAX_RUNS="${AIRFLOW__MESH__BACKFILL_MAX_RUNS:-2000}"
# Sensors re-check every 20 s so a demo backfill visibly completes in minutes.
export MESH_EXAMPLE_POKE_SECONDS="${MESH_EXAMPLE_POKE_SECONDS:-20}"  # dags/_example/cadence.py
# Spark: no YARN cluster on a laptop, so the Spark connection points at local mode (production: master yarn).
export AIRFLOW_CONN_MESH_SPARK='{"conn_type": "spark", "host": "local[1]"}'
export PYSPARK_PYTHON="$ROOT/.venv/bin/python"
# SQLite allows one writer at a time: on a laptop, a few parallel tasks keep heartbeats from timing out
# under a backfill of hundreds of runs (production: PostgreSQL/MySQL and the defaults).
export AIRFLOW__CORE__PARALLELISM="${AIRFLOW__CORE__PARALLELISM:-6}"
export AIRFLOW__CORE__MAX_ACTIVE_RUNS_PER_DAG="${AIRFLOW__CORE__MAX_ACTIVE_RUNS_PER_DAG:-6}"
mkdir -p "$AIRFLOW_HOME"
echo '{"admin": "admin", "viewer": "viewer"}' > "$AIRFLOW_HOME/passwords.json"
