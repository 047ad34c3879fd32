"""Track a YARN application from the triggerer: no worker slot, no JVM, one coroutine per job.

Polls ``/ws/v1/cluster/apps/{id}`` every ``poll_interval`` seconds. An RM that does
not answer (connection error, timeout, 5xx, 404 during failover) is retried with
exponential backoff up to ``max_backoff`` seconds: the task neither fails nor
forgets the application id. Fires once the application is terminal, or when the
task's ``deadline`` passes, in which case it kills the application first.
``on_kill`` (a user marks the task failed/success or clears it) kills it too;
triggerer restarts and redistribution do not.

Why the mesh has its own trigger: the Spark provider (6.3.4) tracks YARN only from the
worker (``yarn_track_via_rm_api``, holding the slot); its deferrable mode was never merged
(apache/airflow#67168, PR #68277 closed).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_mesh.hooks.yarn_rm import (
    RMClient,
    RMUnavailable,
    YarnResourceManagerHook,
    backoff_delay,
)


class YarnApplicationTrigger(BaseTrigger):
    """Fires ``succeeded`` / ``failed`` / ``killed`` with the application's report, or ``timeout`` past ``deadline``."""

    def __init__(self, app_id: str, yarn_conn_id: str, poll_interval: float = 30.0, max_backoff: float = 300.0,
                 deadline: str | None = None) -> None:
        super().__init__()
        self.app_id = app_id
        self.yarn_conn_id = yarn_conn_id
        self.poll_interval = poll_interval
        self.max_backoff = max_backoff
        self.deadline = deadline

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return ("airflow_mesh.triggers.yarn_trigger.YarnApplicationTrigger",
                {"app_id": self.app_id, "yarn_conn_id": self.yarn_conn_id, "poll_interval": self.poll_interval,
                 "max_backoff": self.max_backoff, "deadline": self.deadline})

    async def _client(self) -> RMClient:
        return await YarnResourceManagerHook(self.yarn_conn_id).aget_conn()

    def _past_deadline(self) -> bool:
        return self.deadline is not None and datetime.now(UTC) >= datetime.fromisoformat(self.deadline)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        client = await self._client()
        try:
            async for event in self._track(client):
                yield event
                return
        finally:
            await client.aclose()

    async def _track(self, client: RMClient) -> AsyncIterator[TriggerEvent]:
        failures = 0
        last_state = None
        while True:
            if self._past_deadline():
                try:
                    await client.akill(self.app_id)
                    killed = True
                except RMUnavailable as err:
                    self.log.warning("Deadline passed but the kill of %s did not reach the RM: %s", self.app_id, err)
                    killed = False
                yield TriggerEvent({"status": "timeout", "app_id": self.app_id, "killed": killed})
                return
            try:
                app = await client.aapp(self.app_id)
            except RMUnavailable as err:
                failures += 1
                wait = backoff_delay(self.poll_interval, failures, self.max_backoff)
                self.log.warning("ResourceManager unavailable (%s), attempt %d; still tracking %s, next try in %.1fs",
                                 err, failures, self.app_id, wait)
                await asyncio.sleep(wait)
                continue
            if failures:
                self.log.info("ResourceManager answers again after %d failed attempt(s)", failures)
            failures = 0
            if app.state != last_state:
                self.log.info("YARN application %s is %s (%s)", app.id, app.state, app.tracking_url)
                last_state = app.state
            if app.terminal:
                status = "succeeded" if app.succeeded else ("killed" if app.state == "KILLED" or
                                                            app.final_status == "KILLED" else "failed")
                yield TriggerEvent({"status": status, "app_id": app.id, "state": app.state,
                                    "final_status": app.final_status, "diagnostics": app.diagnostics,
                                    "tracking_url": app.tracking_url})
                return
            await asyncio.sleep(self.poll_interval)

    async def on_kill(self) -> None:
        """A user acted on the deferred task: stop the application on the cluster too."""
        client = await self._client()
        try:
            await client.akill(self.app_id)
        finally:
            await client.aclose()
        self.log.info("Killed YARN application %s because the task was stopped by a user", self.app_id)
