"""Table-sensor checks: cost of one check, and first-check latency of N deferred sensors in one triggerer loop.

A throw-away Airflow home with a real SQLite metadata DB and the example mesh; checks go
through the Task SDK messages -> supervisor -> Execution API (in process) -> DB.

The triggerer's comms are reproduced faithfully where it matters: triggers ``asend``
requests from one event loop, and ONE supervisor thread answers them one at a time, as
the triggerer's supervisor process does (``TriggerRunnerSupervisor`` handles each request
synchronously). In a deployment each answer is an HTTP round trip to the API server
instead of an in-process ASGI call.

Scenarios, each for 100 / 1,000 / 5,000 sensors (``--sizes``):
* ``fan-in``: every sensor waits for the same table and day (many consumers of one table);
* ``waiting``: sensors wait for 720 different hours whose producer runs are still running (why a
  sensor defers): the triggerer's reader merges them into a few calls (``core/merged_questions.py``);
* ``distinct``: the same over 720 hours that are done but one: every sensor but one reaches
  "success", which merged answers alone may not decide, so it is confirmed (one count for many);
* ``mesh``: an Adyen-sized mesh: sensors on 500 tables produced by 200 DAGs, two consumers per
  table waiting for the same hour: questions about the tables of one DAG share a call;
* ``producers`` (up to 1,000 sensors): each sensor waits for its own producer DAG: the Execution API asks
  about one DAG per call, so nothing can be merged and each question is one call.

Each line also says whether every sensor's first verdict is what the seeded history implies.

Run: python bench/sensor_check.py [--sizes 100,1000,5000]
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
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

HOME = Path(tempfile.mkdtemp(prefix="mesh-bench-"))
os.environ.update({"AIRFLOW_HOME": str(HOME), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                   "AIRFLOW__CORE__DAGS_FOLDER": str(Path(__file__).resolve().parents[1] / "dags"),
                   "AIRFLOW__MESH__ROOT": str(Path(__file__).resolve().parents[1]),
                   "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR", "AIRFLOW__MESH__CACHE_DIR": str(HOME / "cache")})


#: Issue #15: the first checks of 1,000 deferred sensors in one triggerer.
TARGET_S = 5.0


class TriggererComms:
    """The triggerer's comms as triggers see them: ``asend`` from the loop, one supervisor thread answering in turn."""

    def __init__(self, supervisor) -> None:
        import structlog

        self.supervisor = supervisor
        self.log = structlog.get_logger()
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="supervisor")
        self.requests = 0

    def _answer(self, msg):
        self.requests += 1
        self.supervisor._handle_request(msg, self.log, self.requests)
        return self.supervisor.comms.messages.popleft()

    def send(self, msg):
        return self.thread.submit(self._answer, msg).result()

    async def asend(self, msg):
        return await asyncio.wrap_future(self.thread.submit(self._answer, msg))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", default="100,1000,5000")
    args = p.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    import psutil
    import structlog
    from airflow.sdk.execution_time import task_runner
    from airflow.sdk.execution_time.supervisor import (
        InProcessSupervisorComms,
        InProcessTestSupervisor,
    )
    from airflow.utils.db import resetdb
    from seed import seed_runs, sync_dags_to_db

    from airflow_mesh.core import coverage
    from airflow_mesh.core.intervals import UTC, Period
    from airflow_mesh.settings import configured_mesh
    from airflow_mesh.triggers import state_reader, table_trigger

    resetdb()
    sync_dags_to_db()
    month = Period(datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC))
    ticks = [month.start + timedelta(hours=h) for h in range(1, 721)]
    seed_runs("payments_hourly", ticks[:-1])  # one missing: the monthly check reads every state and keeps waiting
    may = [t + timedelta(days=30) for t in ticks]
    seed_runs("payments_hourly", may, state="running")  # deferred sensors' usual first check: still running
    mesh = configured_mesh()

    supervisor = InProcessTestSupervisor(id=uuid.uuid4(), pid=os.getpid(), process=psutil.Process(),
                                         process_log=structlog.get_logger(), client=InProcessTestSupervisor._api_client())
    supervisor.comms = InProcessSupervisorComms(supervisor=supervisor)
    comms = TriggererComms(supervisor)
    task_runner.SUPERVISOR_COMMS = comms
    proc = psutil.Process()

    for label, period in [("hourly -> daily  ", Period(month.start, month.start + timedelta(days=1))),
                          ("hourly -> monthly", month)]:
        reqs = coverage.requirements_for(mesh, ["payments.transactions"], period)
        coverage.evaluate(reqs, state_reader.fetch_task_states)  # warm up
        before, n, t = comms.requests, 10, time.perf_counter()
        for _ in range(n):
            status, _, _ = coverage.evaluate(reqs, state_reader.fetch_task_states)
        ms = (time.perf_counter() - t) / n * 1000
        print(f"one check {label}: {reqs[0].expected:4d} producer runs, {(comms.requests - before) // n} Execution API "
              f"call(s) (target O(1): one per {coverage.DATES_PER_CALL:,} runs), {ms:7.1f} ms  (status {status})")

    day = Period(month.start, month.start + timedelta(days=1))
    fan_in = [r.to_json() for r in coverage.requirements_for(mesh, ["payments.transactions"], day)]
    hourly, running = ([[r.to_json() for r in coverage.requirements_for(mesh, ["payments.transactions"],
                                                                        Period(t - timedelta(hours=1), t))]
                        for t in hours] for hours in (ticks, may))

    async def first_checks(payloads: list[list[dict]]) -> tuple[float, int, int, Counter]:
        """Start one trigger per payload; seconds until every one has its first verdict, calls made, RSS, verdicts.

        A first verdict is the trigger's first check, including the confirmation of a "done" read
        from merged answers (``TableCoverageTrigger._check``).
        """
        reader = state_reader.state_reader()
        done, all_checked, verdicts = 0, asyncio.Event(), Counter()
        real = table_trigger.TableCoverageTrigger._check

        async def counted(self, *a, **kw):
            nonlocal done
            result = await real(self, *a, **kw)
            verdicts[result[0]] += 1
            done += 1
            if done == len(payloads):
                all_checked.set()
            return result

        table_trigger.TableCoverageTrigger._check = counted  # type: ignore[method-assign]
        try:
            triggers = [table_trigger.TableCoverageTrigger(p, poke_interval=3600) for p in payloads]
            t = time.perf_counter()
            tasks = [asyncio.ensure_future(anext(tr.run())) for tr in triggers]
            await asyncio.wait_for(all_checked.wait(), timeout=900)
            elapsed = time.perf_counter() - t
            rss = proc.memory_info().rss
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            table_trigger.TableCoverageTrigger._check = real  # type: ignore[method-assign]
        return elapsed, reader.calls, rss, verdicts

    def other_producers(size: int) -> list[list[dict]]:
        """Each sensor waits for an hour of its own producer DAG (no runs): nothing can be merged."""
        return [[{**hourly[0][0], "dag_id": f"bench_producer_{i:05d}"}] for i in range(size)]

    def adyen_mesh(size: int) -> list[list[dict]]:
        """Sensors on 500 tables produced by 200 DAGs (no runs), two consumers per table, the same hour."""
        tables = [[{**hourly[0][0], "dag_id": f"bench_dag_{j % 200:03d}", "task_id": f"load_table_{j:03d}"}]
                  for j in range(500)]
        return [tables[i % 500] for i in range(size)]

    for size in sizes:
        for name, payloads in [("fan-in   ", [fan_in] * size),
                               ("waiting  ", [running[i % len(running)] for i in range(size)]),
                               ("distinct ", [hourly[i % len(hourly)] for i in range(size)]),
                               ("mesh     ", adyen_mesh(size)),
                               *([("producers", other_producers(size))] if size <= 1000 else [])]:
            gc.collect()
            state_reader._readers.clear()
            elapsed, calls, rss, verdicts = asyncio.run(first_checks(payloads))
            distinct = len({id(p) for p in payloads})
            # the seeded history: every hour done but the month's last (fan-in: the first day, all done)
            expected = Counter(("waiting" if p is hourly[-1] or p in running
                                or p[0]["dag_id"] != hourly[0][0]["dag_id"] else "success") for p in payloads)
            target = f" (target < {TARGET_S:.0f} s: {'met' if elapsed < TARGET_S else 'NOT met'})" if size == 1000 else ""
            print(f"{len(payloads):5d} deferred sensors, {name} ({distinct:4d} distinct questions): first checks in "
                  f"{elapsed:6.2f} s{target}, {calls:4d} Execution API calls, triggerer RSS {rss / 2**20:4.0f} MiB, "
                  f"verdicts as seeded: {'yes' if verdicts == expected else verdicts}")


if __name__ == "__main__":
    main()
