"""The mesh's FastAPI app, mounted by the plugin on Airflow's API server under ``/mesh``.

Airflow adds no authentication to mounted apps, so every route depends on
Airflow's own security dependencies (JWT bearer token or the UI's ``_token``
cookie), which delegate to whichever auth manager is configured; what a user may
see or do per DAG is asked through :mod:`airflow_mesh.views.auth`, the way
Airflow's own API asks it (team included). Even the API description
(``/openapi.json``, ``/docs``, ``/redoc``) needs a login.

A registry that is missing or invalid is the operator's to fix, not a server
fault: pages say what to do and JSON routes answer with the located errors
(:func:`registry_problem`), never a bare 500.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from airflow.api_fastapi.core_api.security import GetUserDep
from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from airflow_mesh.core.registry import MeshValidationError, UnknownTableError
from airflow_mesh.settings import MeshNotConfigured, configured_mesh
from airflow_mesh.views.auth import may_read_task_instances
from airflow_mesh.views.backfill_api import build_router
from airflow_mesh.views.limits import BodySizeLimit
from airflow_mesh.views.map_data import mesh_map
from airflow_mesh.views.pages import STATIC, base_of, render, render_problem
from airflow_mesh.views.run_states import latest_producer_states

TITLE = "airflow-mesh"
NOT_CONFIGURED_FIX = ("Fix: set [mesh] root in airflow.cfg (or the environment variable AIRFLOW__MESH__ROOT) on the "
                      "API server to the folder holding teams/ and ddl/, restart the API server and reload this page.")
INVALID_FIX = ("Fix: correct the registry files named above (each line gives file:line and what to change); "
               "'airflow-mesh validate' lists the same errors before you deploy.")


def wants_html(request: Request) -> bool:
    """Whether the failing route is a page (answer with a page) rather than a JSON route."""
    return getattr(request.scope.get("route"), "response_class", None) is HTMLResponse


def registry_problem(request: Request, err: Exception) -> Response:
    """A missing registry (503, a page saying how to configure one) or an invalid one (422, every located error)."""
    if isinstance(err, MeshNotConfigured):
        if wants_html(request):
            # A fresh install with the plugin but no registry yet: the page is the instructions, not an error.
            return HTMLResponse(render_problem(base_of(request), "No mesh registry is configured", [str(err)],
                                               NOT_CONFIGURED_FIX))
        return JSONResponse({"detail": f"{err}. {NOT_CONFIGURED_FIX}"}, status_code=503)
    assert isinstance(err, MeshValidationError)
    lines = [str(e) for e in err.errors]
    if wants_html(request):
        return HTMLResponse(render_problem(base_of(request), f"The mesh registry has {len(lines)} error(s)", lines,
                                           INVALID_FIX), status_code=422)
    return JSONResponse({"detail": str(err), "errors": [e.model_dump() for e in err.errors]}, status_code=422)


ECHO_DEPTH = 20  # levels of a malformed input echoed back in a 422; deeper ones are elided


def _json_safe(value: Any, depth: int = 0) -> Any:
    """``value`` with NaN and infinities spelled as strings (JSON has no such numbers), and nesting below
    :data:`ECHO_DEPTH` elided: echoing a body nested hundreds of levels deep recursed past Python's limit (500)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (dict, list, tuple)) and depth >= ECHO_DEPTH:
        return f"(nested deeper than {ECHO_DEPTH} levels: not echoed)"
    if isinstance(value, dict):
        return {str(k): _json_safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v, depth + 1) for v in value]
    return value


async def invalid_request(request: Request, err: RequestValidationError) -> JSONResponse:
    """FastAPI's own 422, except that a body with NaN or Infinity (Python's JSON parser accepts them) is echoed
    back as text (the default handler fails to encode them and answers 500) and deep nesting is elided."""
    return JSONResponse({"detail": jsonable_encoder(_json_safe(list(err.errors())))}, status_code=422)


def add_api_description(app: FastAPI) -> None:
    """``/openapi.json``, ``/docs`` and ``/redoc`` for logged-in users only (Airflow's own are open).

    The interactive pages follow ``[api] enable_swagger_ui`` like Airflow's and load
    their scripts from FastAPI's default CDN; the schema itself is served here.
    """
    from airflow.configuration import conf

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_schema(user: GetUserDep) -> dict:
        return app.openapi()

    if not conf.getboolean("api", "enable_swagger_ui", fallback=True):
        return

    @app.get("/docs", include_in_schema=False, response_class=HTMLResponse)
    def swagger_ui(request: Request, user: GetUserDep) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=f"{base_of(request)}/openapi.json", title=f"{TITLE}: API")

    @app.get("/redoc", include_in_schema=False, response_class=HTMLResponse)
    def redoc(request: Request, user: GetUserDep) -> HTMLResponse:
        return get_redoc_html(openapi_url=f"{base_of(request)}/openapi.json", title=f"{TITLE}: API")


@asynccontextmanager
async def start_materializer(app: FastAPI) -> AsyncIterator[None]:
    """The API server's start-up (Airflow enters each mounted app's lifespan): every API server runs the
    materializer's tick from the start, not only after its first mesh request (issue #23). It stops at exit
    (:func:`airflow_mesh.backfill.worker.stop`, registered with ``atexit``)."""
    from airflow_mesh.backfill import worker

    worker.start()
    yield


def create_mesh_app() -> FastAPI:
    app = FastAPI(title=TITLE, description="Data mesh registry, table map and cross-DAG backfills.",
                  docs_url=None, redoc_url=None, openapi_url=None, lifespan=start_materializer)
    app.add_exception_handler(MeshNotConfigured, registry_problem)
    app.add_exception_handler(MeshValidationError, registry_problem)
    # starlette types a handler as taking any Exception; this one is registered only for its own type
    app.add_exception_handler(RequestValidationError, invalid_request)  # type: ignore[arg-type]
    app.add_middleware(BodySizeLimit)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    add_api_description(app)
    app.include_router(build_router())

    def map_document(user) -> dict:
        mesh = configured_mesh()
        producers = {(t.producer_dag, t.producer_task) for t in mesh.tables.values()}
        # run states only of the DAGs whose task instances Airflow's own API would show this user
        readable = may_read_task_instances(user, {d for d, _ in producers})
        return mesh_map(mesh, latest_producer_states(p for p in producers if p[0] in readable), readable)

    @app.get("/api/map")
    def map_api(user: GetUserDep) -> dict:
        """Teams, tables (with data dictionary and latest producer state), DAGs and lineage edges."""
        return map_document(user)

    @app.get("/api/tables")
    def list_tables(user: GetUserDep) -> list[dict]:
        """Every table with its owner, access, schedule and producer."""
        mesh = configured_mesh()
        return [
            {"name": t.name, "team": t.team, "access": t.access, "schedule": t.schedule,
             "producer": t.producer, "inputs": list(t.inputs), "consumers": list(mesh.downstream(t.name)),
             "comment": t.comment}
            for t in mesh.tables.values()
        ]

    @app.get("/api/tables/{name}")
    def table_detail(name: str, user: GetUserDep) -> dict:
        """One table's contract: the data dictionary and lineage."""
        mesh = configured_mesh()
        try:
            t = mesh.table(name)
        except UnknownTableError as err:
            raise HTTPException(status_code=404, detail=str(err)) from err
        team = mesh.teams[t.team]
        data = t.model_dump(mode="json", exclude={"lines"})
        data.update(owner_contact=team.contact_line, consumers=list(mesh.downstream(t.name)))
        return data

    @app.get("/", response_class=HTMLResponse)
    def map_page(request: Request, user: GetUserDep) -> str:
        """The mesh map: teams, tables, cross-team edges, data dictionary, latest run states; searchable."""
        return render("map.html", base_of(request), map_document(user))

    return app
