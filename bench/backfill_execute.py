"""A ~10,000-run mesh backfill job on a real metadata DB, beside Airflow's own ``_create_backfill``.

Prints, on the DB Airflow is configured with (SQLite in a throw-away home by default; ``BENCH_DB=postgresql``
starts a throw-away PostgreSQL server as the test suite does, or set ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN``):

* time to accept the job: what ``POST /mesh/api/backfills`` does before answering 202
  (plan, checks, fingerprint, job row, one native Backfill per DAG), without HTTP;
* materialization: time and SQL statements per run, first creating every run, then (a second job
  over the same plan after the first was cancelled) clearing every run;
* Airflow's own ``airflow.models.backfill._create_backfill`` on one DAG of the same mesh
  (payments_hourly) over a range of about REFERENCE_RUNS runs: creating, then (its backfill completed,
  the runs failed, reprocess_behavior=failed) clearing; per run, and the ratio to the mesh's.

Statements are counted with a SQLAlchemy ``before_cursor_execute`` listener on Airflow's engine (an
executemany or one insertmanyvalues batch counts once); ``BENCH_STATEMENTS=1`` lists them by kind.
Run: .venv/bin/python bench/backfill_execute.py   (sizes: BENCH_RUNS, BENCH_REFERENCE_RUNS)
"""

from __future__ import annotations

import sys
from pathlib import Path as _Path

sys.path.insert(0, str(_Path(__file__).resolve().parents[1] / "scripts"))  # seed.py: demo/test tooling, not in the wheel

import collections
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

UTC_ = UTC

HOME = Path(tempfile.mkdtemp(prefix="bench-backfill-"))
os.environ.update({
    "AIRFLOW_HOME": str(HOME), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__DAGS_FOLDER": str(Path(__file__).resolve().parents[1] / "dags"),
    "AIRFLOW__MESH__ROOT": str(Path(__file__).resolve().parents[1]),
    "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR", "AIRFLOW__MESH__CACHE_DIR": str(HOME / "cache"),
    "AIRFLOW__MESH__BACKFILL_MATERIALIZER": "false",
})
if os.environ.get("BENCH_DB", "sqlite").lower() == "postgresql":   # a throw-away server, as the test suite's
    import atexit

    from throwaway_postgres import ThrowawayPostgres

    _postgres = ThrowawayPostgres()
    atexit.register(_postgres.stop)
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = _postgres.start()
TARGET_RUNS = int(os.environ.get("BENCH_RUNS", "10000"))
REFERENCE_RUNS = int(os.environ.get("BENCH_REFERENCE_RUNS", "2000"))
COUNTER: Counter | None = None


class Counter:
    def __init__(self):
        from airflow import settings
        from sqlalchemy import event

        self.n = 0
        self.kinds: collections.Counter[str] = collections.Counter()
        event.listen(settings.engine, "before_cursor_execute", self._count)

    def _count(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self.n += 1
        self.kinds[" ".join(statement.split()[:4])[:60]] += 1

    def measure(self, fn):
        self.n = 0
        self.kinds.clear()
        t = time.perf_counter()
        out = fn()
        return out, time.perf_counter() - t, self.n


def tasks_per_run(backfill_ids: list[int]) -> float:
    """Task instances per run of these backfills: the mesh's runs and payments_hourly's differ in size."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as s:
        runs = s.scalar(select(func.count()).select_from(DagRun).where(DagRun.backfill_id.in_(backfill_ids)))
        tis = s.scalar(select(func.count()).select_from(TI).join(
            DagRun, (DagRun.dag_id == TI.dag_id) & (DagRun.run_id == TI.run_id)).where(DagRun.backfill_id.in_(backfill_ids)))
    return tis / max(runs, 1)


def fail_all_runs(backfill_ids: list[int]) -> None:
    """Make the runs finished (failed), as if they had run, so the next pass clears them."""
    from airflow.models.backfill import Backfill
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import update

    with create_session() as s:
        s.execute(update(DagRun).where(DagRun.backfill_id.in_(backfill_ids)).values(state="failed"))
        s.execute(update(Backfill).where(Backfill.id.in_(backfill_ids)).values(completed_at=datetime.now(tz=UTC_)))


def line(label: str, seconds: float, statements: int, runs: int) -> float:
    per = seconds / runs * 1000
    print(f"  {label:<44} {seconds:7.1f} s  {statements:>8,} statements  ({per:.2f} ms, "
          f"{statements / runs:.1f} statements per run)")
    if os.environ.get("BENCH_STATEMENTS"):   # which statements: where the round trips go
        assert COUNTER is not None
        for kind, n in COUNTER.kinds.most_common(12):
            print(f"      {n:>8,}  {kind}")
    return per


def main() -> None:
    from airflow.models.backfill import ReprocessBehavior, _create_backfill
    from airflow.utils.db import resetdb
    from airflow.utils.session import create_session
    from seed import sync_dags_to_db

    from airflow_mesh.backfill import jobs, service, steering
    from airflow_mesh.backfill.db_manager import MeshDBManager
    from airflow_mesh.backfill.materialize import materialize_next
    from airflow_mesh.backfill.request import BackfillRequest
    from airflow_mesh.backfill.summary import PlanSummary
    from airflow_mesh.core.intervals import UTC
    from airflow_mesh.settings import configured_mesh

    resetdb()
    sync_dags_to_db()
    with create_session() as s:
        MeshDBManager(s).initdb()
    os.environ["AIRFLOW__MESH__BACKFILL_MAX_RUNS"] = "1000000"
    now = datetime(2026, 11, 23, tzinfo=UTC)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    days = 5
    while True:  # grow the range until the plan has about TARGET_RUNS runs
        req = BackfillRequest(roots=["payments.transactions"], start=start, end=start + timedelta(days=days))
        plan = req.plan(configured_mesh(), now)
        if plan.runs >= TARGET_RUNS:
            break
        days += 5
    global COUNTER
    count = COUNTER = Counter()
    from airflow import settings

    print(f"DB: {settings.engine.dialect.name}; plan: {plan.runs:,} runs in {len(plan.dags)} DAGs "
          f"({days} days of payments.transactions + downstream)")

    def accept():
        p = service.make_plan(req)
        preview = service.describe(p, req, may_edit=None)
        return jobs.submit(p, req, "bench", preview["fingerprint"], PlanSummary.model_validate(preview["summary"]))

    results = {}
    for label in ("create", "clear"):
        accepted, t_accept, n_accept = count.measure(accept)
        print(f"  accept the job (what the API does before 202)   {t_accept:7.2f} s  {n_accept:>8,} statements")
        _, t, n = count.measure(lambda job_id=accepted.id: materialize_next(job_id=job_id))
        results[label] = line(f"materialize: {label} every run", t, n, plan.runs)
        with create_session() as s:
            ids = [d["backfill_id"] for d in jobs.get_job(s, accepted.id)["dags"]]
        print(f"      ({tasks_per_run(ids):.1f} task instances per run)")
        steering.cancel(accepted.id, "bench")
        fail_all_runs(ids)

    ref_end = datetime(2026, 11, 20, tzinfo=UTC)   # in the past (Airflow refuses future backfills), after the plan
    ref_start = ref_end - timedelta(hours=REFERENCE_RUNS)
    print(f"Airflow's own _create_backfill, payments_hourly, {REFERENCE_RUNS:,} runs:")
    ref = {}
    for label, behaviour in (("create", ReprocessBehavior.NONE), ("clear", ReprocessBehavior.FAILED)):
        backfill, t, n = count.measure(lambda behaviour=behaviour: _create_backfill(
            dag_id="payments_hourly", from_date=ref_start, to_date=ref_end, max_active_runs=10, reverse=False,
            dag_run_conf={}, triggering_user_name="bench", reprocess_behavior=behaviour))
        ref[label] = line(f"Airflow: {label} every run", t, n, REFERENCE_RUNS)
        print(f"      ({tasks_per_run([backfill.id]):.1f} task instances per run)")
        fail_all_runs([backfill.id])
    for label in ("create", "clear"):
        print(f"  per-run ratio Airflow/mesh, {label}: {ref[label] / results[label]:.2f}x (target >= 3x)")


if __name__ == "__main__":
    main()
