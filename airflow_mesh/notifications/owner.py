"""Failure alerts to the team that owns the DAG (and, for a cross-team wait, the upstream owner too).

``MeshOwnerNotifier`` is an Airflow notifier: the cluster policy attaches it as
``on_failure_callback`` of every task, so no DAG author has to remember it.
The mesh writes the message; Airflow's providers deliver it, per team
(``alerts.conn_id`` in ``teams/<team>.yaml``):

* a connection of type ``slackwebhook`` goes through the Slack provider's
  ``SlackWebhookHook`` (``send``, or ``async_send`` in the triggerer);
* any other connection goes through the HTTP provider's ``HttpHook`` (``HttpAsyncHook``
  in the triggerer) as a JSON ``POST`` with the message in ``text`` (Slack/Teams/Mattermost
  compatible) and the structured fields beside it. The URL is the connection's:
  ``{"conn_type": "http", "host": "https://hooks.internal/payments"}`` (a host with a scheme
  is used as it is), or ``AIRFLOW_CONN_X='http://hooks.internal:8080/payments'``.

Both providers are dependencies of airflow-mesh (``apache-airflow-providers-slack``,
``apache-airflow-providers-http``). A team without ``alerts.conn_id`` only gets the
message in the task log. Sending never raises: a broken alert channel must not hide the
task's own failure.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from airflow.sdk import BaseNotifier

from airflow_mesh.settings import configured_mesh


def alert_text(team: str, context: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The message and its structured fields: DAG, task, run, log link, owner and upstream owners."""
    mesh = configured_mesh()
    ti = context.get("ti") or context.get("task_instance")
    task = context.get("task")
    dag_id = getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", "?")
    task_id = getattr(ti, "task_id", "?")
    run_id = getattr(ti, "run_id", None) or context.get("run_id", "?")
    log_url = getattr(ti, "log_url", "") or ""
    exception = context.get("exception")
    upstream = []
    for name in getattr(task, "tables", None) or ():
        t = mesh.tables.get(name)
        if t is not None and t.team != team:
            upstream.append({"table": t.name, "team": t.team, "contact": mesh.teams[t.team].contact_line,
                             "channel": mesh.teams[t.team].alerts.channel})
    lines = [f":red_circle: [{team}] {dag_id}.{task_id} failed in run {run_id}"]
    if exception:
        lines.append(f"Error: {str(exception)[:500]}")
    if log_url:
        lines.append(f"Log: {log_url}")
    for u in upstream:
        lines.append(f"Waiting on {u['table']} of team {u['team']} ({u['contact']}, {u['channel'] or 'no channel'})")
    fields = {"team": team, "dag_id": dag_id, "task_id": task_id, "run_id": run_id, "log_url": log_url,
              "channel": mesh.teams[team].alerts.channel if team in mesh.teams else None, "upstream": upstream}
    return "\n".join(lines), fields


class MeshOwnerNotifier(BaseNotifier):
    """Tell the owning team that one of its tasks failed, through the team's alert connection."""

    def __init__(self, team: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.team = team

    def _prepared(self, context: Any) -> tuple[str, dict[str, Any], str] | None:
        """The alert text and fields, logged, and the team's alert connection (``None``: log only)."""
        text, fields = alert_text(self.team, context)
        self.log.warning("Mesh alert for team %s:\n%s", self.team, text)
        conn_id = configured_mesh().team(self.team).alerts.conn_id
        return (text, fields, conn_id) if conn_id else None

    def _undelivered(self, conn_id: str, err: Exception) -> None:
        # an alert channel outage must not mask the task failure: log it, raise nothing
        self.log.error("Could not send the alert of team %s through %s: %s", self.team, conn_id, err)

    def notify(self, context: Any) -> None:
        if (prepared := self._prepared(context)) is None:
            return
        text, fields, conn_id = prepared
        try:
            send(conn_id, text, fields)
        except Exception as err:  # noqa: BLE001
            self._undelivered(conn_id, err)

    async def async_notify(self, context: Any) -> None:
        """Deadline Alerts run notifiers in the triggerer: same message, sent with the providers' async clients."""
        if (prepared := self._prepared(context)) is None:
            return
        text, fields, conn_id = prepared
        try:
            await asend(conn_id, text, fields)
        except Exception as err:  # noqa: BLE001
            self._undelivered(conn_id, err)

def http_form(conn: Any) -> Any:
    """The connection as the HTTP provider reads it.

    Airflow parses ``AIRFLOW_CONN_X='http://host:port/path'`` into ``schema='path'``, which the
    HTTP provider takes for the URL scheme; such a connection becomes one whose host is the full URL.
    """
    if not conn.schema or conn.schema in ("http", "https") or "://" in (conn.host or ""):
        return conn
    from airflow.sdk import Connection

    scheme = "https" if conn.conn_type == "https" else "http"
    port = f":{conn.port}" if conn.port else ""
    return Connection(conn_id=conn.conn_id, conn_type="http", login=conn.login, password=conn.password,
                      host=f"{scheme}://{conn.host}{port}/{conn.schema.lstrip('/')}", extra=conn.extra)


@lru_cache(maxsize=1)
def _webhook_hooks() -> tuple[type, type]:
    """``HttpHook`` / ``HttpAsyncHook`` reading connections through :func:`http_form` (their public classmethods)."""
    try:
        from airflow.providers.http.hooks.http import HttpAsyncHook, HttpHook
    except ImportError as err:
        raise RuntimeError("alerts to a webhook connection need the HTTP provider. "
                           "Fix: pip install apache-airflow-providers-http") from err

    class WebhookHook(HttpHook):
        @classmethod
        def get_connection(cls, conn_id: str) -> Any:
            return http_form(super().get_connection(conn_id))

    class AsyncWebhookHook(HttpAsyncHook):
        @classmethod
        async def aget_connection(cls, conn_id: str) -> Any:
            return http_form(await super().aget_connection(conn_id))

        @classmethod
        def get_connection(cls, conn_id: str) -> Any:
            return http_form(super().get_connection(conn_id))

    return WebhookHook, AsyncWebhookHook


def send(conn_id: str, text: str, fields: dict[str, Any]) -> None:
    """Deliver through the Slack provider for a Slack webhook connection, else through the HTTP provider."""
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    if conn.conn_type == "slackwebhook":
        from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

        SlackWebhookHook(slack_webhook_conn_id=conn_id).send(text=text)
        return
    hook, _ = _webhook_hooks()
    hook(method="POST", http_conn_id=conn_id).run(json={"text": text, **fields})


async def asend(conn_id: str, text: str, fields: dict[str, Any]) -> None:
    """:func:`send` without blocking the triggerer's event loop."""
    from airflow.sdk import BaseHook

    conn = await BaseHook.aget_connection(conn_id)
    if conn.conn_type == "slackwebhook":
        from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

        await SlackWebhookHook(slack_webhook_conn_id=conn_id).async_send(text=text)
        return
    _, hook = _webhook_hooks()
    await hook(method="POST", http_conn_id=conn_id).run(json={"text": text, **fields})
