"""The deferrable half of :class:`~airflow_mesh.sensors.TableSensor`: waits in the triggerer.

Thousands of waiting consumers hold no worker slot: each is one coroutine that asks
the Execution API for the producer runs it needs, every ``poke_interval`` seconds.
What makes thousands of them cheap in one triggerer (see docs/sensors.md):

* **No thread per check.** In the triggerer, the Task SDK's supervisor comms have an
  async ``asend``: requests of all triggers are in flight at once on the event loop
  (the triggerer's supervisor answers them through the Execution API). Only where the
  comms have no ``asend`` (``dag.test()``'s in-process comms) does a check run in a thread.
* **One call per check**: all logical dates of a requirement go in one ``GetTaskStates``
  (:func:`airflow_mesh.core.coverage.date_batches`).
* **Identical questions are asked once**: sensors waiting for the same producer runs
  (many consumers of one table, same period) share one call in flight, and an answer
  younger than ``min(SHARE_SECONDS, poke_interval / 2)``.
* **Jitter**: after its first check a trigger sleeps ``poke_interval * U(0.5, 1.5)``, then
  ``poke_interval * U(0.9, 1.1)``, so sensors that deferred together do not poke in lockstep.
"""

from __future__ import annotations

import asyncio
import random
import time
import weakref
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent
from asgiref.sync import sync_to_async

from airflow_mesh.core.coverage import DEFAULT_FAILED_STATES, Requirement, aevaluate

#: Longest time an answer is shared with other sensors asking the same question.
SHARE_SECONDS = 5.0
#: Most Execution API requests one triggerer has in flight for table sensors at once.
MAX_IN_FLIGHT = 64
#: Relative jitter of the steady poke interval (the first sleep spreads over +-50%).
JITTER = 0.1

States = dict[str, dict[str, str | None]]


def fetch_task_states(dag_id: str, task_id: str, logical_dates: list) -> States:
    """Task SDK call (no DB access): the states of ``task_id`` in the runs at ``logical_dates``."""
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    return RuntimeTaskInstance.get_task_states(dag_id=dag_id, task_ids=[task_id], logical_dates=logical_dates)


async def _ask(dag_id: str, task_id: str, logical_dates: list[datetime]) -> States:
    """One ``GetTaskStates``: awaited on the supervisor comms when they can (the triggerer), else in a thread."""
    from airflow.sdk.execution_time import task_runner

    comms = getattr(task_runner, "SUPERVISOR_COMMS", None)
    if comms is not None and hasattr(comms, "asend"):
        from airflow.sdk.execution_time.comms import GetTaskStates

        response = await comms.asend(GetTaskStates(dag_id=dag_id, task_ids=[task_id], logical_dates=logical_dates))
        return response.task_states
    # dag.test()'s in-process comms are not thread-safe: one thread, as Airflow's own sync_to_async default.
    return await sync_to_async(fetch_task_states)(dag_id, task_id, logical_dates)


class SharedStateReader:
    """Per event loop: bounded concurrency, and one call for identical questions asked close together."""

    def __init__(self) -> None:
        self.gate = asyncio.Semaphore(MAX_IN_FLIGHT)
        self.answers: dict[tuple, tuple[float, asyncio.Future]] = {}
        self.calls = 0

    def _sweep(self, now: float) -> None:
        if len(self.answers) > 4 * MAX_IN_FLIGHT:
            for key in [k for k, (t, f) in self.answers.items() if f.done() and now - t > SHARE_SECONDS]:
                del self.answers[key]

    async def states(self, dag_id: str, task_id: str, logical_dates: list[datetime], max_age: float) -> States:
        key = (dag_id, task_id, tuple(logical_dates))
        while True:
            now = time.monotonic()
            shared = self.answers.get(key)
            if shared is None or (shared[1].done() and now - shared[0] > max_age):
                break
            try:
                return await asyncio.shield(shared[1])
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if shared[1].cancelled() and not (task and task.cancelling()):
                    continue  # the sensor that asked was cancelled, not this one: ask again
                raise
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._sweep(now)
        self.answers[key] = (now, future)
        try:
            async with self.gate:
                self.calls += 1
                result = await _ask(dag_id, task_id, logical_dates)
        except Exception as err:
            self.answers.pop(key, None)
            future.set_exception(err)
            future.exception()  # retrieved: waiters get it, nobody logs "never retrieved"
            raise
        except BaseException:
            self.answers.pop(key, None)
            future.cancel()
            raise
        self.answers[key] = (time.monotonic(), future)
        future.set_result(result)
        return result


_readers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SharedStateReader] = weakref.WeakKeyDictionary()


def state_reader() -> SharedStateReader:
    """The reader of the running event loop (the triggerer runs one loop for all its triggers)."""
    loop = asyncio.get_running_loop()
    reader = _readers.get(loop)
    if reader is None:
        reader = _readers[loop] = SharedStateReader()
    return reader


class TableCoverageTrigger(BaseTrigger):
    """Fires ``success`` when every required producer run succeeded, ``failed`` as soon as one failed."""

    def __init__(self, requirements: list[dict], poke_interval: float = 60.0,
                 failed_states: list[str] | None = None):
        super().__init__()
        self.requirements = requirements
        self.poke_interval = poke_interval
        self.failed_states = list(failed_states or DEFAULT_FAILED_STATES)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{type(self).__module__}.{type(self).__qualname__}",
                {"requirements": self.requirements, "poke_interval": self.poke_interval,
                 "failed_states": self.failed_states})

    def _sleep_seconds(self, checks: int) -> float:
        spread = 0.5 if checks == 1 else JITTER
        return self.poke_interval * random.uniform(1 - spread, 1 + spread)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        reqs = [Requirement.from_json(r) for r in self.requirements]
        reader = state_reader()
        max_age = min(SHARE_SECONDS, self.poke_interval / 2)

        async def fetch(dag_id: str, task_id: str, dates: list[datetime]) -> States:
            return await reader.states(dag_id, task_id, dates, max_age)

        checks = 0
        while True:
            status, message, _ = await aevaluate(reqs, fetch, self.failed_states)
            checks += 1
            if status != "waiting":
                yield TriggerEvent({"status": status, "message": message})
                return
            self.log.info("%s", message)
            await asyncio.sleep(self._sleep_seconds(checks))
