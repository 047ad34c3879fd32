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

from collections.abc import Callable
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


def _redact_overlap(busy: list[dict], hidden: set[str]) -> list[dict]:
    """Active jobs and backfills, naming neither the job nor the DAGs the user may not read."""
    out = []
    for item in busy:
        shown = sorted(set(item["dags"]) - hidden)
        if len(shown) == len(item["dags"]):
            out.append(item)
        else:
            out.append({"name": "a backfill on DAGs you may not read", "kind": item["kind"], "id": None,
                        "dags": shown, "hidden_dags": len(item["dags"]) - len(shown)})
    return out


def describe(plan: Plan, request: BackfillRequest, may_edit: Callable[[str], bool] | None,
             may_read: Callable[[str], bool] | None = None) -> dict:
    """The dry run: waves, per-DAG runs to create/clear and tasks, cuts, and whether the user may execute.

    ``may_read`` (``None``: everything) says whose DB facts the user may see; the others read ``None``.
    """
    from airflow.utils.session import create_session

    with create_session() as session:
        preview = dry_run(plan, session)
        busy = overlapping(session, sorted(plan.dags))
    hidden = {d for d in plan.dags if may_read is not None and not may_read(d)}
    for dag_id in hidden:
        preview.dags[dag_id].update(tasks=None, to_clear=None, to_create=None, in_flight=None, hidden=HIDDEN)
    busy = _redact_overlap(busy, hidden)
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
