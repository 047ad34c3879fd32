"""The YARN ResourceManager REST API (Hadoop "ResourceManager REST API's"), sync and async, over httpx.

Used by the Spark operator on the worker (look up, kill) and by its trigger in the
triggerer (poll), so both speak to the RM the same way. The RM address and auth come
from an Airflow connection of type ``yarn_rm`` (registered by this package):

* host ``rm.example.com`` (or a full URL ``https://rm.example.com``), port ``8088``;
  schema ``https`` for TLS;
* extra ``{"auth": "kerberos"}`` for SPNEGO (needs ``pip install airflow-mesh[kerberos]``,
  i.e. httpx-gssapi, and a valid ticket or keytab login on the host), or login/password
  for HTTP basic auth behind a proxy; extra ``{"verify": false}`` or a CA bundle path;
  ``{"timeout": 10}`` seconds per request.
* extra ``{"ha_urls": ["http://rm1:8088", "http://rm2:8088"]}``: RM HA; each request
  tries them in order (a standby RM answers with a redirect or 307 to the active one).
* a Spark connection works too: its ``yarn_resourcemanager_webapp_address``
  extra (the key the Spark provider reads for ``yarn_track_via_rm_api``) is the RM address,
  so one connection can serve both.

Why the mesh keeps its own RM client next to the Spark provider's (which polls and kills
through ``requests`` from the worker): the provider has no async client (the triggerer must
not block its event loop), no RM HA (one address) and gives up after ten failed polls; and
it cannot list applications by tag, which is what closes the submit→persist gap.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import httpx
from airflow.sdk import BaseHook

LIVE_STATES = ("NEW", "NEW_SAVING", "SUBMITTED", "ACCEPTED", "RUNNING")
TERMINAL_STATES = ("FINISHED", "FAILED", "KILLED")


@dataclass(frozen=True)
class YarnApp:
    """The fields of ``/ws/v1/cluster/apps/{id}`` the mesh acts on."""

    id: str
    state: str
    final_status: str
    name: str = ""
    queue: str = ""
    user: str = ""
    tags: tuple[str, ...] = ()
    diagnostics: str = ""
    tracking_url: str = ""
    started: int = 0
    log_aggregation: str = ""

    @classmethod
    def from_json(cls, app: dict[str, Any]) -> YarnApp:
        tags = app.get("applicationTags") or ""
        return cls(id=app["id"], state=app.get("state", ""), final_status=app.get("finalStatus", ""),
                   name=app.get("name", ""), queue=app.get("queue", ""), user=app.get("user", ""),
                   tags=tuple(t for t in tags.split(",") if t), diagnostics=app.get("diagnostics", "") or "",
                   tracking_url=app.get("trackingUrl", "") or "", started=int(app.get("startedTime", 0) or 0),
                   log_aggregation=app.get("logAggregationStatus", "") or "")

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES

    @property
    def succeeded(self) -> bool:
        return self.state == "FINISHED" and self.final_status == "SUCCEEDED"

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES


class RMUnavailable(Exception):
    """The RM did not answer usefully (connection error, timeout, 5xx): try again later."""


class RMAppNotFound(RMUnavailable):
    """The RM answered 404 for an application id.

    While *tracking* an application this is ridden out like an outage (an RM that is restarting or
    failing over may not know it yet). When *re-attaching* to an id stored by an earlier try or an
    earlier run, it means the RM has forgotten the application (it keeps only
    ``yarn.resourcemanager.max-completed-applications`` finished ones), so it cannot be running.
    """


@dataclass(frozen=True)
class RMSettings:
    urls: tuple[str, ...]
    auth: str | None = None  # None | "kerberos" | "basic"
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    verify: bool | str = True
    timeout: float = 10.0

    def httpx_auth(self) -> httpx.Auth | None:
        if self.auth == "kerberos":
            try:
                from httpx_gssapi import HTTPSPNEGOAuth
            except ImportError as err:
                raise RuntimeError("the yarn_rm connection asks for Kerberos (SPNEGO) auth: "
                                   "pip install 'airflow-mesh[kerberos]' (httpx-gssapi)") from err
            return HTTPSPNEGOAuth()
        if self.auth == "basic" or (self.auth is None and self.login):
            return httpx.BasicAuth(self.login or "", self.password or "")
        return None


def backoff_delay(poll_interval: float, failures: int, max_backoff: float) -> float:
    """Seconds to wait after ``failures`` failed RM requests in a row: doubling from ``poll_interval``, capped.

    The one backoff rule of the mesh's RM tracking (triggerer and worker alike).
    """
    return min(max_backoff, poll_interval * 2 ** min(failures, 16))


def settings_from_connection(conn: Any) -> RMSettings:
    extra = conn.extra_dejson or {}
    if extra.get("ha_urls"):
        urls = tuple(u.rstrip("/") for u in extra["ha_urls"])
    elif extra.get("yarn_resourcemanager_webapp_address"):  # a Spark connection: its host is the master
        raw = str(extra["yarn_resourcemanager_webapp_address"]).strip()
        urls = ((raw if "://" in raw else f"http://{raw}").rstrip("/"),)
    else:
        if not conn.host:
            raise ValueError(f"connection {conn.conn_id} names no YARN ResourceManager. Fix: set host (and port) of "
                             f"the ResourceManager, extra.ha_urls, or (Spark connection) "
                             f"extra.yarn_resourcemanager_webapp_address")
        host = conn.host if "://" in conn.host else f"{conn.schema or 'http'}://{conn.host}"
        urls = (host.rstrip("/") + (f":{conn.port}" if conn.port else ""),)
    return RMSettings(urls=urls, auth=extra.get("auth"), login=conn.login, password=conn.password,
                      verify=extra.get("verify", True), timeout=float(extra.get("timeout", 10)))


def _usable(r: httpx.Response) -> httpx.Response:
    """A 5xx is the RM (or its proxy) being unavailable, not an answer."""
    if r.status_code >= 500:
        raise RMUnavailable(f"{r.request.method} {r.request.url}: HTTP {r.status_code}")
    return r


@lru_cache(maxsize=8)
def _ssl_context(verify: bool | str) -> ssl.SSLContext | bool:
    """One SSL context per trust setting for the whole process: building one per client costs ~0.5 MiB and CPU,
    which adds up with hundreds of tracked applications in one triggerer."""
    if verify is False:
        return False
    return ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)


class RMClient:
    """Sync and async calls to the RM; every failure to get an answer is :class:`RMUnavailable`.

    The async side keeps one connection pool per client (one per tracked application in the
    triggerer); call :meth:`aclose` when done.
    """

    def __init__(self, settings: RMSettings):
        self.settings = settings
        self._async: httpx.AsyncClient | None = None

    def _kw(self) -> dict[str, Any]:
        return {"auth": self.settings.httpx_auth(), "verify": _ssl_context(self.settings.verify),
                "timeout": self.settings.timeout, "follow_redirects": True}

    async def aclose(self) -> None:
        if self._async is not None:
            await self._async.aclose()
            self._async = None

    def _request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """The first usable answer among the RM URLs (HA: a standby redirects; a dead one is skipped)."""
        last: Exception | None = None
        with httpx.Client(**self._kw()) as client:
            for base in self.settings.urls:
                try:
                    return _usable(client.request(method, base + path, **kw))
                except (httpx.HTTPError, RMUnavailable) as err:
                    last = err
        raise RMUnavailable(str(last))

    async def _arequest(self, method: str, path: str, **kw: Any) -> httpx.Response:
        last: Exception | None = None
        if self._async is None:
            self._async = httpx.AsyncClient(**self._kw())
        for base in self.settings.urls:
            try:
                return _usable(await self._async.request(method, base + path, **kw))
            except (httpx.HTTPError, RMUnavailable) as err:
                last = err
        raise RMUnavailable(str(last))

    @staticmethod
    def _app(r: httpx.Response, app_id: str) -> YarnApp:
        if r.status_code == 404:
            raise RMAppNotFound(f"the RM does not know {app_id} (404); it may be restarting or failing over")
        r.raise_for_status()
        return YarnApp.from_json(r.json()["app"])

    def app(self, app_id: str) -> YarnApp:
        return self._app(self._request("GET", f"/ws/v1/cluster/apps/{app_id}"), app_id)

    async def aapp(self, app_id: str) -> YarnApp:
        return self._app(await self._arequest("GET", f"/ws/v1/cluster/apps/{app_id}"), app_id)

    def apps_with_tag(self, tag: str) -> list[YarnApp]:
        """Applications carrying ``tag`` (the RM matches any of the given tags), newest first."""
        r = self._request("GET", "/ws/v1/cluster/apps", params={"applicationTags": tag})
        r.raise_for_status()
        apps = ((r.json() or {}).get("apps") or {}).get("app") or []
        return sorted((YarnApp.from_json(a) for a in apps), key=lambda a: (a.started, a.id), reverse=True)

    def queues(self) -> set[str] | None:
        """Names and paths of the scheduler's queues (``risk``, ``root.risk``), or None if it does not list them.

        Why: the RM rejects an application to an unknown queue only after spark-submit started a JVM and
        uploaded the job, as a FAILED application; asked first, the task fails at once and names the queue.
        """
        r = self._request("GET", "/ws/v1/cluster/scheduler")
        if r.status_code != 200:
            return None
        info = ((r.json() or {}).get("scheduler") or {}).get("schedulerInfo") or {}
        if "queues" not in info:  # not the CapacityScheduler's shape (e.g. FairScheduler): not checked
            return None
        names: set[str] = set()
        stack = [info]
        while stack:
            node = stack.pop()
            for q in ((node.get("queues") or {}).get("queue") or []):
                names.update(n for n in (q.get("queueName"), q.get("queuePath")) if n)
                stack.append(q)
        return names

    def kill(self, app_id: str) -> None:
        r = self._request("PUT", f"/ws/v1/cluster/apps/{app_id}/state", json={"state": "KILLED"})
        if r.status_code not in (200, 202):
            raise RMUnavailable(f"kill {app_id}: HTTP {r.status_code} {r.text[:200]}")

    async def akill(self, app_id: str) -> None:
        r = await self._arequest("PUT", f"/ws/v1/cluster/apps/{app_id}/state", json={"state": "KILLED"})
        if r.status_code not in (200, 202):
            raise RMUnavailable(f"kill {app_id}: HTTP {r.status_code} {r.text[:200]}")


class YarnResourceManagerHook(BaseHook):
    """Airflow connection type ``yarn_rm``: where the YARN ResourceManager's REST API is, and how to authenticate."""

    conn_name_attr = "yarn_conn_id"
    default_conn_name = "yarn_rm_default"
    conn_type = "yarn_rm"
    hook_name = "YARN ResourceManager (airflow-mesh)"

    def __init__(self, yarn_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.yarn_conn_id = yarn_conn_id

    def get_conn(self) -> RMClient:
        """The one place an :class:`RMClient` is built from a connection (worker and triggerer)."""
        return RMClient(settings_from_connection(self.get_connection(self.yarn_conn_id)))

    async def aget_conn(self) -> RMClient:
        """:meth:`get_conn` for the triggerer: the connection comes through the SDK's async path."""
        return RMClient(settings_from_connection(await self.aget_connection(self.yarn_conn_id)))

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {
            "hidden_fields": [],
            "relabeling": {"host": "ResourceManager host or URL", "schema": "Scheme (http/https)"},
            "placeholders": {"host": "rm.example.com", "port": "8088",
                             "extra": '{"auth": "kerberos", "verify": true, "timeout": 10}'},
        }
