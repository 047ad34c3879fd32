"""PostgreSQL contention: while a job materializes (its own process, short chunk transactions), task
starts elsewhere never wait on a lock held by the mesh. January 2026 belongs to this module.

Runs only when the suite's metadata DB is PostgreSQL: row locks and lock waits are what is measured,
and SQLite has neither (it serializes every writer on one file lock).

What a task start needs is taken as the Execution API's ``ti_run`` takes it: the task instance row
``FOR UPDATE``, then its state and its run's row. Probes do that, in a loop, for a task of a DAG outside
the plan and for a scheduled run of a backfilled DAG outside the plan's range, while
``pg_stat_activity`` is sampled for any backend waiting on a lock.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
from conftest import LockSampler
from sqlalchemy import func, select, text

from airflow_mesh.backfill.request import BackfillRequest
from airflow_mesh.core.intervals import UTC

pytestmark = pytest.mark.usefixtures("airflow_db")


@pytest.fixture
def postgres(airflow_db, request):
    from airflow import settings

    if settings.engine.dialect.name != "postgresql":
        pytest.skip("needs the suite on PostgreSQL: it measures row-lock waits, which SQLite does not have "
                    f"(this run uses {settings.engine.dialect.name})")
    request.getfixturevalue("mesh_tables")
    return settings.engine


def start_probe(dag_id: str, tick: datetime) -> tuple[str, str, str]:
    """A run with one task instance about to start (queued), as the scheduler leaves it for a worker."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.utils.session import create_session
    from seed import seed_runs

    seed_runs(dag_id, [tick], task_states={})
    with create_session() as s:
        run_id = s.scalar(select(DagRun.run_id).where(DagRun.dag_id == dag_id, DagRun.logical_date == tick))
        task_id = s.scalars(select(TI.task_id).where(TI.dag_id == dag_id, TI.run_id == run_id)).first()
    return dag_id, run_id, task_id


def test_materializing_a_job_never_makes_a_task_start_wait_on_a_lock(postgres) -> None:
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance as TI

    from airflow_mesh.backfill import jobs, steering
    from airflow_mesh.settings import configured_mesh

    outside = start_probe("risk_daily", datetime(2026, 1, 20, tzinfo=UTC))           # a DAG outside the plan
    scheduled = start_probe("payments_hourly", datetime(2026, 1, 31, 5, tzinfo=UTC))  # backfilled DAG, later run
    req = BackfillRequest(roots=["payments.transactions"], start=datetime(2026, 1, 1, tzinfo=UTC),
                          end=datetime(2026, 1, 31, tzinfo=UTC), downstream=False)
    os.environ["AIRFLOW__MESH__BACKFILL_MATERIALIZER"] = "false"   # the subprocess below does the work
    try:
        accepted = jobs.submit(req.plan(configured_mesh(), datetime.now(UTC)), req, "contention")
        env = dict(os.environ, AIRFLOW__MESH__BACKFILL_CHUNK_RUNS="50",
                   PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
        proc = subprocess.Popen(["airflow-mesh", "backfill", "materialize", "--job", str(accepted.id)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        probes = [0]

        def task_start(dag_id: str, run_id: str, task_id: str) -> None:
            with postgres.connect() as c, c.begin():
                c.execute(select(TI.id).where(TI.dag_id == dag_id, TI.run_id == run_id, TI.task_id == task_id)
                          .with_for_update())
                c.execute(TI.__table__.update().where(TI.dag_id == dag_id, TI.run_id == run_id,
                                                      TI.task_id == task_id).values(state="running"))
                c.execute(select(DagRun.id).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id).with_for_update())
                c.execute(TI.__table__.update().where(TI.dag_id == dag_id, TI.run_id == run_id,
                                                      TI.task_id == task_id).values(state="queued"))

        sampler = LockSampler(postgres)
        sampler.start()
        deadline = time.monotonic() + 600
        while proc.poll() is None and time.monotonic() < deadline:   # bounded: until materialization ends
            task_start(*outside)
            task_start(*scheduled)
            probes[0] += 1
        sampler.finish()
        out, err = proc.communicate(timeout=60)
    finally:
        os.environ.pop("AIRFLOW__MESH__BACKFILL_MATERIALIZER", None)
    assert proc.returncode == 0, err[-3000:]
    assert f"Backfill job #{accepted.id}: running" in out
    assert probes[0] > 0
    assert sampler.samples > 0
    assert sampler.worst < 1.0, f"a backend waited {sampler.worst:.2f} s on a lock while the job materialized"
    steering.cancel(accepted.id, "contention")


def test_cancel_never_deadlocks_with_a_scheduler_holding_one_of_its_runs(postgres) -> None:
    """Airflow's scheduler locks a run's row, then updates that run's task instances. Cancel used to update the
    task instances of a batch first and their runs after: against a live scheduler on PostgreSQL that was a
    deadlock (seen with a real scheduler: ``DeadlockDetected`` and HTTP 500 on cancel). Here one connection
    plays the scheduler's part, deterministically: it holds one of the job's runs, waits until cancel is
    either blocked on that row or done with every other run, then updates the run's task instances."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.utils.session import create_session

    from airflow_mesh.backfill import jobs, steering
    from airflow_mesh.backfill.materialize import materialize_next
    from airflow_mesh.settings import configured_mesh

    req = BackfillRequest(roots=["payments.transactions"], start=datetime(2026, 1, 1, tzinfo=UTC),
                          end=datetime(2026, 1, 2, 12, tzinfo=UTC), downstream=False)
    accepted = jobs.submit(req.plan(configured_mesh(), datetime.now(UTC)), req, "deadlock")
    assert materialize_next(job_id=accepted.id) is not None
    with create_session() as s:
        record = jobs.get_job(s, accepted.id)
        backfill_id = record["dags"][0]["backfill_id"]
        run_ids = s.execute(select(DagRun.id, DagRun.run_id).where(DagRun.backfill_id == backfill_id)
                            .order_by(DagRun.id)).all()
    held_id, held_run = run_ids[len(run_ids) // 2]
    scheduler = postgres.connect()
    tx = scheduler.begin()
    scheduler.execute(select(DagRun.id).where(DagRun.id == held_id).with_for_update())
    outcome: dict = {}

    def cancel() -> None:
        try:
            outcome["job"] = steering.cancel(accepted.id, "deadlock")
        except Exception as err:  # noqa: BLE001 - the assertion below names it
            outcome["error"] = repr(err)

    canceller = threading.Thread(target=cancel, daemon=True)
    canceller.start()
    deadline = time.monotonic() + 60
    with postgres.connect() as watch:
        while True:  # bounded: until cancel waits on the held row, or finished every other run
            assert time.monotonic() < deadline, "cancel neither blocked on the held run nor finished the others"
            waiting = watch.execute(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                         "AND datname = current_database()")).scalar()
            others = watch.execute(select(func.count()).select_from(DagRun).where(
                DagRun.backfill_id == backfill_id, DagRun.id != held_id,
                DagRun.state.in_(["queued", "running"]))).scalar()
            watch.commit()
            if waiting or not others:
                break
            canceller.join(0.05)
    try:
        scheduler.execute(TI.__table__.update().where(TI.dag_id == "payments_hourly", TI.run_id == held_run)
                          .values(state="scheduled"))
        tx.commit()
        outcome["scheduler"] = "committed"
    except Exception as err:  # noqa: BLE001 - the assertion below names it
        outcome["scheduler"] = repr(err)
    finally:
        scheduler.close()
    canceller.join(90)
    assert not canceller.is_alive(), "cancel did not finish"
    assert outcome["scheduler"] == "committed", outcome
    assert "error" not in outcome, outcome
    assert outcome["job"]["status"] == "cancelled"
    with create_session() as s:
        states = dict(s.execute(select(DagRun.state, func.count()).where(DagRun.backfill_id == backfill_id)
                                .group_by(DagRun.state)).all())
    assert set(states) == {"failed"}, states
