"""The deferrable half of :class:`~airflow_mesh.sensors.TableSensor`: waits in the triggerer.

Thousands of waiting consumers hold no worker slot: each is one coroutine that
asks the Execution API (``get_task_states``, via the triggerer's supervisor) for
the producer runs it needs, every ``poke_interval`` seconds.
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

from asgiref.sync import sync_to_async

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_mesh.core.coverage import DEFAULT_FAILED_STATES, Requirement, evaluate


def fetch_task_states(dag_id: str, task_id: str, logical_dates: list) -> dict:
    """Task SDK call (no DB access): the states of ``task_id`` in the runs at ``logical_dates``."""
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    return RuntimeTaskInstance.get_task_states(dag_id=dag_id, task_ids=[task_id], logical_dates=logical_dates)


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

    async def run(self) -> AsyncIterator[TriggerEvent]:
        reqs = [Requirement.from_json(r) for r in self.requirements]
        check = sync_to_async(evaluate)
        while True:
            status, message, _ = await check(reqs, fetch_task_states, self.failed_states)
            if status != "waiting":
                yield TriggerEvent({"status": status, "message": message})
                return
            self.log.info("%s", message)
            await asyncio.sleep(self.poke_interval)
