#!/usr/bin/env bash
# The demo: Airflow 3.3's API server, scheduler, dag processor and triggerer (SQLite, LocalExecutor) with the
# example mesh, seeded history and the mesh plugin.
#   PORT=N make demo       serves on port N (default 8080)
#   HOST=0.0.0.0 make demo listens on every interface (default 127.0.0.1: this machine only)
#   DEMO_SPARK=local       runs risk's Spark job with --master local[1] instead of on the local YARN
# Order: the API server first, the others once it answers its health check, so no task starts before the
# Execution API it reports to is up ("Connection refused" made every first hourly task up_for_retry).
# Ctrl-C or TERM stops every component and every process they started (bounded: TERM, then KILL).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
source scripts/demo_env.sh   # PORT, HOST, DEMO_VENV, AIRFLOW_HOME and Airflow's settings
BIN="$DEMO_VENV/bin"
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  echo "Port $PORT is already in use (another Airflow?): stop it, or choose another port: PORT=8091 make demo" >&2
  exit 1
fi
COMPONENTS=()   # pids; each component leads a session of its own (setsid)
start() {  # start NAME: `airflow NAME`, logging to $AIRFLOW_HOME/NAME.log
  setsid "$BIN/airflow" "$1" >"$AIRFLOW_HOME/$1.log" 2>&1 &
  COMPONENTS+=("$!")
}
in_session() {  # every live process of the session led by pid $1 (a component and all it started)
  ps -o pid=,stat= -s "$1" 2>/dev/null | awk '$2 !~ /^Z/ {print $1}' || true   # zombies have stopped
}
stop() {  # TERM every process of every component's session (task processes lead groups of their own, but
          # stay in the session), then KILL what is left; at most 45 s in all
  trap - INT TERM EXIT
  [ ${#COMPONENTS[@]} -gt 0 ] || return 0
  echo "Stopping the demo's components…" >&2
  local alive sid
  for tick in $(seq 1 90); do
    alive=""
    for sid in "${COMPONENTS[@]}"; do alive="$alive $(in_session "$sid" | tr '\n' ' ')"; done
    if [ -z "${alive// /}" ]; then rm -f "$AIRFLOW_HOME/demo.pids"; return 0; fi
    # shellcheck disable=SC2086
    if [ "$tick" -eq 1 ]; then kill -TERM $alive 2>/dev/null || true; fi
    # shellcheck disable=SC2086
    if [ "$tick" -ge 60 ]; then kill -KILL $alive 2>/dev/null || true; fi
    sleep 0.5
  done
  echo "Some demo processes did not stop:$alive" >&2
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM
trap stop EXIT

# Spark: risk's job runs on a real local YARN (scripts/local_yarn.py: Hadoop's MiniYARNCluster, RM + 1 NM on
# loopback) in cluster mode as svc_risk in queue risk; its JVM is a component like the others (stopped with
# them). DEMO_SPARK=local keeps spark-submit --master local[1] (demo_env.sh's default: no Java/Maven needed).
if [ "${DEMO_SPARK:-yarn}" = yarn ]; then
  rm -f "$AIRFLOW_HOME/local-yarn.env"
  setsid "$BIN/python" scripts/local_yarn.py --env-file "$AIRFLOW_HOME/local-yarn.env" >"$AIRFLOW_HOME/local-yarn.log" 2>&1 &
  COMPONENTS+=("$!")
  for _ in $(seq 1 300); do   # the launcher bounds its own start (120 s) plus a first Maven build
    [ -f "$AIRFLOW_HOME/local-yarn.env" ] && break
    kill -0 "${COMPONENTS[0]}" 2>/dev/null || break
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
"$BIN/airflow-mesh" validate
"$BIN/airflow" db migrate >/dev/null
AIRFLOW__LOGGING__LOGGING_LEVEL=WARNING "$BIN/python" scripts/demo.py

URL="http://$API_HOST:$PORT"
start api-server
API_PID="${COMPONENTS[-1]}"
healthy=""
for _ in $(seq 1 180); do
  if curl -fs "$URL/api/v2/monitor/health" >/dev/null 2>&1; then healthy=1; break; fi
  kill -0 "$API_PID" 2>/dev/null || break
  sleep 1
done
if [ -z "$healthy" ]; then
  echo "The API server did not become healthy at $URL; last lines of $AIRFLOW_HOME/api-server.log:" >&2
  tail -20 "$AIRFLOW_HOME/api-server.log" >&2
  exit 1
fi
start scheduler
start dag-processor
start triggerer
printf '%s\n' "${COMPONENTS[@]}" > "$AIRFLOW_HOME/demo.pids"
cat <<MSG

  airflow-mesh demo is running (logs: $AIRFLOW_HOME/{api-server,scheduler,dag-processor,triggerer}.log)
  URL:    $URL            (the "Data mesh" entry is under Browse)
  Login:  admin / admin    (read-only user: viewer / viewer)
  Mesh:   $URL/mesh/          (Browse → Data mesh; Browse → Mesh backfill)
  Spark:  $SPARK_DESC
  Listens on $HOST only (HOST=0.0.0.0 make demo for every interface)
  Stop:   Ctrl-C

MSG
# Until a component exits, or whoever started the demo does. GNU make passes a TERM to its own child only
# (hence `exec` in the Makefile's recipe, else the child is a shell that dies alone); a make killed any other
# way (KILL) would leave the demo running under init.
parent="$PPID"
while [ "$(ps -o ppid= -p $$ | tr -d ' ')" = "$parent" ]; do
  for pid in "${COMPONENTS[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "A demo component (pid $pid) exited: stopping the others; see the logs in $AIRFLOW_HOME" >&2
      exit 1
    fi
  done
  sleep 1 & wait $!   # a signal interrupts the wait at once: the traps above run
done
echo "The demo's parent (pid $parent) is gone: stopping" >&2
exit 143
