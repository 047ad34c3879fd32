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
# Spark: risk's job runs on a real local YARN (scripts/local_yarn.py: Hadoop's MiniYARNCluster, RM + 1 NM on
# loopback) in cluster mode as svc_risk in queue risk. DEMO_SPARK=local make demo keeps spark-submit --master
# local[1] (demo_env.sh's default: no Java/Maven needed, starts faster).
YARN_PID=""
if [ "${DEMO_SPARK:-yarn}" = yarn ]; then
  rm -f "$AIRFLOW_HOME/local-yarn.env"
  .venv/bin/python scripts/local_yarn.py --env-file "$AIRFLOW_HOME/local-yarn.env" > "$AIRFLOW_HOME/local-yarn.log" 2>&1 &
  YARN_PID=$!
  trap 'kill $YARN_PID 2>/dev/null; wait $YARN_PID 2>/dev/null' INT TERM EXIT
  for _ in $(seq 1 300); do   # the launcher bounds its own start (120 s) plus a first Maven build
    [ -f "$AIRFLOW_HOME/local-yarn.env" ] && break
    kill -0 $YARN_PID 2>/dev/null || break
    sleep 1
  done
  if [ ! -f "$AIRFLOW_HOME/local-yarn.env" ]; then
    echo "The local YARN did not start (DEMO_SPARK=local make demo runs Spark in local mode); its log:" >&2
    tail -20 "$AIRFLOW_HOME/local-yarn.log" >&2
    exit 1
  fi
  source "$AIRFLOW_HOME/local-yarn.env"
  SPARK_DESC="real local YARN, ResourceManager $(grep -o 'http://127.0.0.1:[0-9]*' "$AIRFLOW_HOME/local-yarn.env" | head -1) (DEMO_SPARK=local: local[1])"
else
  SPARK_DESC="local[1] (DEMO_SPARK=yarn, the default, runs it on a real local YARN)"
fi
.venv/bin/airflow-mesh validate
.venv/bin/airflow db migrate >/dev/null
AIRFLOW__LOGGING__LOGGING_LEVEL=WARNING .venv/bin/python scripts/demo.py

.venv/bin/airflow standalone > "$AIRFLOW_HOME/standalone.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; [ -z "$YARN_PID" ] || { kill $YARN_PID 2>/dev/null; wait $YARN_PID 2>/dev/null; }' INT TERM EXIT
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
  Spark:  $SPARK_DESC
  Stop:   Ctrl-C

MSG
wait $PID
