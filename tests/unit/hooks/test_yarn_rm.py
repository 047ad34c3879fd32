"""The RM client: HA failover across ``ha_urls``, outages as RMUnavailable, one backoff rule, connection forms."""

from __future__ import annotations

import asyncio
import json
import socket
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import airflow.sdk  # noqa: F401  (Airflow first: its start-up loads the mesh policy)
import pytest

from airflow_mesh.hooks.yarn_rm import (
    RMClient,
    RMUnavailable,
    YarnResourceManagerHook,
    backoff_delay,
    settings_from_connection,
)
from airflow_mesh.testing.yarn_rm_simulator import YarnRMSimulator


def run(coro):
    """``asyncio.run`` in a fresh thread: the session may hold a running loop in the main thread (Playwright's sync API)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result(timeout=120)



def dead_url() -> str:
    """A loopback address nobody listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def one_app(rm: YarnRMSimulator) -> str:
    app_id = rm._new_id()
    rm.apps[app_id] = {"id": app_id, "name": "n", "queue": "q", "user": "u", "type": "SPARK", "tags": ["t1"],
                       "command": "", "script": [["RUNNING", "UNDEFINED"]], "step": 0, "diagnostics": "", "started": 1}
    return app_id


def ha_connection(monkeypatch, urls: list[str]) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_YARN_RM_DEFAULT", json.dumps({"conn_type": "yarn_rm", "extra": {"ha_urls": urls}}))


def test_requests_fail_over_to_the_next_rm_of_ha_urls(monkeypatch) -> None:
    with YarnRMSimulator() as standby, YarnRMSimulator() as active:
        standby.fail_next(1000)                       # answers 503 to everything
        app_id = one_app(active)
        ha_connection(monkeypatch, [dead_url(), standby.url, active.url])
        rm = YarnResourceManagerHook().get_conn()
        assert rm.app(app_id).state == "RUNNING"
        assert [a.id for a in rm.apps_with_tag("t1")] == [app_id]
        rm.kill(app_id)
        assert active.apps[app_id]["script"] == [["KILLED", "KILLED"]]
        assert ("GET", f"/ws/v1/cluster/apps/{app_id}") in standby.requests   # it was asked first, and skipped


def test_async_requests_fail_over_too(monkeypatch) -> None:
    with YarnRMSimulator() as standby, YarnRMSimulator() as active:
        standby.fail_next(1000)
        app_id = one_app(active)
        ha_connection(monkeypatch, [standby.url, dead_url(), active.url])

        async def scenario():
            rm = await YarnResourceManagerHook().aget_conn()
            try:
                app = await rm.aapp(app_id)
                await rm.akill(app_id)
                return app
            finally:
                await rm.aclose()

        assert run(scenario()).state == "RUNNING"
        assert active.apps[app_id]["script"] == [["KILLED", "KILLED"]]


def test_no_rm_answering_is_rm_unavailable_naming_the_last_error(monkeypatch) -> None:
    with YarnRMSimulator() as down:
        down.fail_next(1000)
        rm = RMClient(settings_from_connection(SimpleNamespace(conn_id="c", host=None, port=None, schema=None,
                                                               login=None, password=None,
                                                               extra_dejson={"ha_urls": [dead_url(), down.url]})))
        with pytest.raises(RMUnavailable, match="HTTP 503"):
            rm.app("application_1_0001")


def test_unknown_application_is_rm_unavailable_not_an_answer() -> None:
    """During an RM restart or failover an application can be briefly unknown (404): keep tracking."""
    with YarnRMSimulator() as rm_sim:
        rm = RMClient(settings_from_connection(SimpleNamespace(conn_id="c", host=rm_sim.url, port=None, schema=None,
                                                               login=None, password=None, extra_dejson={})))
        with pytest.raises(RMUnavailable, match="404"):
            rm.app("application_1_9999")


def test_a_spark_connection_with_the_providers_webapp_address_serves_as_rm_connection() -> None:
    conn = SimpleNamespace(conn_id="mesh_spark", host="yarn", port=None, schema=None, login=None, password=None,
                           extra_dejson={"deploy-mode": "cluster", "yarn_resourcemanager_webapp_address": "rm1:8088"})
    assert settings_from_connection(conn).urls == ("http://rm1:8088",)
    with pytest.raises(ValueError, match=r"connection x names no YARN ResourceManager\. Fix: set host \(and port\)"):
        settings_from_connection(SimpleNamespace(conn_id="x", host=None, port=None, schema=None, login=None,
                                                 password=None, extra_dejson={}))


def test_backoff_doubles_from_the_poll_interval_up_to_the_cap() -> None:
    assert [backoff_delay(2.0, n, 30.0) for n in range(1, 6)] == [4.0, 8.0, 16.0, 30.0, 30.0]
    assert backoff_delay(1.0, 10_000, 300.0) == 300.0
