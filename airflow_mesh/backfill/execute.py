"""The dry run of a backfill plan: per DAG, what a job would create, clear or skip, without enumerating runs.

Execution is a job (:mod:`airflow_mesh.backfill.jobs`), materialized in the background
(:mod:`airflow_mesh.backfill.materialize`). Order across DAGs is enforced by the mesh itself:
cross-team ``TableSensor`` s wait for the re-run producer runs, and tasks within a DAG by
their dependencies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from airflow_mesh.backfill.dag_runs import PlanNotExecutable, prepare
from airflow_mesh.core.intervals import iso
from airflow_mesh.core.planner.plan import Plan


@dataclass
class DryRun:
    """What executing would do, per DAG, without enumerating runs."""

    dags: dict[str, dict] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def dry_run(plan: Plan, session) -> DryRun:
    out = DryRun()
    for wave, dag_ids in enumerate(plan.waves):
        for dag_id in dag_ids:
            p = plan.dags[dag_id]
            entry: dict[str, Any] = {"dag_id": dag_id, "team": p.team, "schedule": p.schedule, "wave": wave, "tables": p.tables,
                     "reads": p.reads, "runs": p.runs,
                     "ranges": [{"first": iso(r.first), "last": iso(r.last), "count": r.count} for r in p.ranges]}
            try:
                _, entry["tasks"] = prepare(session, p)
                entry.update(existing_runs(session, dag_id, p))
                entry["to_create"] = p.runs - entry["to_clear"] - entry["in_flight"]
            except PlanNotExecutable as err:
                entry.update(tasks=p.tasks, to_clear=None, to_create=None, in_flight=None)
                out.problems.append(str(err))
            out.dags[dag_id] = entry
    return out


def existing_runs(session, dag_id: str, planned) -> dict[str, int]:
    """Existing runs of the plan (one grouped COUNT per range): finished ones are cleared, queued or
    running ones ("in flight") are skipped by the job, never cleared under a running scheduler."""
    from airflow.models.dagrun import DagRun

    finished = in_flight = 0
    for r in planned.ranges:
        for state, n in session.execute(select(DagRun.state, func.count()).where(
                DagRun.dag_id == dag_id, DagRun.logical_date >= r.first, DagRun.logical_date <= r.last)
                .group_by(DagRun.state)).all():
            if str(state) in ("queued", "running"):
                in_flight += n
            else:
                finished += n
    return {"to_clear": finished, "in_flight": in_flight}
