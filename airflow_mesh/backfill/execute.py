"""Execute a backfill plan: every clear and every run creation in one DB transaction, or none.

Order across DAGs is then enforced by the mesh itself: cross-team ``TableSensor`` s
wait for the re-run producer runs, and tasks within a DAG by their dependencies.
Idempotent: a run that exists (by logical date) is cleared, never created twice;
executing the same plan again re-clears the same runs and creates nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from airflow_mesh.backfill.dag_runs import (
    PlanNotExecutable,
    chunks,
    count_existing,
    existing_runs,
    prepare,
    run_dates,
)
from airflow_mesh.backfill.records import add_record, ensure_table
from airflow_mesh.backfill.request import BackfillRequest
from airflow_mesh.settings import mesh_setting
from airflow_mesh.core.intervals import iso
from airflow_mesh.core.planner.plan import Plan

DEFAULT_MAX_RUNS = 50_000
RUN_ID_PREFIX = "mesh_backfill__"


def max_runs() -> int:
    """``[mesh] backfill_max_runs``: the largest plan executed in one transaction (split bigger ones)."""
    return int(mesh_setting("backfill_max_runs", str(DEFAULT_MAX_RUNS)))


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
            entry = {"dag_id": dag_id, "team": p.team, "schedule": p.schedule, "wave": wave, "tables": p.tables,
                     "reads": p.reads, "runs": p.runs,
                     "ranges": [{"first": iso(r.first), "last": iso(r.last), "count": r.count} for r in p.ranges]}
            try:
                _, entry["tasks"] = prepare(session, p)
                existing = count_existing(session, dag_id, p)
                entry.update(to_clear=existing, to_create=p.runs - existing)
            except PlanNotExecutable as err:
                entry.update(tasks=p.tasks, to_clear=None, to_create=None)
                out.problems.append(str(err))
            out.dags[dag_id] = entry
    return out


def execute(plan: Plan, request: BackfillRequest, user: str, note: str | None = None) -> int:
    """Apply the plan atomically; return the id of its execution record."""
    from airflow.models.dagrun import DagRun, DagRunNote
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.models.taskinstance import clear_task_instances
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType

    if plan.runs == 0:
        raise PlanNotExecutable("the plan has no runs: " + ("; ".join(plan.left_out) or "nothing in range"))
    limit = max_runs()
    if plan.runs > limit:
        raise PlanNotExecutable(f"the plan has {plan.runs:,} runs, more than [mesh] backfill_max_runs = {limit:,}: "
                                "split the range, or raise the limit")
    ensure_table()
    note = note or f"mesh backfill of {', '.join(plan.roots)} by {user}"
    runs: list[list] = []
    summary: dict[str, dict] = {}
    with create_session() as session:  # one transaction: commit at the end, roll back on any error
        for wave, dag_ids in enumerate(plan.waves):
            for dag_id in dag_ids:
                p = plan.dags[dag_id]
                dag, task_ids = prepare(session, p)
                dates = run_dates(dag, p)
                if request.run_backwards:
                    dates.reverse()
                have = existing_runs(session, dag_id, dates)
                created = cleared = skipped = 0
                to_clear: list[tuple[datetime, str]] = []
                for date in dates:
                    if date not in have:
                        dr = dag.create_dagrun(
                            run_id=f"{RUN_ID_PREFIX}{date.isoformat()}", logical_date=date, data_interval=(date, date),
                            run_after=date, run_type=DagRunType.MANUAL, triggered_by=DagRunTriggeredByType.BACKFILL,
                            triggering_user_name=user, state=DagRunState.QUEUED, note=note,
                            conf={"mesh_backfill": True}, session=session)
                        runs.append([dag_id, dr.run_id, wave, "created"])
                        created += 1
                    else:
                        to_clear.append((date, have[date]))
                for part in chunks(to_clear):
                    run_ids = [r for _, r in part]
                    tis = session.scalars(select(TI).where(
                        TI.dag_id == dag_id, TI.run_id.in_(run_ids), TI.task_id.in_(task_ids))).all()
                    if request.only_failed:
                        ok = {r for r in run_ids if _all_succeeded(tis, r, task_ids)}
                        skipped += len(ok)
                        runs += [[dag_id, r, wave, "skipped"] for r in run_ids if r in ok]
                        tis = [ti for ti in tis if ti.run_id not in ok]
                        run_ids = [r for r in run_ids if r not in ok]
                    clear_task_instances(list(tis), session, dag_run_state=DagRunState.QUEUED)
                    for dr in session.scalars(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id.in_(run_ids))):
                        if dr.dag_run_note is None:
                            dr.dag_run_note = DagRunNote(content=note)
                    runs += [[dag_id, r, wave, "cleared"] for r in run_ids]
                    cleared += len(run_ids)
                    _release(session)
                _release(session)
                summary[dag_id] = {"team": p.team, "wave": wave, "tasks": task_ids, "tables": p.tables,
                                   "created": created, "cleared": cleared, "skipped": skipped}
        record_id = add_record(session, user=user, request=request.model_dump(mode="json"),
                               summary={"dags": summary, "left_out": plan.left_out, "runs": plan.runs}, runs=runs)
    return record_id


def _release(session) -> None:
    """Flush, then forget loaded objects, keeping the transaction open. Airflow's clearing runs bulk UPDATEs
    that re-evaluate every object in the session's identity map; without this, a 10,000-run plan slows
    down quadratically."""
    session.flush()
    session.expunge_all()


def _all_succeeded(tis, run_id: str, task_ids: list[str]) -> bool:
    states = {ti.task_id: ti.state for ti in tis if ti.run_id == run_id}
    return len(states) == len(task_ids) and all(s == "success" for s in states.values())
