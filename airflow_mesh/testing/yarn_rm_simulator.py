"""A YARN ResourceManager SIMULATOR: a loopback HTTP server speaking the documented RM REST API.

Not YARN. It implements the endpoints the mesh uses, with the JSON shapes of the
Hadoop "ResourceManager REST API's" documentation:

* ``GET  /ws/v1/cluster/info``
* ``GET  /ws/v1/cluster/apps?applicationTags=a,b&states=S1,S2`` (``{"apps": null}`` when none)
* ``GET  /ws/v1/cluster/apps/{id}``, 404 ``RemoteException`` for unknown ids
* ``PUT  /ws/v1/cluster/apps/{id}/state`` with ``{"state": "KILLED"}``
* ``POST /ws/v1/cluster/apps/new-application`` and ``POST /ws/v1/cluster/apps`` (REST submission,
  ``?doAs=`` sets the user)

An application moves through a *script* of states, one step per ``GET`` of that
application, and stays on its last step: by default ACCEPTED → RUNNING →
FINISHED/SUCCEEDED. A step is ``[state, finalStatus]`` or ``[state, finalStatus,
diagnostics]``; the step ``["OUTAGE", "n"]`` makes the RM answer the next n requests for
the application with 503 (an RM outage in the middle of a job), then moves on. Tests steer it through ``/sim/*`` control endpoints (not part of
YARN): the script of the next submission, an outage (503 for the next N requests),
and a dump of every application and request. Deterministic: time plays no part.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

DEFAULT_SCRIPT = [["ACCEPTED", "UNDEFINED"], ["RUNNING", "UNDEFINED"], ["FINISHED", "SUCCEEDED"]]
TERMINAL = {"FINISHED", "FAILED", "KILLED"}


class YarnRMSimulator:
    """Start with ``with YarnRMSimulator() as rm: rm.url``; inspect ``rm.apps``; steer with the methods below."""

    def __init__(self) -> None:
        self.cluster_ts = int(time.time() * 1000)
        self.apps: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self.next_script: list[list[str]] = DEFAULT_SCRIPT
        self.outage = 0
        self.lock = threading.Lock()
        self._counter = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # --- lifecycle ------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def __enter__(self) -> YarnRMSimulator:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- steering (tests) ---------------------------------------------------------------------
    def script_next(self, steps: list[list[str]]) -> None:
        with self.lock:
            self.next_script = steps

    def fail_next(self, n: int) -> None:
        with self.lock:
            self.outage = n

    def set_state(self, app_id: str, state: str, final_status: str, diagnostics: str = "") -> None:
        with self.lock:
            app = self.apps[app_id]
            app["script"], app["step"] = [[state, final_status]], 0
            app["diagnostics"] = diagnostics

    def polls(self, app_id: str) -> int:
        return sum(1 for m, p in self.requests if m == "GET" and p == f"/ws/v1/cluster/apps/{app_id}")

    # --- the RM ---------------------------------------------------------------------------------
    def _new_id(self) -> str:
        self._counter += 1
        return f"application_{self.cluster_ts}_{self._counter:04d}"

    def _view(self, app: dict[str, Any]) -> dict[str, Any]:
        step = app["script"][app["step"]]
        state, final = step[0], step[1]
        if len(step) > 2:
            app["diagnostics"] = step[2]
        return {"id": app["id"], "user": app["user"], "name": app["name"], "queue": app["queue"], "state": state,
                "finalStatus": final, "progress": 100.0 if state in TERMINAL else 10.0, "trackingUI": "History",
                "trackingUrl": f"{self.url}/proxy/{app['id']}/", "diagnostics": app["diagnostics"],
                "clusterId": self.cluster_ts, "applicationType": app["type"],
                "applicationTags": ",".join(app["tags"]), "startedTime": app["started"],
                "finishedTime": app["started"] + 1000 if state in TERMINAL else 0, "amContainerLogs": "",
                "command": app["command"]}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        """The request handler class of this simulator (``http.server`` makes one handler per request)."""
        return type("Handler", (_RMHandler,), {"sim": self})


class _RMHandler(BaseHTTPRequestHandler):
    """One request to the simulator: ``/sim/*`` control, else the RM REST API, each endpoint its own method.

    ``sim`` is set on the per-simulator subclass :meth:`YarnRMSimulator._handler` makes. Every endpoint runs
    under ``sim.lock``, so an application's script advances once per request even with concurrent pollers.
    """

    sim: YarnRMSimulator
    _APPS = ["", "ws", "v1", "cluster", "apps"]

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, code: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict[str, Any]:
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n) or b"{}")

    def _dispatch(self, method: str) -> None:
        url = urlparse(self.path)
        path, query = url.path.rstrip("/"), parse_qs(url.query)
        sim = self.sim
        with sim.lock:
            if path.startswith("/sim/"):
                return self._control(method, path)
            sim.requests.append((method, path))
            if sim.outage > 0:
                sim.outage -= 1
                return self._send(503, {"RemoteException": {"message": "simulated RM outage"}})
            return self._rm(method, path, query)

    def _control(self, method: str, path: str) -> None:
        if path == "/sim/apps":
            return self._send(200, {"apps": self.sim.apps, "requests": self.sim.requests})
        if path == "/sim/script" and method == "POST":
            self.sim.next_script = self._body()["steps"]
            return self._send(200, {})
        if path == "/sim/outage" and method == "POST":
            self.sim.outage = int(self._body()["requests"])
            return self._send(200, {})
        return self._send(404, {})

    def _rm(self, method: str, path: str, query: dict[str, list[str]]) -> None:
        """Route an RM REST request: the fixed endpoints by (method, path), then ``/ws/v1/cluster/apps/{id}...``."""
        if method == "GET" and path == "/ws/v1/cluster/info":
            return self._cluster_info()
        if method == "GET" and path == "/ws/v1/cluster/apps":
            return self._list_apps(query)
        if method == "POST" and path == "/ws/v1/cluster/apps/new-application":
            return self._new_application()
        if method == "POST" and path == "/ws/v1/cluster/apps":
            return self._submit(query)
        parts = path.split("/")
        if len(parts) >= 6 and parts[:5] == self._APPS:
            return self._app(method, path, parts[5], parts[6:])
        return self._no_endpoint(method, path)

    def _no_endpoint(self, method: str, path: str) -> None:
        return self._send(404, {"RemoteException": {"message": f"no such endpoint {method} {path}"}})

    def _cluster_info(self) -> None:
        return self._send(200, {"clusterInfo": {"id": self.sim.cluster_ts, "state": "STARTED",
                                                "haState": "ACTIVE", "resourceManagerVersion": "simulator"}})

    def _list_apps(self, query: dict[str, list[str]]) -> None:
        """Applications filtered like the RM does: any of the tags (case-insensitive), any of the states."""
        tags = {t.lower() for v in query.get("applicationTags", []) for t in v.split(",") if t}
        states = {s.upper() for v in query.get("states", []) for s in v.split(",") if s}
        apps = [self.sim._view(a) for a in self.sim.apps.values()
                if (not tags or tags & set(a["tags"]))]
        apps = [a for a in apps if not states or a["state"] in states]
        return self._send(200, {"apps": {"app": apps} if apps else None})

    def _new_application(self) -> None:
        return self._send(200, {"application-id": self.sim._new_id(),
                                "maximum-resource-capability": {"memory": 8192, "vCores": 4}})

    def _submit(self, query: dict[str, list[str]]) -> None:
        """REST submission: the application follows the script set for the next submission (then the default)."""
        sim = self.sim
        body = self._body()
        app_id = body["application-id"]
        sim.apps[app_id] = {
            "id": app_id, "name": body.get("application-name", ""), "queue": body.get("queue", "default"),
            "user": (query.get("doAs") or ["simulator"])[0], "type": body.get("application-type", "SPARK"),
            "tags": [t.lower() for t in (body.get("application-tags") or {}).get("tag", [])],
            "command": ((body.get("am-container-spec") or {}).get("commands") or {}).get("command", ""),
            "script": [list(s) for s in sim.next_script], "step": 0, "diagnostics": "",
            "started": int(time.time() * 1000) + len(sim.apps)}
        sim.next_script = DEFAULT_SCRIPT
        return self._send(202, {})

    def _app(self, method: str, path: str, app_id: str, rest: list[str]) -> None:
        """``/ws/v1/cluster/apps/{id}`` (GET: report and advance) and ``.../state`` (PUT: kill)."""
        app = self.sim.apps.get(app_id)
        if app is None:
            return self._send(404, {"RemoteException": {"exception": "NotFoundException",
                                                        "message": f"app with id: {app_id} not found"}})
        if method == "GET" and not rest:
            return self._poll(app)
        if method == "PUT" and rest == ["state"]:
            return self._kill(app)
        return self._no_endpoint(method, path)

    def _poll(self, app: dict[str, Any]) -> None:
        """One GET of an application: an OUTAGE step answers 503 (counting down), else report the current
        step and move to the next one (staying on the last)."""
        step = app["script"][app["step"]]
        if step[0] == "OUTAGE":
            step[1] = str(int(step[1]) - 1)
            if int(step[1]) <= 0:
                app["step"] += 1
            return self._send(503, {"RemoteException": {"message": "simulated RM outage"}})
        view = self.sim._view(app)
        if app["step"] < len(app["script"]) - 1:
            app["step"] += 1
        return self._send(200, {"app": view})

    def _kill(self, app: dict[str, Any]) -> None:
        """``{"state": "KILLED"}`` ends a running application; a finished one keeps its final state."""
        if self._body().get("state") != "KILLED":
            return self._send(400, {"RemoteException": {"message": "only KILLED is supported"}})
        if self.sim._view(app)["state"] not in TERMINAL:
            app["script"], app["step"] = [["KILLED", "KILLED"]], 0
            app["diagnostics"] = "Application killed by user."
        return self._send(200, {"state": self.sim._view(app)["state"]})

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_POST(self) -> None:
        self._dispatch("POST")
