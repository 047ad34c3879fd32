"""JSON API and pages of cross-DAG backfills, on the plugin's FastAPI app.

* ``POST /api/backfills/plan``: dry run (any authenticated user); says which DAGs the user may not edit.
* ``POST /api/backfills``: execute; 403 unless the auth manager allows ``PUT`` on every DAG in the plan,
  409 if the plan no longer has the number of runs the user confirmed.
* ``GET /api/backfills``, ``GET /api/backfills/{id}``: execution records and live progress.

POSTs authenticated by the UI's cookie must carry the header ``X-Requested-By`` (a
cross-site form or image cannot set it, and a cross-site script cannot without a CORS
preflight this app never grants) and, when the browser sends ``Origin``, come from this
host. Requests with a bearer token are not cookie-borne and need neither.
"""

from __future__ import annotations

from typing import Annotated, Callable

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from airflow.api_fastapi.core_api.security import GetUserDep

from airflow_mesh.backfill import service
from airflow_mesh.backfill.dag_runs import PlanNotExecutable
from airflow_mesh.backfill.request import BackfillRequest
from airflow_mesh.core.planner.plan import UnknownRootError
from airflow_mesh.core.registry import MeshValidationError
from airflow_mesh.settings import configured_mesh
from airflow_mesh.views.auth import CSRF_HEADER, csrf_guard, may_run
from airflow_mesh.views.pages import base_of, render

# The id column is a 32-bit INTEGER (PostgreSQL int4): bigger ids are refused with a 422, not a database error.
RecordId = Annotated[int, Path(ge=1, le=2**31 - 1, description="a mesh backfill's id")]


class ExecuteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request: BackfillRequest
    confirm_runs: int = Field(description="the number of runs the user saw in the dry run and confirmed")


def editor_check(user) -> Callable[[str], bool]:
    """Whether the user may execute backfills in a DAG: what Airflow's ``POST /api/v2/backfills`` asks."""
    return lambda dag_id: bool(may_run(user, [dag_id]))


def _plan(req: BackfillRequest):
    try:
        return service.make_plan(req)
    except (UnknownRootError, ValueError, MeshValidationError) as err:
        raise HTTPException(422, str(err))


def _session():
    from airflow.utils.session import create_session

    return create_session()


def build_router() -> APIRouter:
    router = APIRouter()

    @router.post("/api/backfills/plan")
    def plan_backfill(req: BackfillRequest, request: Request, user: GetUserDep) -> dict:
        """Dry run: every affected run of every DAG, by wave, with what executing would clear or create."""
        csrf_guard(request)
        return service.describe(_plan(req), req, editor_check(user))

    @router.post("/api/backfills", status_code=201)
    def execute_backfill(body: ExecuteBody, request: Request, user: GetUserDep) -> dict:
        """Execute atomically (all or nothing). Needs edit permission on every DAG of the plan."""
        csrf_guard(request)
        plan = _plan(body.request)
        may_edit = editor_check(user)
        missing = sorted(d for d in plan.dags if not may_edit(d))
        if missing:
            raise HTTPException(403, {"message": f"you may not edit {len(missing)} DAG(s) of this plan; dry run only",
                                      "missing_edit_on": missing})
        if plan.runs != body.confirm_runs:
            raise HTTPException(409, f"the plan now has {plan.runs} runs, not the {body.confirm_runs} you confirmed "
                                     "(runs were created or the registry changed): review the dry run again")
        try:
            record_id = service.execute(plan, body.request, user=user.get_name())
        except PlanNotExecutable as err:
            raise HTTPException(422, f"nothing was changed: {err}")
        return {"id": record_id, "runs": plan.runs, "dags": len(plan.dags)}

    @router.get("/api/backfills")
    def list_backfills(user: GetUserDep, limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> list[dict]:
        from airflow_mesh.backfill.records import ensure_table, list_records

        ensure_table()
        with _session() as s:
            return list_records(s, limit)

    @router.get("/api/backfills/{record_id}")
    def backfill_status(record_id: RecordId, user: GetUserDep) -> dict:
        from airflow_mesh.backfill.records import ensure_table, get_record, progress

        ensure_table()
        with _session() as s:
            record = get_record(s, record_id)
            if record is None:
                raise HTTPException(404, f"no mesh backfill #{record_id}")
            record["progress"] = progress(s, record)
        record.pop("runs")
        return record

    @router.get("/backfill", response_class=HTMLResponse)
    def backfill_page(request: Request, user: GetUserDep) -> str:
        """Choose roots, range and options; dry-run; execute with confirmation."""
        mesh = configured_mesh()
        choices = sorted(mesh.tables) + sorted(mesh.tables_by_dag) + sorted({t.producer for t in mesh.tables.values()})
        return render("backfill.html", base_of(request),
                      {"choices": choices, "teams": sorted(mesh.teams), "csrf_header": CSRF_HEADER})

    @router.get("/backfill/history", response_class=HTMLResponse)
    def history_page(request: Request, user: GetUserDep) -> str:
        from airflow_mesh.backfill.records import ensure_table, list_records

        ensure_table()
        with _session() as s:
            rows = list_records(s, 200)
        return render("history.html", base_of(request), rows)

    @router.get("/backfill/{record_id}", response_class=HTMLResponse)
    def progress_page(record_id: RecordId, request: Request, user: GetUserDep) -> str:
        return render("progress.html", base_of(request), {"id": record_id})

    return router
