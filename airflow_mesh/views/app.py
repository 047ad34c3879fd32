"""The mesh's FastAPI app, mounted by the plugin on Airflow's API server under ``/mesh``.

Airflow adds no authentication to mounted apps, so every route depends on
Airflow's own security dependencies (JWT bearer token or the UI's ``_token``
cookie), which delegate to whichever auth manager is configured. What a user may
see or do per DAG is asked of the auth manager (``filter_authorized_dag_ids``,
``is_authorized_dag``), so the same code works under SimpleAuthManager and
FabAuthManager.
"""

from __future__ import annotations

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from airflow.api_fastapi.core_api.security import GetUserDep

from airflow_mesh.core.registry import UnknownTableError
from airflow_mesh.settings import configured_mesh
from airflow_mesh.views.auth import may_read_task_instances
from airflow_mesh.views.backfill_api import build_router
from airflow_mesh.views.map_data import mesh_map
from airflow_mesh.views.pages import STATIC, base_of, render
from airflow_mesh.views.run_states import latest_producer_states


def readable_dags(user, dag_ids: set[str]) -> set[str]:
    """DAGs whose task states the user may see: what Airflow's task instance API asks, team included."""
    return may_read_task_instances(user, dag_ids)


def create_mesh_app() -> FastAPI:
    app = FastAPI(title="airflow-mesh", description="Data mesh registry, table map and cross-DAG backfills.")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(build_router())

    def map_document(user) -> dict:
        mesh = configured_mesh()
        producers = {(t.producer_dag, t.producer_task) for t in mesh.tables.values()}
        readable = readable_dags(user, {d for d, _ in producers})
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
            raise HTTPException(status_code=404, detail=str(err))
        team = mesh.teams[t.team]
        data = t.model_dump(mode="json", exclude={"lines"})
        data.update(owner_contact=team.contact_line, consumers=list(mesh.downstream(t.name)))
        return data

    @app.get("/", response_class=HTMLResponse)
    def map_page(request: Request, user: GetUserDep) -> str:
        """The mesh map: teams, tables, cross-team edges, data dictionary, latest run states; searchable."""
        return render("map.html", base_of(request), map_document(user))

    return app
