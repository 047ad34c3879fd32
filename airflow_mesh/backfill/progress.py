"""Truthful progress of a job, read from its own runs and task instances (grouped counts, no run lists).

Per DAG: runs queued / running / succeeded / failed, and among running runs' task instances
those waiting for upstream data (deferred sensors), retrying and failed, so a failure shows as
soon as a task instance fails or goes up for retry. Elapsed time and an ETA from finished runs.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

FAILING_SHOWN = 20


def progress(session, record: dict) -> dict:
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance as TI

    dags = {}
    failing: list[dict] = []
    for d in record["dags"]:
        bid = d["backfill_id"]
        runs = dict(session.execute(select(DagRun.state, func.count()).where(DagRun.backfill_id == bid)
                                    .group_by(DagRun.state)).all())
        tis = dict(session.execute(
            select(TI.state, func.count()).join(DagRun, (DagRun.dag_id == TI.dag_id) & (DagRun.run_id == TI.run_id))
            .where(DagRun.backfill_id == bid, TI.task_id.in_(d["tasks"])).group_by(TI.state)).all())
        if len(failing) < FAILING_SHOWN:
            for dag_id, run_id, task_id, state in session.execute(
                    select(TI.dag_id, TI.run_id, TI.task_id, TI.state)
                    .join(DagRun, (DagRun.dag_id == TI.dag_id) & (DagRun.run_id == TI.run_id))
                    .where(DagRun.backfill_id == bid, TI.state.in_(["failed", "up_for_retry", "upstream_failed"]))
                    .limit(FAILING_SHOWN - len(failing))).all():
                failing.append({"dag_id": dag_id, "run_id": run_id, "task_id": task_id, "state": str(state),
                                "url": f"/dags/{dag_id}/runs/{run_id}/tasks/{task_id}"})
        dags[d["dag_id"]] = {
            "wave": d["wave"], "team": d["team"], "planned": d["total"], "materialized": d["done"],
            "created": d["created"], "cleared": d["cleared"], "skipped": d["skipped"],
            "runs": {"queued": runs.get("queued", 0), "running": runs.get("running", 0),
                     "succeeded": runs.get("success", 0), "failed": runs.get("failed", 0)},
            "tasks": {"waiting_for_upstream": tis.get("deferred", 0), "retrying": tis.get("up_for_retry", 0),
                      "failed": tis.get("failed", 0) + tis.get("upstream_failed", 0),
                      "running": tis.get("running", 0), "succeeded": tis.get("success", 0)},
            "grid_url": f"/dags/{d['dag_id']}",
        }
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
