"""The deferrable half of :class:`~airflow_mesh.sensors.TableSensor`: waits in the triggerer.

Thousands of waiting consumers hold no worker slot: each is one coroutine that asks for the
producer runs it needs every ``poke_interval`` seconds, through the triggerer's shared
:class:`~airflow_mesh.triggers.state_reader.SharedStateReader` (identical questions asked once,
different questions about one producer merged into a few calls, bounded; see docs/sensors.md).
All logical dates of a requirement go in one question (:func:`airflow_mesh.core.coverage.date_batches`).
A verdict that ends the wait never rests on merged answers alone (:meth:`TableCoverageTrigger._check`).

**Jitter**: after its first check a trigger sleeps ``poke_interval * U(0.5, 1.5)``, then
``poke_interval * U(0.9, 1.1)``, so sensors that deferred together do not poke in lockstep.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_mesh.core.coverage import DEFAULT_FAILED_STATES, Requirement, aevaluate, date_batches
from airflow_mesh.core.merged_questions import States
from airflow_mesh.triggers.state_reader import SHARE_SECONDS, SharedStateReader, state_reader

#: Relative jitter of the steady poke interval (the first sleep spreads over +-50%).
JITTER = 0.1


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
        checks = 0
        while True:
            status, message = await self._check(reqs, reader)
            checks += 1
            if status != "waiting":
                yield TriggerEvent({"status": status, "message": message})
                return
            self.log.info("%s", message)
            await asyncio.sleep(self._sleep_seconds(checks))

    async def _check(self, reqs: list[Requirement], reader: SharedStateReader) -> tuple[str, str]:
        """One check. A verdict that ends the wait rests on one read per requirement chunk, never on merged answers.

        Merged answers (several calls, maybe several moments) are enough to keep waiting (the
        "waiting" message they give may then mix moments too). "success" from them is confirmed by
        :meth:`SharedStateReader.all_succeeded` (one read at one moment, shared with other
        sensors); "failed", or a confirmation that does not hold, is read again with one fresh call
        per requirement chunk, as without merging.
        """
        max_age = min(SHARE_SECONDS, self.poke_interval / 2)
        merged = False

        async def fetch(dag_id: str, task_id: str, dates: list[datetime]) -> States:
            nonlocal merged
            answer = await reader.read(dag_id, task_id, dates, max_age)
            merged |= answer.merged
            return answer.states

        async def fetch_alone(dag_id: str, task_id: str, dates: list[datetime]) -> States:
            return await reader.states(dag_id, task_id, dates, 0.0, alone=True)

        status, message, _ = await aevaluate(reqs, fetch, self.failed_states)
        if status == "waiting" or not merged:
            return status, message
        if status == "success":
            confirmed = await asyncio.gather(*(reader.all_succeeded(r.dag_id, r.task_id, chunk)
                                               for r in reqs for chunk in date_batches(r)))
            if all(confirmed):
                return status, message
        status, message, _ = await aevaluate(reqs, fetch_alone, self.failed_states)
        return status, message
