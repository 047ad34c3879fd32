#!/usr/bin/env bash
# The unit suite under Debian's faketime at dates that have broken date code before (make test-faketime),
# two dates at a time (one per core). Only the wall clock is faked (FAKETIME_DONT_FAKE_MONOTONIC=1): a faked
# monotonic clock hangs every timed lock and event wait. tests/faketime/sitecustomize.py works around
# libfaketime 0.9.10's EINVAL on Python's time.sleep in that mode. Each date runs in a machine time zone of its
# own. Exit 1 if any date fails, or if the fake clock did not take.
set -u
cd "$(dirname "$0")/.."
PY=${PY:-$PWD/.venv/bin/python}
# "UTC date and time of the fake clock|machine time zone|why this date"
DATES=(
  "2027-01-01 00:00:30|Asia/Tokyo|first day of a month and of a year"
  "2027-03-28 01:30:00|Europe/Amsterdam|30 min after Europe/Amsterdam's spring-forward"
  "2027-03-14 07:30:00|America/New_York|30 min after America/New_York's spring-forward"
  "2027-10-31 01:30:00|Europe/Amsterdam|inside Europe/Amsterdam's repeated autumn hour"
  "2028-02-29 12:00:00|UTC|29 February"
  "2026-12-31 23:59:00|America/Los_Angeles|31 December 23:59 UTC"
)
logs=$(mktemp -d)
faked() {  # faked WHEN ZONE CMD...: run CMD with the wall clock starting at WHEN (UTC), in time zone ZONE
  local when=$1 zone=$2; shift 2
  TZ=UTC FAKETIME_DONT_FAKE_MONOTONIC=1 PYTHONPATH="$PWD/tests/faketime" faketime "$when" env TZ="$zone" "$@"
}
run_one() {  # run_one INDEX: the unit suite at DATES[INDEX]; its output in $logs/INDEX, its exit code in $logs/INDEX.rc
  local when zone why seen
  IFS='|' read -r when zone why <<<"${DATES[$1]}"
  {
    echo "=== unit suite at $when UTC, TZ=$zone ($why) ==="
    seen=$(faked "$when" "$zone" "$PY" -c 'import datetime; print(datetime.datetime.now(datetime.UTC).date())')
    if [ "$seen" != "${when%% *}" ]; then
      echo "the fake clock did not take: Python saw $seen"; echo 1 >"$logs/$1.rc"; return
    fi
    faked "$when" "$zone" env AIRFLOW_MESH_TEST_DB=sqlite "$PY" -m pytest tests/unit -q -p no:cacheprovider
    echo $? >"$logs/$1.rc"
  } >"$logs/$1" 2>&1
}
for ((i = 0; i < ${#DATES[@]}; i += 2)); do
  run_one "$i" &
  [ $((i + 1)) -lt ${#DATES[@]} ] && run_one $((i + 1)) &
  wait
done
failed=0
for ((i = 0; i < ${#DATES[@]}; i++)); do
  head -n 1 "$logs/$i"
  grep -E "^(FAILED|ERROR) |fake clock did not take" "$logs/$i"
  tail -n 1 "$logs/$i"
  [ "$(cat "$logs/$i.rc")" = 0 ] || failed=1
done
rm -rf "$logs"
[ $failed -eq 0 ] && echo "faketime: the unit suite passed at all ${#DATES[@]} dates" && exit 0
echo "faketime: the unit suite failed at one date or more (above)"
exit 1
