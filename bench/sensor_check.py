"""Table-sensor checks: cost of one check, and first-check latency of N deferred sensors in one triggerer loop.

A throw-away Airflow home with a real SQLite metadata DB and the example mesh; checks go
through the Task SDK messages -> supervisor -> Execution API (in process) -> DB.

The triggerer is laid out as Airflow 3.3 lays it out (``scripts/triggerer_wire.py``): the triggers
run in one process on one event loop and talk through the real ``TriggerCommsDecoder`` over a
socket to a supervisor process, which answers one request at a time through an in-process
Execution API server (``TriggerRunnerSupervisor.make_client``), as the triggerer's does.

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
import socket
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

HOME = Path(tempfile.mkdtemp(prefix="mesh-bench-"))
os.environ.update({"AIRFLOW_HOME": str(HOME), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                   "AIRFLOW__CORE__DAGS_FOLDER": str(Path(__file__).resolve().parents[1] / "dags"),
                   "AIRFLOW__MESH__ROOT": str(Path(__file__).resolve().parents[1]),
                   "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR", "AIRFLOW__MESH__CACHE_DIR": str(HOME / "cache")})


#: The target: the first checks of 1,000 deferred sensors in one triggerer.
TARGET_S = 5.0


def supervisor_process(count: int) -> list:
    """Fork the triggerer's supervisor; return the runner ends of ``count`` sockets it serves in turn.

    One process for every scenario (its API app takes seconds to build); a scenario's socket is
    served until the runner closes it, so no late answer of one scenario reaches the next.
    The child answers a warm-up request before the parent goes on, so no timing includes it.
    """
    import triggerer_wire

    pairs = [socket.socketpair() for _ in range(count)]
    if os.fork() == 0:  # the supervisor
        code = 1
        try:
            from airflow import settings

            settings.engine.dispose(close=False)  # the parent's pooled connections are the parent's
            client = triggerer_wire.execution_api_client()
            client.task_instances.get_task_states(dag_id="warm_up", task_ids=["t"], logical_dates=[datetime(2026, 4, 1, tzinfo=UTC)])
            for runner_end, _ in pairs:
                runner_end.close()
            pairs[0][1].sendall(b"R")
            for _, supervisor_end in pairs:
                triggerer_wire.serve(supervisor_end, client=client)
                supervisor_end.close()
            code = 0
        finally:
            os._exit(code)
    for _, supervisor_end in pairs:
        supervisor_end.close()
    if pairs[0][0].recv(1) != b"R":
        raise RuntimeError("the supervisor process did not start")
    return [runner_end for runner_end, _ in pairs]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", default="100,1000,5000")
    args = p.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    import psutil
    import structlog
    import triggerer_wire
    from airflow.sdk.execution_time import task_runner
    from airflow.sdk.execution_time.supervisor import (
        InProcessSupervisorComms,
        InProcessTestSupervisor,
    )
    from airflow.utils.db import resetdb
    from seed import seed_runs, sync_dags_to_db

    from airflow_mesh.core import coverage
    from airflow_mesh.core.intervals import Period
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

    day = Period(month.start, month.start + timedelta(days=1))
    fan_in = [r.to_json() for r in coverage.requirements_for(mesh, ["payments.transactions"], day)]
    hourly, running = ([[r.to_json() for r in coverage.requirements_for(mesh, ["payments.transactions"],
                                                                        Period(t - timedelta(hours=1), t))]
                        for t in hours] for hours in (ticks, may))

    def other_producers(size: int) -> list[list[dict]]:
        """Each sensor waits for an hour of its own producer DAG (no runs): nothing can be merged."""
        return [[{**hourly[0][0], "dag_id": f"bench_producer_{i:05d}"}] for i in range(size)]

    def adyen_mesh(size: int) -> list[list[dict]]:
        """Sensors on 500 tables produced by 200 DAGs (no runs), two consumers per table, the same hour."""
        tables = [[{**hourly[0][0], "dag_id": f"bench_dag_{j % 200:03d}", "task_id": f"load_table_{j:03d}"}]
                  for j in range(500)]
        return [tables[i % 500] for i in range(size)]

    def scenarios(size: int) -> list[tuple[str, list[list[dict]]]]:
        return [("fan-in   ", [fan_in] * size),
                ("waiting  ", [running[i % len(running)] for i in range(size)]),
                ("distinct ", [hourly[i % len(hourly)] for i in range(size)]),
                ("mesh     ", adyen_mesh(size)),
                *([("producers", other_producers(size))] if size <= 1000 else [])]

    runs = [(size, name, payloads) for size in sizes for name, payloads in scenarios(size)]
    runner_ends = supervisor_process(len(runs))  # forked before this process starts threads

    # one check as a worker's poke makes it: the task's supervisor answers its sync requests
    supervisor = InProcessTestSupervisor(id=uuid.uuid4(), pid=os.getpid(), process=psutil.Process(),
                                         process_log=structlog.get_logger(), client=InProcessTestSupervisor._api_client())
    comms = InProcessSupervisorComms(supervisor=supervisor)
    supervisor.comms = comms
    task_runner.SUPERVISOR_COMMS = comms
    proc = psutil.Process()

    asked: list = []

    def fetch_counted(*question):
        asked.append(question)
        return state_reader.fetch_task_states(*question)

    for label, period in [("hourly -> daily  ", Period(month.start, month.start + timedelta(days=1))),
                          ("hourly -> monthly", month)]:
        reqs = coverage.requirements_for(mesh, ["payments.transactions"], period)
        coverage.evaluate(reqs, state_reader.fetch_task_states)  # warm up
        before, n, t = len(asked), 10, time.perf_counter()
        for _ in range(n):
            status, _, _ = coverage.evaluate(reqs, fetch_counted)
        ms = (time.perf_counter() - t) / n * 1000
        print(f"one check {label}: {reqs[0].expected:4d} producer runs, {(len(asked) - before) // n} Execution API "
              f"call(s) (target O(1): one per {coverage.DATES_PER_CALL:,} runs), {ms:7.1f} ms  (status {status})")

    async def first_checks(payloads: list[list[dict]], runner_end) -> tuple[float, int, int, Counter]:
        """Start one trigger per payload; seconds until every one has its first verdict, calls made, RSS, verdicts.

        A first verdict is the trigger's first check, including the confirmation of a "done" read
        from merged answers (``TableCoverageTrigger._check``). RSS is the trigger runner's.
        """
        task_runner.SUPERVISOR_COMMS, writer = await triggerer_wire.runner_comms(runner_end)
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
            writer.close()  # the supervisor moves on to the next scenario's socket
        return elapsed, reader.calls, rss, verdicts

    for runner_end, (size, name, payloads) in zip(runner_ends, runs, strict=True):
        gc.collect()
        state_reader._readers.clear()
        elapsed, calls, rss, verdicts = asyncio.run(first_checks(payloads, runner_end))
        distinct = len({id(p) for p in payloads})
        # the seeded history: every hour done but the month's last (fan-in: the first day, all done)
        expected = Counter(("waiting" if p is hourly[-1] or p in running
                            or p[0]["dag_id"] != hourly[0][0]["dag_id"] else "success") for p in payloads)
        target = f" (target < {TARGET_S:.0f} s: {'met' if elapsed < TARGET_S else 'NOT met'})" if size == 1000 else ""
        print(f"{len(payloads):5d} deferred sensors, {name} ({distinct:4d} distinct questions): first checks in "
              f"{elapsed:6.2f} s{target}, {calls:4d} Execution API calls, trigger runner RSS {rss / 2**20:4.0f} MiB, "
              f"verdicts as seeded: {'yes' if verdicts == expected else verdicts}")


if __name__ == "__main__":
    main()
