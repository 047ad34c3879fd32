"""The owner notifier delivers through Airflow's Slack and HTTP providers, sync and async, to a local HTTP endpoint."""

from __future__ import annotations

import asyncio
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import airflow.sdk  # noqa: F401  (Airflow first: its start-up loads the mesh policy, which imports the notifier)
import pytest

from airflow_mesh.notifications.owner import MeshOwnerNotifier

pytest.importorskip("airflow.providers.slack", reason="apache-airflow-providers-slack is a dependency of airflow-mesh")
pytest.importorskip("airflow.providers.http", reason="apache-airflow-providers-http is a dependency of airflow-mesh")


def run(coro):
    """``asyncio.run`` in a fresh thread: the session may hold a running loop in the main thread (Playwright's sync API)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result(timeout=120)


class Endpoint:
    """A loopback HTTP server that records every POST (path, JSON body) and answers ``status``."""

    def __init__(self, status: int = 200) -> None:
        self.posts: list[tuple[str, dict]] = []
        self.status = status
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                endpoint.posts.append((self.path, json.loads(body or b"{}")))
                self.send_response(endpoint.status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def endpoint():
    e = Endpoint()
    yield e
    e.close()


def failure_context() -> dict:
    ti = SimpleNamespace(dag_id="risk_daily", task_id="score_fraud", run_id="scheduled__2026-10-02T00:00:00+00:00",
                         log_url="http://airflow.example/log")
    task = SimpleNamespace(tables=["payments.transactions"])
    return {"ti": ti, "task": task, "exception": RuntimeError("YARN application ended FAILED")}


def slack_connection(monkeypatch, endpoint: Endpoint) -> None:
    """teams/risk.yaml sends through mesh_alerts_risk; here a Slack incoming webhook served by the endpoint."""
    monkeypatch.setenv("AIRFLOW_CONN_MESH_ALERTS_RISK", json.dumps(
        {"conn_type": "slackwebhook", "password": f"{endpoint.url}/services/T0/B0/secret"}))


def http_connection(monkeypatch, endpoint: Endpoint, form: str = "json") -> None:
    if form == "json":
        monkeypatch.setenv("AIRFLOW_CONN_MESH_ALERTS_RISK", json.dumps(
            {"conn_type": "http", "host": f"{endpoint.url}/alerts/risk"}))
    else:  # the URI form: Airflow puts the path in ``schema``, which HttpHook alone would take for the scheme
        monkeypatch.setenv("AIRFLOW_CONN_MESH_ALERTS_RISK", f"{endpoint.url}/alerts/risk")


def assert_slack_message(endpoint: Endpoint) -> None:
    [(path, body)] = endpoint.posts
    assert path == "/services/T0/B0/secret"
    assert body["text"].startswith(":red_circle: [risk] risk_daily.score_fraud failed in run scheduled__2026-10-02")
    assert "Error: YARN application ended FAILED" in body["text"]
    assert "Waiting on payments.transactions of team payments" in body["text"]


def test_slack_webhook_connection_goes_through_the_slack_provider(monkeypatch, endpoint) -> None:
    slack_connection(monkeypatch, endpoint)
    MeshOwnerNotifier(team="risk").notify(failure_context())
    assert_slack_message(endpoint)


def test_async_notify_sends_the_same_slack_message_without_a_thread(monkeypatch, endpoint) -> None:
    slack_connection(monkeypatch, endpoint)
    run(MeshOwnerNotifier(team="risk").async_notify(failure_context()))
    assert_slack_message(endpoint)


@pytest.mark.parametrize("form", ["json", "uri"])
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_http_connection_posts_text_and_fields_through_the_http_provider(monkeypatch, endpoint, mode, form) -> None:
    http_connection(monkeypatch, endpoint, form)
    notifier = MeshOwnerNotifier(team="risk")
    if mode == "sync":
        notifier.notify(failure_context())
    else:
        run(notifier.async_notify(failure_context()))
    [(path, body)] = endpoint.posts
    assert path == "/alerts/risk"
    assert body["team"] == "risk" and body["dag_id"] == "risk_daily" and body["channel"] == "#risk-alerts"
    assert [u["team"] for u in body["upstream"]] == ["payments"]
    assert "risk_daily.score_fraud failed" in body["text"]


def test_a_failing_alert_channel_is_logged_not_raised(monkeypatch, capfd) -> None:
    down = Endpoint(status=500)
    try:
        http_connection(monkeypatch, down)
        MeshOwnerNotifier(team="risk").notify(failure_context())
        assert len(down.posts) == 1
        run(MeshOwnerNotifier(team="risk").async_notify(failure_context()))
        assert len(down.posts) == 1 + 3  # HttpAsyncHook retries (3 tries by default), then gives up
    finally:
        down.close()
    out = "".join(capfd.readouterr())
    assert out.count("Could not send the alert of team risk through mesh_alerts_risk: 500") == 2
