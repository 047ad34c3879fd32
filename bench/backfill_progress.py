"""How long the progress of a ~26,000-run mesh backfill job takes to read (target: under 100 ms).

Builds the job on a real metadata DB (SQLite in a throw-away home by default; ``BENCH_DB=postgresql`` starts a
throw-away PostgreSQL server as the test suite does): plans ``payments.transactions`` and
``authentication_hourly`` and everything downstream
over enough days for about BENCH_RUNS runs, accepts and materializes it, ends some runs (succeeded, failed, some
task instances deferred or retrying), then reads ``progress()`` (what ``GET /mesh/api/backfills/{id}`` adds to
the job) BENCH_READS times and prints the median and the worst, with the statements one read issues.
Run: .venv/bin/python bench/backfill_progress.py   (sizes: BENCH_RUNS, BENCH_READS)
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))  # seed.py: demo/test tooling

import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta

HOME = Path(tempfile.mkdtemp(prefix="bench-progress-"))
os.environ.update({
    "AIRFLOW_HOME": str(HOME), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__DAGS_FOLDER": str(Path(__file__).resolve().parents[1] / "dags"),
    "AIRFLOW__MESH__ROOT": str(Path(__file__).resolve().parents[1]),
    "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR", "AIRFLOW__MESH__CACHE_DIR": str(HOME / "cache"),
    "AIRFLOW__MESH__BACKFILL_MATERIALIZER": "false", "AIRFLOW__MESH__BACKFILL_MAX_RUNS": "1000000",
    "AIRFLOW__MESH__BACKFILL_CHUNK_RUNS": "1000",
})
if os.environ.get("BENCH_DB", "sqlite").lower() == "postgresql":
    import atexit

    from throwaway_postgres import ThrowawayPostgres

    _postgres = ThrowawayPostgres()
    atexit.register(_postgres.stop)
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = _postgres.start()
TARGET_RUNS = int(os.environ.get("BENCH_RUNS", "26000"))
READS = int(os.environ.get("BENCH_READS", "20"))
BUDGET_MS = 100


def build_job() -> int:
    """Accept and materialize a job of about TARGET_RUNS runs; end a third of them, a few tasks in between."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.utils.db import resetdb
    from airflow.utils.session import create_session
    from seed import sync_dags_to_db
    from sqlalchemy import select, update

    from airflow_mesh.backfill import jobs
    from airflow_mesh.backfill.db_manager import MeshDBManager
    from airflow_mesh.backfill.materialize import materialize_next
    from airflow_mesh.backfill.request import BackfillRequest
    from airflow_mesh.settings import configured_mesh

    resetdb()
    sync_dags_to_db()
    with create_session() as s:
        MeshDBManager(s).initdb()
    now = datetime(2026, 11, 23, tzinfo=UTC)
    start, days = datetime(2026, 1, 1, tzinfo=UTC), 10  # the example mesh starts in 2026: three hourly DAGs
    while True:
        req = BackfillRequest(roots=["payments.transactions", "authentication_hourly"], start=start,
                              end=start + timedelta(days=days))
        plan = req.plan(configured_mesh(), now)
        if plan.runs >= TARGET_RUNS or start + timedelta(days=days) >= now:
            break
        days += 10
    job_id = jobs.submit(plan, req, "bench").id
    t = time.perf_counter()
    materialize_next(job_id=job_id)
    print(f"job #{job_id}: {plan.runs:,} runs in {len(plan.dags)} DAGs, materialized in {time.perf_counter() - t:.0f} s")
    with create_session() as s:
        ids = [d["backfill_id"] for d in jobs.get_job(s, job_id)["dags"]]
        runs = s.execute(select(DagRun.id).where(DagRun.backfill_id.in_(ids)).order_by(DagRun.id)).scalars().all()
        ended = runs[: len(runs) // 3]
        s.execute(update(DagRun).where(DagRun.id.in_(ended[: len(ended) * 9 // 10])).values(state="success"))
        s.execute(update(DagRun).where(DagRun.id.in_(ended[len(ended) * 9 // 10:])).values(state="failed"))
        s.execute(update(TI).where(TI.state.is_(None)).values(state="success"))
        running = runs[len(runs) // 3: len(runs) // 3 + 200]
        s.execute(update(DagRun).where(DagRun.id.in_(running)).values(state="running"))
    return job_id


def main() -> None:
    from airflow import settings
    from airflow.utils.session import create_session
    from sqlalchemy import event

    from airflow_mesh.backfill.jobs import get_job
    from airflow_mesh.backfill.progress import progress

    job_id = build_job()
    statements: list[str] = []
    event.listen(settings.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    times = []
    for _ in range(READS):
        statements.clear()
        t = time.perf_counter()
        with create_session() as s:
            record = get_job(s, job_id)
            assert record is not None
            doc = progress(s, record)
        times.append((time.perf_counter() - t) * 1000)
    median = statistics.median(times)
    print(f"DB: {settings.engine.dialect.name}; progress of {record['total_runs']:,} runs "
          f"({doc['finished']:,} finished): median {median:.1f} ms, worst {max(times):.1f} ms over {READS} reads, "
          f"{len(statements)} statements a read (job row and parts included); budget {BUDGET_MS} ms: "
          f"{'met' if median < BUDGET_MS else 'NOT met'}")


if __name__ == "__main__":
    main()
