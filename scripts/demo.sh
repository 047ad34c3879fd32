#!/usr/bin/env bash
# Start Airflow standalone (SQLite, embedded) with the example mesh, seeded history, and the mesh plugin.
# PORT=N make demo serves it on port N (default 8080).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
source scripts/demo_env.sh   # PORT (default 8080) chooses the API server's port: PORT=8091 make demo
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  echo "Port $PORT is already in use (another Airflow?): stop it, or choose another port: PORT=8091 make demo" >&2
  exit 1
fi
.venv/bin/airflow-mesh validate
.venv/bin/airflow db migrate >/dev/null
AIRFLOW__LOGGING__LOGGING_LEVEL=WARNING .venv/bin/python scripts/demo.py

.venv/bin/airflow standalone > "$AIRFLOW_HOME/standalone.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null' INT TERM EXIT
URL="http://localhost:$PORT"
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
