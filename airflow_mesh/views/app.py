"""The mesh's FastAPI app, mounted by the plugin on Airflow's API server under ``/mesh``.

Airflow adds no authentication to mounted apps, so every route depends on
Airflow's own security dependencies (JWT bearer token or the UI's ``_token``
cookie), which delegate to whichever auth manager is configured.
"""

from __future__ import annotations

from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse

from airflow.api_fastapi.core_api.security import GetUserDep

from airflow_mesh.registry import UnknownTableError, load_mesh


def create_mesh_app() -> FastAPI:
    app = FastAPI(title="airflow-mesh", description="Data mesh registry, table map and cross-DAG backfills.")

    @app.get("/api/tables")
    def list_tables(user: GetUserDep) -> list[dict]:
        """Every table with its owner, access, schedule and producer."""
        mesh = load_mesh()
        return [
            {"name": t.name, "team": t.team, "access": t.access, "schedule": t.schedule,
             "producer": t.producer, "inputs": list(t.inputs), "consumers": list(mesh.downstream(t.name)),
             "comment": t.comment}
            for t in mesh.tables.values()
        ]

    @app.get("/api/tables/{name}")
    def table_detail(name: str, user: GetUserDep) -> dict:
        """One table's contract: the data dictionary and lineage."""
        mesh = load_mesh()
        try:
            t = mesh.table(name)
        except UnknownTableError as err:
            raise HTTPException(status_code=404, detail=str(err))
        team = mesh.teams[t.team]
        data = t.model_dump(mode="json", exclude={"lines"})
        data.update(owner_contact=team.contact_line, consumers=list(mesh.downstream(t.name)))
        return data

    @app.get("/", response_class=HTMLResponse)
    def index(user: GetUserDep) -> str:
        mesh = load_mesh()
        rows = "".join(
            f"<tr><td>{t.name}</td><td>{t.team}</td><td>{t.access}</td><td>{t.schedule}</td>"
            f"<td>{', '.join(t.inputs)}</td></tr>" for t in sorted(mesh.tables.values(), key=lambda t: t.name))
        return ("<!doctype html><title>Data mesh</title><h1>Data mesh</h1>"
                f"<table><tr><th>Table</th><th>Team</th><th>Access</th><th>Schedule</th><th>Inputs</th></tr>{rows}</table>")

    return app
