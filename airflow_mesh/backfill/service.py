"""The backfill operations the API, UI and CLI share: plan (dry run) and execute, as plain data.

Permission is the auth manager's: a user may execute only if ``is_authorized_dag``
allows ``PUT`` on every DAG in the plan. The CLI runs with DB access, like
Airflow's own CLI, and passes ``may_edit=None`` (no per-DAG check).

What the dry run reads from the metadata DB about a DAG (its task ids, how many of its runs exist or are in
flight, which backfills are active on it) is shown only to users who may read that DAG's runs, as
``GET /api/v2/dags/{dag_id}/dagRuns`` would; the plan itself (tables, schedules, run counts) comes from the
registry, which every user may read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from airflow_mesh.backfill.execute import dry_run
from airflow_mesh.backfill.jobs import (
    fingerprint,
    max_runs,
    overlap_message,
    overlapping,
    plan_summary,
    size_problem,
)

__all__ = ["describe", "make_plan", "plan_edges"]
from airflow_mesh.backfill.request import BackfillRequest
from airflow_mesh.core.intervals import UTC, iso
from airflow_mesh.core.planner.plan import Plan
from airflow_mesh.settings import configured_mesh


def plan_edges(plan: Plan) -> list[dict]:
    """DAG-to-DAG dependencies inside the plan (which producer DAG feeds which consumer DAG)."""
    mesh = configured_mesh()
    edges = set()
    for dag_id, p in plan.dags.items():
        for table in p.reads:
            producer = mesh.tables[table].producer_dag
            if producer in plan.dags and producer != dag_id:
                edges.add((producer, dag_id, table))
    return [{"from": a, "to": b, "table": t} for a, b, t in sorted(edges)]


def make_plan(request: BackfillRequest, now: datetime | None = None) -> Plan:
    """The plan of a request, after the density bound (raises :class:`~airflow_mesh.backfill.bounds.RangeTooDense`)."""
    from airflow_mesh.backfill.bounds import check_density

    mesh = configured_mesh()
    check_density({t.schedule for t in mesh.tables.values()}, request.period)
    return request.plan(mesh, now or datetime.now(UTC))


HIDDEN = "you may not read this DAG's runs"


def _redact_overlap(busy: list[dict], hidden: set[str], whole: Mapping[int, list[str]] | None = None) -> list[dict]:
    """Active jobs and backfills, naming neither the job nor the DAGs the user may not read.

    A mesh job is named only to a user who may read every one of its DAGs (``whole``: each job's DAGs), those
    outside this plan too: that user alone may read the job itself (``GET /api/backfills/{id}``), anyone else
    gets 404 for it and must not learn it from an overlap either.
    """
    out = []
    for item in busy:
        shown = sorted(set(item["dags"]) - hidden)
        every = set(item["dags"]) | set((whole or {}).get(item["id"], []) if item["kind"] == "mesh" else [])
        if not every & hidden:
            out.append(item)
        else:
            out.append({"name": "a backfill on DAGs you may not read", "kind": item["kind"], "id": None,
                        "dags": shown, "hidden_dags": len(item["dags"]) - len(shown)})
    return out


def redact_overlapping(busy: list[dict], may_read: Callable[[Iterable[str]], set[str]] | None) -> list[dict]:
    """``busy`` (from :func:`~airflow_mesh.backfill.jobs.overlapping`) as the user may see it; ``may_read``: the
    DAGs among those given whose runs the user may read (``None``: all)."""
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from airflow_mesh.backfill.models import job_dag

    if may_read is None or not busy:
        return busy
    ids = [i["id"] for i in busy if i["kind"] == "mesh"]
    whole: dict[int, list[str]] = {}
    if ids:
        with create_session() as session:
            for job_id, dag_id in session.execute(select(job_dag.c.job_id, job_dag.c.dag_id)
                                                  .where(job_dag.c.job_id.in_(ids))):
                whole.setdefault(job_id, []).append(dag_id)
    concerned = {d for i in busy for d in i["dags"]} | {d for dags in whole.values() for d in dags}
    return _redact_overlap(busy, concerned - may_read(concerned), whole)


def redact_conflict(detail: dict, may_read: Callable[[Iterable[str]], set[str]] | None) -> dict:
    """A 409 of execute as the user may see it: overlapping jobs redacted, the message rebuilt from them."""
    if not detail.get("overlapping"):
        return detail
    busy = redact_overlapping(detail["overlapping"], may_read)
    return {**detail, "overlapping": busy, "message": overlap_message(busy)}


def describe(plan: Plan, request: BackfillRequest, may_edit: Callable[[str], bool] | None,
             may_read: Callable[[Iterable[str]], set[str]] | None = None) -> dict:
    """The dry run: waves, per-DAG runs to create/clear and tasks, cuts, and whether the user may execute.

    ``may_read`` (``None``: everything) gives, of the DAGs asked, those whose DB facts the user may see; the
    others read ``None``, and an overlapping job is named only if the user may read all of its DAGs.
    """
    from airflow.utils.session import create_session

    with create_session() as session:
        preview = dry_run(plan, session)
        busy = overlapping(session, sorted(plan.dags))
    hidden = set(plan.dags) - may_read(plan.dags) if may_read is not None else set()
    for dag_id in hidden:
        preview.dags[dag_id].update(tasks=None, to_clear=None, to_create=None, in_flight=None, hidden=HIDDEN)
    busy = redact_overlapping(busy, may_read)
    problems = list(preview.problems)
    if busy:
        problems.append(overlap_message(busy))
    if problem := size_problem(plan):
        problems.append(problem)
    missing = sorted(d for d in plan.dags if may_edit is not None and not may_edit(d))
    summary = plan_summary(plan, request)
    can_execute = not missing and not problems
    return {
        "request": request.model_dump(mode="json"),
        "roots": plan.roots, "start": iso(plan.period.start), "end": iso(plan.period.end),
        "runs": plan.runs, "dag_count": len(plan.dags), "runs_by_team": plan.runs_by_team(),
        "waves": plan.waves, "dags": preview.dags, "edges": plan_edges(plan), "left_out": plan.left_out,
        "problems": problems, "overlapping": busy, "max_runs": max_runs(),
        "summary": summary, "fingerprint": fingerprint(summary),
        "can_execute": can_execute,
        "permission": {"can_execute": can_execute, "missing_edit_on": missing},
    }
