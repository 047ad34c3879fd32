"""Mesh backfill jobs: accept a plan as a durable job in one short transaction, read jobs back.

A job is one native Airflow ``Backfill`` per DAG of the plan, created here with the job (so
Airflow's own "one active backfill per DAG" rule sees them at once) and filled with runs later,
in the background (:mod:`airflow_mesh.backfill.materialize`). Accepting a job never enumerates
runs: the execute request answers in the time of a dry run.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, literal, select, union_all, update
from sqlalchemy.exc import IntegrityError

from airflow_mesh.backfill.dag_runs import PlanNotExecutable, prepare
from airflow_mesh.backfill.models import JobStatus, job, job_dag
from airflow_mesh.backfill.request import BackfillRequest
from airflow_mesh.backfill.summary import PlanSummary, summary_changes
from airflow_mesh.core.intervals import iso
from airflow_mesh.core.planner.plan import Plan
from airflow_mesh.settings import setting

ACTIVE = [s.value for s in JobStatus if s.active]


def now() -> datetime:
    return datetime.now(UTC)


def max_runs() -> int:
    """``[mesh] backfill_max_runs``: the largest plan one job may hold (split bigger ones)."""
    return setting("backfill_max_runs")


def size_problem(plan: Plan) -> str | None:
    """Why a plan is too big or empty to run (the dry run lists it; accepting refuses it), else ``None``."""
    if plan.runs == 0:
        return "the plan has no runs: " + ("; ".join(plan.left_out) or "nothing in range")
    limit = max_runs()
    if plan.runs > limit:
        return (f"the plan has {plan.runs:,} runs, more than [mesh] backfill_max_runs = {limit:,}. "
                "Fix: split the range, or ask an admin to raise the limit")
    return None


def default_max_active_runs() -> int:
    """``[mesh] backfill_max_active_runs``: runs of one job running at once per DAG, unless the request says."""
    return setting("backfill_max_active_runs")


class JobConflict(Exception):
    """The job cannot be accepted or steered as asked (HTTP 409); ``detail`` says why and what to do."""

    def __init__(self, detail: dict[str, Any]):
        super().__init__(detail.get("message"))
        self.detail = detail


def plan_summary(plan: Plan, request: BackfillRequest) -> dict:
    """What the user confirms: roots, range, options and each DAG's ranges and run count."""
    return {
        "request": request.model_dump(mode="json"),
        "dags": {d: {"runs": p.runs, "ranges": [[iso(r.first), iso(r.last), r.count] for r in p.ranges]}
                 for d, p in sorted(plan.dags.items())},
        "runs": plan.runs,
    }


def fingerprint(summary: dict) -> str:
    return hashlib.sha256(json.dumps(summary, sort_keys=True).encode()).hexdigest()


def overlapping(session, dag_ids: list[str]) -> list[dict]:
    """Active mesh jobs and native Airflow backfills touching any of ``dag_ids``.

    One statement, so it sees one state. Read in several, a job accepted between them was seen
    by its native backfills but not as a job, and named as "Airflow backfill #…" to the user it
    blocked (SQLite reads outside a transaction; PostgreSQL's READ COMMITTED takes a snapshot
    per statement).
    """
    from airflow_mesh.airflow_compat import Backfill

    if not dag_ids:
        return []
    mesh = select(literal("mesh"), job_dag.c.job_id, job_dag.c.dag_id).where(job_dag.c.active_dag_id.in_(dag_ids))
    of_a_mesh_job = select(job_dag.c.backfill_id).where(job_dag.c.backfill_id == Backfill.id).exists()
    airflow = select(literal("airflow"), Backfill.id, Backfill.dag_id).where(
        Backfill.dag_id.in_(dag_ids), Backfill.completed_at.is_(None), ~of_a_mesh_job)
    found: dict[str, dict] = {}
    for kind, id_, dag_id in session.execute(union_all(mesh, airflow)):
        name = f"mesh job #{id_}" if kind == "mesh" else f"Airflow backfill #{id_}"
        found.setdefault(name, {"kind": kind, "id": id_, "dags": []})["dags"].append(dag_id)
    return [{"name": name, **v} for name, v in sorted(found.items())]


def overlap_message(items: list[dict]) -> str:
    return "; ".join(f"{i['name']} is active" + (f" on {', '.join(sorted(i['dags']))}" if i["dags"] else "")
                     for i in items) + (
        ": wait for it to finish, or cancel it, then plan again")


@dataclass
class Accepted:
    id: int
    status: JobStatus


def submit(plan: Plan, request: BackfillRequest, user: str, seen_fingerprint: str | None = None,
           seen_summary: PlanSummary | None = None) -> Accepted:
    """Accept the plan as a queued job with one native backfill per DAG; nothing runs until materialized.

    Raises :class:`PlanNotExecutable` (422: nothing changed) or :class:`JobConflict` (409: another job or
    backfill is active on a DAG, or the plan is not the one the user confirmed).
    """
    from airflow.utils.session import create_session

    if problem := size_problem(plan):
        raise PlanNotExecutable(problem)
    summary = plan_summary(plan, request)
    fp = fingerprint(summary)
    if seen_fingerprint is not None and seen_fingerprint != fp:
        raise JobConflict({"message": "the plan changed since the dry run you confirmed: review it again",
                           "changes": summary_changes(seen_summary, summary), "fingerprint": fp})
    mar = request.max_active_runs or default_max_active_runs()
    stamp = now()
    with create_session() as session:
        tasks = {}
        for dag_id, p in plan.dags.items():
            tasks[dag_id] = prepare(session, p)[1]
        busy = overlapping(session, sorted(plan.dags))
        if busy:
            raise JobConflict({"message": overlap_message(busy), "overlapping": busy})
        try:
            job_id = _insert_job(session, plan, request, user, fp, mar, tasks, stamp)
            session.commit()
        except IntegrityError as err:  # another job took a DAG of this plan between our check and our insert
            session.rollback()
            busy = overlapping(session, sorted(plan.dags))
            raise JobConflict({"message": overlap_message(busy) if busy else
                               "another job took a DAG of this plan at the same moment: plan again",
                               "overlapping": busy}) from err
    return Accepted(int(job_id), JobStatus.QUEUED)


def _insert_job(session, plan: Plan, request: BackfillRequest, user: str, fp: str, mar: int,
                tasks: dict[str, list[str]], stamp: datetime) -> int:
    """The job row, and per DAG its native backfill and its part (which takes the DAG: unique index)."""
    from airflow_mesh.airflow_compat import Backfill, ReprocessBehavior

    job_id = session.execute(insert(job).values(
        created_at=stamp, updated_at=stamp, user=user, roots=json.dumps(request.roots), start=request.start,
        end=request.end, request=json.dumps(request.model_dump(mode="json")), fingerprint=fp,
        status=JobStatus.QUEUED.value, is_paused=False, max_active_runs=mar, total_runs=plan.runs,
        left_out=json.dumps(plan.left_out))).inserted_primary_key[0]
    for wave, dag_ids in enumerate(plan.waves):
        for dag_id in dag_ids:
            p = plan.dags[dag_id]
            session.execute(insert(job_dag).values(
                job_id=job_id, dag_id=dag_id, active_dag_id=dag_id, team=p.team, wave=wave,
                tasks=json.dumps(tasks[dag_id]), ranges=json.dumps([[iso(r.first), iso(r.last), r.count] for r in p.ranges]),
                total=p.runs, done=0, created=0, cleared=0, skipped=0))
            native = Backfill(dag_id=dag_id, from_date=request.start, to_date=request.end, dag_run_conf={},
                              is_paused=False, max_active_runs=mar, triggering_user_name=user,
                              reprocess_behavior=(ReprocessBehavior.FAILED if request.only_failed
                                                  else ReprocessBehavior.COMPLETED))
            session.add(native)
            session.flush()
            session.execute(update(job_dag).where(job_dag.c.job_id == job_id, job_dag.c.dag_id == dag_id)
                            .values(backfill_id=native.id))
    return int(job_id)


def get_job(session, job_id: int) -> dict | None:
    row = session.execute(select(job).where(job.c.id == job_id)).mappings().first()
    if row is None:
        return None
    out = job_document(row)
    out["dags"] = [dag_document(r) for r in session.execute(
        select(job_dag).where(job_dag.c.job_id == job_id).order_by(job_dag.c.wave, job_dag.c.dag_id)).mappings()]
    return out


def list_jobs(session, limit: int) -> list[dict]:
    rows = session.execute(select(job).order_by(job.c.id.desc()).limit(limit)).mappings().all()
    dags: dict[int, list[dict]] = {}
    if rows:
        for r in session.execute(select(job_dag).where(job_dag.c.job_id.in_([r["id"] for r in rows]))
                                 .order_by(job_dag.c.wave, job_dag.c.dag_id)).mappings():
            dags.setdefault(r["job_id"], []).append(dag_document(r))
    return [{**job_document(r), "dags": dags.get(r["id"], [])} for r in rows]


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def job_document(row) -> dict:
    return {
        "id": row["id"], "status": row["status"], "status_reason": row["status_reason"], "user": row["user"],
        "roots": json.loads(row["roots"]), "start": _iso(row["start"]), "end": _iso(row["end"]),
        "request": json.loads(row["request"]), "fingerprint": row["fingerprint"], "is_paused": row["is_paused"],
        "max_active_runs": row["max_active_runs"], "total_runs": row["total_runs"],
        "created_at": _iso(row["created_at"]), "updated_at": _iso(row["updated_at"]),
        "materialized_at": _iso(row["materialized_at"]), "finished_at": _iso(row["finished_at"]),
        "cancelled_by": row["cancelled_by"], "left_out": json.loads(row["left_out"]),
    }


def dag_document(row) -> dict:
    return {"dag_id": row["dag_id"], "team": row["team"], "wave": row["wave"], "tasks": json.loads(row["tasks"]),
            "total": row["total"], "done": row["done"], "created": row["created"], "cleared": row["cleared"],
            "skipped": row["skipped"], "backfill_id": row["backfill_id"]}
