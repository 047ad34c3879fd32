"""Truthful progress of a job, read from its own runs and task instances (grouped counts, no run lists).

Per DAG: runs queued / running / succeeded / failed, and among running runs' task instances
those waiting for upstream data (deferred sensors), retrying and failed, so a failure shows as
soon as a task instance fails or goes up for retry. Elapsed time and an ETA from finished runs.

Three statements whatever the job's size (issue #28: a 26k-run job read in several seconds with three per
DAG): runs grouped by native backfill and state, task instances grouped by DAG, task and state, and the
first failing task instances. Each also filters on the DAG ids, so Airflow's ``(dag_id, ...)`` indexes serve
it (``dag_run.backfill_id`` has none). ``bench/backfill_progress.py`` measures it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

FAILING_SHOWN = 20
FAILING = ("failed", "up_for_retry", "upstream_failed")


def progress(session: Session, record: dict) -> dict:
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance as TI

    parts = [d for d in record["dags"] if d["backfill_id"] is not None]
    bids = [d["backfill_id"] for d in parts]
    dag_ids = [d["dag_id"] for d in parts]
    runs: dict[int, dict[str, int]] = {}
    tis: dict[str, dict[str, int]] = {}
    failing: list[dict] = []
    if parts:
        for bid, state, n in session.execute(
                select(DagRun.backfill_id, DagRun.state, func.count())
                .where(DagRun.dag_id.in_(dag_ids), DagRun.backfill_id.in_(bids))
                .group_by(DagRun.backfill_id, DagRun.state)):
            runs.setdefault(bid, {})[str(state)] = n
        planned = {d["dag_id"]: set(d["tasks"]) for d in parts}
        joined = (select(TI.dag_id, TI.task_id, TI.state, func.count())
                  .join(DagRun, (DagRun.dag_id == TI.dag_id) & (DagRun.run_id == TI.run_id))
                  .where(TI.dag_id.in_(dag_ids), DagRun.backfill_id.in_(bids))
                  .group_by(TI.dag_id, TI.task_id, TI.state))
        for dag_id, task_id, state, n in session.execute(joined):
            if task_id in planned.get(dag_id, ()):
                counts = tis.setdefault(dag_id, {})
                counts[str(state)] = counts.get(str(state), 0) + n
        for dag_id, run_id, task_id, state in session.execute(
                select(TI.dag_id, TI.run_id, TI.task_id, TI.state)
                .join(DagRun, (DagRun.dag_id == TI.dag_id) & (DagRun.run_id == TI.run_id))
                .where(TI.dag_id.in_(dag_ids), DagRun.backfill_id.in_(bids), TI.state.in_(FAILING))
                .limit(FAILING_SHOWN)):
            failing.append({"dag_id": dag_id, "run_id": run_id, "task_id": task_id, "state": str(state),
                            "url": f"/dags/{dag_id}/runs/{run_id}/tasks/{task_id}"})
    dags = {}
    for d in record["dags"]:
        r, t = runs.get(d["backfill_id"], {}), tis.get(d["dag_id"], {})
        dags[d["dag_id"]] = {
            "wave": d["wave"], "team": d["team"], "planned": d["total"], "materialized": d["done"],
            "created": d["created"], "cleared": d["cleared"], "skipped": d["skipped"],
            "runs": {"queued": r.get("queued", 0), "running": r.get("running", 0),
                     "succeeded": r.get("success", 0), "failed": r.get("failed", 0)},
            "tasks": {"waiting_for_upstream": t.get("deferred", 0), "retrying": t.get("up_for_retry", 0),
                      "failed": t.get("failed", 0) + t.get("upstream_failed", 0),
                      "running": t.get("running", 0), "succeeded": t.get("success", 0)},
            "grid_url": f"/dags/{d['dag_id']}",
        }
    return _summary(record, dags, failing)


def _summary(record: dict, dags: dict, failing: list[dict]) -> dict:
    waves: dict[int, dict] = {}
    for v in dags.values():
        w = waves.setdefault(v["wave"], {"planned": 0, "queued": 0, "running": 0, "succeeded": 0, "failed": 0})
        w["planned"] += v["planned"]
        for k in ("queued", "running", "succeeded", "failed"):
            w[k] += v["runs"][k]
    planned = sum(v["planned"] - v["skipped"] for v in dags.values())
    finished = sum(v["runs"]["succeeded"] + v["runs"]["failed"] for v in dags.values())
    materialized = sum(v["materialized"] for v in dags.values())
    created = _aware(record["created_at"])
    end = _aware(record["finished_at"]) if record["finished_at"] else datetime.now(UTC)
    elapsed = (end - created).total_seconds()
    eta = None
    if finished and planned > finished and not record["finished_at"]:
        eta = elapsed / finished * (planned - finished)
    return {
        "materialized": materialized, "total": record["total_runs"],
        "materializing": (f"materializing {materialized:,} of {record['total_runs']:,} runs"
                          if record["status"] in ("queued", "materializing", "interrupted")
                          else f"{materialized:,} of {record['total_runs']:,} runs materialized"),
        "finished": finished, "to_run": planned, "elapsed_seconds": round(elapsed, 1),
        "eta_seconds": round(eta, 1) if eta is not None else None,
        "failed_runs": sum(v["runs"]["failed"] for v in dags.values()),
        "failing_tasks": failing, "dags": dags, "waves": {str(k): v for k, v in sorted(waves.items())},
    }


def _aware(value: str) -> datetime:
    d = datetime.fromisoformat(value)
    return d if d.tzinfo else d.replace(tzinfo=UTC)
