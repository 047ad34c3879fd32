"""JSON API and pages of cross-DAG backfill jobs, on the plugin's FastAPI app.

* ``POST /api/backfills/plan``: dry run (any authenticated user): runs per DAG, what would be created,
  cleared or skipped, overlapping jobs/backfills, the plan's fingerprint and whether the user may execute.
* ``POST /api/backfills``: accept the plan as a job: 202 at once; runs are materialized in the background.
  403 lists DAGs the user may not run (``may_run`` = Airflow's ``POST /api/v2/backfills``); 409 if the plan
  is not the one confirmed (fingerprint) or another job/backfill is active on one of its DAGs.
* ``POST /api/backfills/{id}/pause|resume|cancel|retry``: steer the whole job (``may_steer`` on every DAG).
* ``GET /api/backfills``, ``GET /api/backfills/{id}``: jobs whose every DAG the user may read
  (``may_read_runs``), with status and progress.

POSTs authenticated by the UI's cookie must carry ``X-Requested-By`` and come from this host
(:func:`airflow_mesh.views.auth.csrf_guard`).
"""

from __future__ import annotations

from typing import Any

from airflow.api_fastapi.core_api.security import GetUserDep
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from airflow_mesh.backfill import service
from airflow_mesh.backfill.dag_runs import PlanNotExecutable
from airflow_mesh.backfill.jobs import JobConflict
from airflow_mesh.backfill.models import JobStatus
from airflow_mesh.backfill.request import BackfillRequest
from airflow_mesh.backfill.summary import PlanSummary
from airflow_mesh.core.planner.plan import UnknownRootError
from airflow_mesh.core.registry import MeshValidationError
from airflow_mesh.settings import configured_mesh
from airflow_mesh.views.auth import (
    CSRF_HEADER,
    csrf_guard,
    may_read_runs,
    may_run,
    may_steer,
)
from airflow_mesh.views.pages import base_of, render

JOB_ID = Path(ge=1, le=2**31 - 1, description="a mesh backfill job id")


class ExecuteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request: BackfillRequest
    fingerprint: str = Field(min_length=64, max_length=64, description="the dry run's fingerprint the user confirmed")
    summary: PlanSummary | None = Field(None, description="the dry run's summary, to say what changed on 409")


class Accepted(BaseModel):
    id: int
    status: JobStatus
    url: str


class DagPart(BaseModel):
    dag_id: str
    team: str | None
    wave: int
    tasks: list[str]
    total: int
    done: int
    created: int
    cleared: int
    skipped: int
    backfill_id: int | None


class Job(BaseModel):
    id: int
    status: JobStatus
    status_reason: str | None
    user: str
    roots: list[str]
    start: str
    end: str
    request: dict[str, Any]
    fingerprint: str
    is_paused: bool
    max_active_runs: int
    total_runs: int
    created_at: str
    updated_at: str
    materialized_at: str | None
    finished_at: str | None
    cancelled_by: str | None
    left_out: list[str]
    dags: list[DagPart]
    progress: dict[str, Any] | None = None
    permission: dict[str, Any] | None = Field(None, description=(
        "what the asking user may do: can_steer, and missing_steer_on (DAGs they may not pause or cancel)"))


def _plan(req: BackfillRequest):
    try:
        return service.make_plan(req)
    except (UnknownRootError, ValueError, MeshValidationError, OverflowError) as err:
        raise HTTPException(422, str(err)) from err


def _session():
    from airflow.utils.session import create_session

    return create_session()


def _forbid_unless_all(allowed: set[str], dag_ids: list[str], action: str) -> None:
    missing = sorted(set(dag_ids) - allowed)
    if missing:
        raise HTTPException(403, {"message": f"you may not {action} in {len(missing)} DAG(s) of this job",
                                  "missing_on": missing})


def _load(job_id: int, user) -> dict:
    """The job, if it exists and the user may read every one of its DAGs (else 404, as if absent).

    A read: it never writes. Final statuses are stored by the materializer's tick
    (:func:`airflow_mesh.backfill.worker.tick`), so a refused call changes nothing.
    """
    from airflow_mesh.backfill.jobs import get_job

    with _session() as s:
        record = get_job(s, job_id)
    dag_ids = [d["dag_id"] for d in record["dags"]] if record else []
    if record is None or set(dag_ids) - may_read_runs(user, dag_ids):
        raise HTTPException(404, f"no mesh backfill job #{job_id} you may read")
    return record


def _materializer_running() -> None:
    """Start this API server's background materializer if the app's start-up did not (an app served without
    its lifespan, e.g. a test client); not at plugin import: schedulers, workers and task processes import the
    plugin too, and must not run it."""
    from airflow_mesh.backfill import worker

    worker.start()


def build_router() -> APIRouter:
    """The routes, in matching order (``/backfill/history`` before ``/backfill/{job_id}``). The handlers are
    module-level functions below so each one reads (and is measured) on its own."""
    router = APIRouter(dependencies=[Depends(_materializer_running)])
    router.post("/api/backfills/plan")(plan_backfill)
    router.post("/api/backfills", status_code=202, response_model=Accepted)(execute_backfill)
    router.get("/api/backfills", response_model=list[Job])(list_backfills)
    router.get("/api/backfills/{job_id}", response_model=Job)(backfill_status)
    for action in ("pause", "resume", "cancel", "retry"):
        router.add_api_route(f"/api/backfills/{{job_id}}/{action}", _steer_route(action), methods=["POST"],
                             response_model=Job, name=f"{action}_backfill")
    router.get("/backfill", response_class=HTMLResponse)(backfill_page)
    router.get("/backfill/history", response_class=HTMLResponse)(history_page)
    router.get("/backfill/{job_id}", response_class=HTMLResponse)(progress_page)
    return router


def plan_backfill(req: BackfillRequest, request: Request, user: GetUserDep) -> dict:
    """Dry run: every affected run of every DAG, by wave, with what executing would clear, create or skip."""
    csrf_guard(request)
    plan = _plan(req)
    allowed = may_run(user, list(plan.dags))
    return service.describe(plan, req, lambda d: d in allowed, lambda dags: may_read_runs(user, dags))


def execute_backfill(body: ExecuteBody, request: Request, user: GetUserDep) -> Accepted:
    """Accept the confirmed plan as a job and answer at once; runs are materialized in the background."""
    from airflow_mesh.backfill import jobs, worker

    csrf_guard(request)
    plan = _plan(body.request)
    _forbid_unless_all(may_run(user, list(plan.dags)), list(plan.dags), "run backfills")
    try:
        accepted = jobs.submit(plan, body.request, user.get_name(), body.fingerprint, body.summary)
    except PlanNotExecutable as err:
        raise HTTPException(422, f"nothing was changed: {err}") from err
    except JobConflict as err:  # names only jobs and DAGs the user may read, as the dry run does
        raise HTTPException(409, service.redact_conflict(err.detail, lambda dags: may_read_runs(user, dags))) from err
    worker.wake()
    return Accepted(id=accepted.id, status=accepted.status, url=f"{base_of(request)}/backfill/{accepted.id}")


def list_backfills(user: GetUserDep, limit: int = Query(50, ge=1, le=1000)) -> list[dict]:
    """Recent jobs whose every DAG the user may read."""
    from airflow_mesh.backfill.jobs import list_jobs

    with _session() as s:
        rows = list_jobs(s, limit)
    readable = may_read_runs(user, {d["dag_id"] for r in rows for d in r["dags"]})
    return [r for r in rows if {d["dag_id"] for d in r["dags"]} <= readable]


def backfill_status(user: GetUserDep, job_id: int = JOB_ID) -> dict:
    from airflow_mesh.backfill.progress import progress

    record = _load(job_id, user)
    with _session() as s:
        record["progress"] = progress(s, record)
    record["permission"] = steer_permission(user, record)
    return record


def steer_permission(user, record: dict) -> dict[str, Any]:
    """Whether ``user`` may pause, resume, cancel and retry the job (every DAG, as the steering routes ask), so
    the page disables the buttons with the reason instead of refusing after the click."""
    dag_ids = [d["dag_id"] for d in record["dags"]]
    missing = sorted(set(dag_ids) - may_steer(user, dag_ids))
    return {"can_steer": not missing, "missing_steer_on": missing}


def _steer_route(action: str):
    """The handler of one steering action (a function of ``steering`` with the same name)."""
    def route(request: Request, user: GetUserDep, job_id: int = JOB_ID) -> dict:
        from airflow_mesh.backfill import steering, worker

        csrf_guard(request)
        record = _load(job_id, user)
        dag_ids = [d["dag_id"] for d in record["dags"]]
        _forbid_unless_all(may_steer(user, dag_ids), dag_ids, f"{action} backfills")
        try:
            out = getattr(steering, action)(job_id, user.get_name())
        except JobConflict as err:
            raise HTTPException(409, err.detail) from err
        worker.wake()
        return out
    route.__doc__ = f"{action.capitalize()} the whole job, in every one of its DAGs."
    return route


def backfill_page(request: Request, user: GetUserDep) -> str:
    """Choose roots, range and options; dry-run; execute with confirmation."""
    mesh = configured_mesh()
    choices = sorted(mesh.tables) + sorted(mesh.tables_by_dag) + sorted({t.producer for t in mesh.tables.values()})
    return render("backfill.html", base_of(request),
                  {"choices": choices, "teams": sorted(mesh.teams), "csrf_header": CSRF_HEADER})


def history_page(request: Request, user: GetUserDep) -> str:
    return render("history.html", base_of(request), list_backfills(user, 200))


def progress_page(request: Request, user: GetUserDep, job_id: int = JOB_ID) -> str:
    return render("progress.html", base_of(request), {"id": job_id, "csrf_header": CSRF_HEADER})
