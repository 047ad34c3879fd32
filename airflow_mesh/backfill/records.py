"""Execution records of mesh backfills: who ran what, when, and the runs it touched; and their progress.

Airflow has no place for a cross-DAG backfill, so the mesh keeps one table of its
own in the metadata DB, ``mesh_backfill``, created on first use. It is written in
the same transaction as the clears and run creations, so a record exists exactly
when its changes do. Progress is read live from the runs' states; nothing polls.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text, insert, select

from airflow_mesh.backfill.dag_runs import chunks

metadata = MetaData()
mesh_backfill = Table(
    "mesh_backfill", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("user", String(250), nullable=False),
    Column("roots", Text, nullable=False),     # JSON list
    Column("start", DateTime(timezone=True), nullable=False),
    Column("end", DateTime(timezone=True), nullable=False),
    Column("request", Text, nullable=False),   # JSON: the BackfillRequest as submitted
    Column("summary", Text, nullable=False),   # JSON: per DAG team, wave, tasks, created/cleared/skipped counts
    Column("runs", Text, nullable=False),      # JSON: [[dag_id, run_id, wave, action], ...]
)

_ready: set[str] = set()


def ensure_table() -> None:
    """Create ``mesh_backfill`` if missing (once per process; its own DDL transaction)."""
    from airflow.settings import engine

    key = str(engine.url)
    if key not in _ready:
        metadata.create_all(engine, tables=[mesh_backfill], checkfirst=True)
        _ready.add(key)


def add_record(session, *, user: str, request: dict, summary: dict, runs: list[list]) -> int:
    result = session.execute(insert(mesh_backfill).values(
        created_at=datetime.now(timezone.utc), user=user, roots=json.dumps(request["roots"]),
        start=datetime.fromisoformat(request["start"]), end=datetime.fromisoformat(request["end"]),
        request=json.dumps(request), summary=json.dumps(summary), runs=json.dumps(runs)))
    return int(result.inserted_primary_key[0])


def _row_to_dict(row: Any, with_runs: bool = False) -> dict:
    out = {"id": row.id, "created_at": row.created_at.isoformat(), "user": row.user, "roots": json.loads(row.roots),
           "start": row.start.isoformat(), "end": row.end.isoformat(), "request": json.loads(row.request),
           "summary": json.loads(row.summary)}
    if with_runs:
        out["runs"] = json.loads(row.runs)
    return out


def list_records(session, limit: int = 50) -> list[dict]:
    rows = session.execute(select(mesh_backfill).order_by(mesh_backfill.c.id.desc()).limit(limit)).all()
    return [_row_to_dict(r) for r in rows]


def get_record(session, record_id: int) -> dict | None:
    row = session.execute(select(mesh_backfill).where(mesh_backfill.c.id == record_id)).first()
    return _row_to_dict(row, with_runs=True) if row else None


def progress(session, record: dict) -> dict:
    """Runs done/running/queued/failed per DAG and per wave, from the runs' live states."""
    from airflow.models.dagrun import DagRun

    by_dag: dict[str, list[str]] = defaultdict(list)
    wave_of: dict[str, int] = {}
    for dag_id, run_id, wave, action in record["runs"]:
        if action != "skipped":
            by_dag[dag_id].append(run_id)
            wave_of[dag_id] = wave
    states: dict[tuple[str, str], str] = {}
    for dag_id, run_ids in by_dag.items():
        for part in chunks(run_ids):
            for r, s in session.execute(select(DagRun.run_id, DagRun.state).where(
                    DagRun.dag_id == dag_id, DagRun.run_id.in_(part))).all():
                states[(dag_id, r)] = str(s)
    dags = {}
    for dag_id, run_ids in sorted(by_dag.items(), key=lambda kv: (wave_of[kv[0]], kv[0])):
        c = Counter(states.get((dag_id, r), "missing") for r in run_ids)
        dags[dag_id] = {"wave": wave_of[dag_id], "total": len(run_ids), "success": c["success"], "failed": c["failed"],
                        "running": c["running"], "queued": c["queued"], "missing": c["missing"]}
    waves: dict[int, Counter] = defaultdict(Counter)
    for d in dags.values():
        waves[d["wave"]].update({k: d[k] for k in ("total", "success", "failed", "running", "queued", "missing")})
    total = sum(d["total"] for d in dags.values())
    done = sum(d["success"] for d in dags.values())
    failed = sum(d["failed"] for d in dags.values())
    active = sum(d["running"] + d["queued"] for d in dags.values())
    status = "complete" if done == total else ("failed" if failed and not active else "running")
    return {"status": status, "total": total, "success": done, "failed": failed, "active": active,
            "dags": dags, "waves": {w: dict(c) for w, c in sorted(waves.items())}}
