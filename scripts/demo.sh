#!/usr/bin/env bash
# Start Airflow standalone (SQLite, embedded) with the example mesh, seeded history, and the mesh plugin.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
export PATH="$ROOT/.venv/bin:$PATH"   # airflow standalone starts its components as `airflow ...` subprocesses
export AIRFLOW_HOME="$ROOT/.demo/airflow"
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/dags"
export AIRFLOW__MESH__ROOT="$ROOT"          # the example registry: teams/ and ddl/ at the top level
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=False
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin,viewer:viewer"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$AIRFLOW_HOME/passwords.json"
export AIRFLOW_MESH_WAREHOUSE="$AIRFLOW_HOME/warehouse"
export AIRFLOW__API__PORT="${PORT:-8080}"
# Spark: no YARN cluster on a laptop, so the Spark connection points at local mode (production: master yarn).
export AIRFLOW_CONN_MESH_SPARK='{"conn_type": "spark", "host": "local[1]"}'
export PYSPARK_PYTHON="$ROOT/.venv/bin/python"
# SQLite allows one writer at a time: on a laptop, a few parallel tasks keep heartbeats from timing out
# under a backfill of hundreds of runs (production: PostgreSQL/MySQL and the defaults).
export AIRFLOW__CORE__PARALLELISM="${AIRFLOW__CORE__PARALLELISM:-6}"
export AIRFLOW__CORE__MAX_ACTIVE_RUNS_PER_DAG="${AIRFLOW__CORE__MAX_ACTIVE_RUNS_PER_DAG:-6}"
# One backfill transaction holds SQLite's only write lock; keep demo backfills small enough not to starve
# the scheduler's and triggerer's heartbeats (production DBs: the default 50,000).
export AIRFLOW__MESH__BACKFILL_MAX_RUNS="${AIRFLOW__MESH__BACKFILL_MAX_RUNS:-2000}"
# Sensors re-check every 20 s so a demo backfill visibly completes in minutes.
export AIRFLOW_MESH_EXAMPLE_POKE_SECONDS="${AIRFLOW_MESH_EXAMPLE_POKE_SECONDS:-20}"
mkdir -p "$AIRFLOW_HOME"
echo '{"admin": "admin", "viewer": "viewer"}' > "$AIRFLOW_HOME/passwords.json"

if curl -fs "http://localhost:$AIRFLOW__API__PORT/api/v2/monitor/health" >/dev/null 2>&1; then
  echo "Port $AIRFLOW__API__PORT already serves an Airflow: stop it, or run PORT=8081 make demo" >&2
  exit 1
fi
.venv/bin/airflow-mesh validate
.venv/bin/airflow db migrate >/dev/null
AIRFLOW__LOGGING__LOGGING_LEVEL=WARNING .venv/bin/python scripts/demo.py

.venv/bin/airflow standalone > "$AIRFLOW_HOME/standalone.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null' INT TERM EXIT
URL="http://localhost:$AIRFLOW__API__PORT"
healthy=""
for _ in $(seq 1 180); do
  if curl -fs "$URL/api/v2/monitor/health" >/dev/null 2>&1; then healthy=1; break; fi
  if ! kill -0 $PID 2>/dev/null; then break; fi
  sleep 1
done
if [ -z "$healthy" ]; then
  echo "Airflow did not become healthy at $URL; last lines of $AIRFLOW_HOME/standalone.log:" >&2
  tail -20 "$AIRFLOW_HOME/standalone.log" >&2
  exit 1
fi
cat <<MSG

  airflow-mesh demo is running (logs: $AIRFLOW_HOME/standalone.log)
  URL:    $URL            (the "Data mesh" entry is under Browse)
  Login:  admin / admin    (read-only user: viewer / viewer)
  Mesh:   $URL/mesh/          (Browse → Data mesh; Browse → Mesh backfill)
  Stop:   Ctrl-C

MSG
wait $PID
