"""Cost of one table-sensor check, and memory of 1,000 waiting deferred sensors in one triggerer loop.

A throw-away Airflow home with a real SQLite metadata DB and the example mesh.
Checks go through the Task SDK -> in-process Execution API -> DB path that
``dag.test()`` uses (a deployed triggerer adds one HTTP round trip per call).

Run: .venv/bin/python bench/sensor_check.py [--triggers 1000]
"""

from __future__ import annotations

import sys
from pathlib import Path as _Path

sys.path.insert(0, str(_Path(__file__).resolve().parents[1] / "scripts"))  # seed.py: demo/test tooling, not in the wheel

import argparse
import asyncio
import gc
import os
import tempfile
import time
import tracemalloc
import uuid
from datetime import datetime, timedelta
from pathlib import Path

HOME = Path(tempfile.mkdtemp(prefix="mesh-bench-"))
os.environ.update({"AIRFLOW_HOME": str(HOME), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                   "AIRFLOW__CORE__DAGS_FOLDER": str(Path(__file__).resolve().parents[1] / "dags"),
    "AIRFLOW__MESH__ROOT": str(Path(__file__).resolve().parents[1]),
                   "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR", "AIRFLOW__MESH__CACHE_DIR": str(HOME / "cache")})


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--triggers", type=int, default=1000)
    args = p.parse_args()

    import psutil
    import structlog
    from airflow.sdk.execution_time.supervisor import InProcessSupervisorComms, InProcessTestSupervisor, set_supervisor_comms
    from airflow.utils.db import resetdb

    from airflow_mesh import coverage
    from airflow_mesh.core.intervals import UTC, Period
    from airflow_mesh.settings import configured_mesh
    from seed import seed_runs, sync_dags_to_db
    from airflow_mesh.triggers.table_trigger import TableCoverageTrigger, fetch_task_states

    resetdb()
    sync_dags_to_db()
    month = Period(datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC))
    ticks = [month.start + timedelta(hours=h) for h in range(1, 721)]
    seed_runs("payments_hourly", ticks[:-1])  # one missing: every check reads all states and keeps waiting
    mesh = configured_mesh()

    supervisor = InProcessTestSupervisor(id=uuid.uuid4(), pid=os.getpid(), process=psutil.Process(),
                                         process_log=structlog.get_logger(), client=InProcessTestSupervisor._api_client())
    supervisor.comms = InProcessSupervisorComms(supervisor=supervisor)
    calls = 0

    def counting_fetch(*a, **kw):
        nonlocal calls
        calls += 1
        return fetch_task_states(*a, **kw)

    with set_supervisor_comms(supervisor.comms):
        for label, period in [("hourly -> daily  ", Period(month.start, month.start + timedelta(days=1))),
                              ("hourly -> monthly", month)]:
            reqs = coverage.requirements_for(mesh, ["payments.transactions"], period)
            coverage.evaluate(reqs, counting_fetch)  # warm up
            calls, n, t = 0, 10, time.perf_counter()
            for _ in range(n):
                status, _, _ = coverage.evaluate(reqs, counting_fetch)
            ms = (time.perf_counter() - t) / n * 1000
            print(f"one check {label}: {reqs[0].expected:4d} producer runs, {calls // n} Execution API call(s), "
                  f"{ms:7.1f} ms  (status {status})")

        # N deferred sensors in one event loop: each checks once for real, then waits.
        day = Period(month.start, month.start + timedelta(days=1))
        payload = [r.to_json() for r in coverage.requirements_for(mesh, ["payments.transactions"], day)]
        proc = psutil.Process()

        async def hold(n: int) -> tuple[float, float, float]:
            gc.collect()
            rss0 = proc.memory_info().rss
            tracemalloc.start()
            base = tracemalloc.get_traced_memory()[0]
            triggers = [TableCoverageTrigger(payload, poke_interval=3600) for _ in range(n)]
            t = time.perf_counter()
            tasks = [asyncio.ensure_future(anext(tr.run())) for tr in triggers]
            while calls < n:  # every trigger has made its first real check and is now sleeping
                await asyncio.sleep(0.05)
            elapsed = time.perf_counter() - t
            gc.collect()
            traced = tracemalloc.get_traced_memory()[0] - base
            tracemalloc.stop()
            rss = proc.memory_info().rss - rss0
            for task in tasks:
                task.cancel()
            return traced, rss, elapsed

        calls = 0
        import airflow_mesh.triggers.table_trigger as tt
        tt.fetch_task_states, original = counting_fetch, tt.fetch_task_states
        traced, rss, elapsed = asyncio.run(hold(args.triggers))
        tt.fetch_task_states = original
        print(f"{args.triggers} deferred sensors in one loop: first checks took {elapsed:.1f} s; "
              f"Python heap +{traced / args.triggers / 1024:.1f} KiB per sensor, process RSS +{rss / 2**20:.1f} MiB in all")


if __name__ == "__main__":
    main()
