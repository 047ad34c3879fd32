"""Backfill jobs on a real metadata DB: native Airflow backfills per DAG, background materialization in
short lease-claimed transactions, pause/resume/cancel/retry, interruption by a real SIGKILL and resume.
Dates in July 2026 belong to this module."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from airflow_mesh.backfill.request import BackfillRequest
from airflow_mesh.core.intervals import UTC
from airflow_mesh.settings import configured_mesh

pytestmark = pytest.mark.usefixtures("airflow_db", "mesh_jobs")
NOW = datetime(2026, 11, 23, 19, tzinfo=UTC)  # a fixed "now" for the planner: no verdict depends on the calendar


@pytest.fixture(autouse=True)
def no_background_materializer(monkeypatch):
    """This module materializes its jobs itself: a mesh app that an earlier test module started runs a
    materializer thread in this process, and it must not claim them (its ticks check the setting)."""
    monkeypatch.setenv("AIRFLOW__MESH__BACKFILL_MATERIALIZER", "false")


def materialized(job_id: int) -> None:
    """Materialize the job in this process, or, when a background tick already in flight claimed it first,
    wait (bounded) until that tick has."""
    import threading
    import time

    from airflow_mesh.backfill.materialize import materialize_next

    if materialize_next(job_id=job_id) is not None:
        return
    deadline = time.monotonic() + 120
    while (status := job_of(job_id)["status"]) in ("queued", "materializing"):
        assert time.monotonic() < deadline, f"job #{job_id} is still {status}"
        threading.Event().wait(0.2)


def accept(req: BackfillRequest, user: str = "alice") -> int:
    from airflow_mesh.backfill import jobs

    return jobs.submit(req.plan(configured_mesh(), NOW), req, user).id


def job_of(job_id: int) -> dict:
    from airflow.utils.session import create_session

    from airflow_mesh.backfill.jobs import get_job

    with create_session() as s:
        return get_job(s, job_id)


def job_runs(job_id: int) -> list:
    """(dag_id, logical_date, state, run_type) of every run attached to the job's native backfills."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    ids = [x["backfill_id"] for x in job_of(job_id)["dags"]]
    with create_session() as s:
        return s.execute(select(DagRun.dag_id, DagRun.logical_date, DagRun.state, DagRun.run_type)
                         .where(DagRun.backfill_id.in_(ids))).all()


def d(*a: int) -> datetime:
    return datetime(*a, tzinfo=UTC)


def run_counts() -> dict[str, int]:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as s:
        return dict(s.execute(select(DagRun.dag_id, func.count()).group_by(DagRun.dag_id)).all())


def ti_states(dag_id: str, logical_date: datetime) -> dict[str, str | None]:
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.utils.session import create_session

    with create_session() as s:
        rows = s.execute(select(TI.task_id, TI.state).join(DagRun, (DagRun.dag_id == TI.dag_id) & (DagRun.run_id == TI.run_id))
                         .where(DagRun.dag_id == dag_id, DagRun.logical_date == logical_date)).all()
    return {t: (str(st) if st else None) for t, st in rows}


def test_tasks_to_clear_are_the_readers_of_affected_inputs_and_their_downstream() -> None:
    from airflow.utils.session import create_session

    from airflow_mesh.backfill.dag_runs import serialized_dag, tasks_to_clear

    plan = BackfillRequest(roots=["payments.transactions"], start=d(2026, 7, 1), end=d(2026, 7, 2)).plan(configured_mesh(), NOW)
    with create_session() as s:
        assert tasks_to_clear(serialized_dag("risk_daily", s), plan.dags["risk_daily"]) == ["score_fraud", "wait_transactions"]
        # the root's own DAG: its producer (and downstream), not its sensors: its inputs did not change
        assert tasks_to_clear(serialized_dag("payments_hourly", s), plan.dags["payments_hourly"]) == ["load_transactions"]


def test_a_job_materializes_into_native_backfills_clearing_only_planned_tasks_and_skipping_in_flight_runs() -> None:
    from airflow.models.backfill import Backfill, BackfillDagRun
    from airflow.utils.session import create_session
    from seed import seed_runs

    from airflow_mesh.backfill.materialize import materialize_next
    from airflow_mesh.backfill.models import JobStatus

    day = d(2026, 7, 6)
    seed_runs("payments_hourly", [day + timedelta(hours=h) for h in range(1, 25)])  # Jul 6 ran
    seed_runs("risk_daily", [day + timedelta(days=1)])
    seed_runs("payments_daily", [day + timedelta(days=1)], task_states={"build_settlements": "running"})  # in flight
    req = BackfillRequest(roots=["payments.transactions"], start=day, end=day + timedelta(days=1), max_active_runs=3)
    plan = req.plan(configured_mesh(), NOW)
    before = run_counts()

    job_id = accept(req)
    assert job_of(job_id)["status"] == "queued" and run_counts() == before   # accepting creates no run
    assert materialize_next(job_id=job_id) == (job_id, JobStatus.RUNNING)

    record = job_of(job_id)
    parts = {x["dag_id"]: x for x in record["dags"]}
    assert set(parts) == set(plan.dags) and all(x["done"] == x["total"] for x in parts.values())
    assert parts["payments_hourly"]["cleared"] == 24 and parts["payments_hourly"]["created"] == 0
    assert parts["payments_daily"]["skipped"] == 1   # its queued/running run is never cleared: skipped, reason kept
    assert run_counts()["payments_hourly"] == before["payments_hourly"]
    assert ti_states("payments_hourly", day + timedelta(hours=5)) == {
        "load_transactions": None, "load_refunds": "success", "load_card_tokens": "success"}  # only the planned task
    states = ti_states("risk_daily", day + timedelta(days=1))
    assert states["wait_transactions"] is None and states["score_fraud"] is None and states["wait_logins"] == "success"
    ordinals: dict[str, list[int]] = {}
    with create_session() as s:
        for dag_id, part in parts.items():
            native = s.get(Backfill, part["backfill_id"])
            assert native.dag_id == dag_id and native.max_active_runs == 3 and native.completed_at is None
            ordinals[dag_id] = sorted(s.scalars(select(BackfillDagRun.sort_ordinal)
                                                .where(BackfillDagRun.backfill_id == native.id)).all())
    # One numbering across the job, each run once, consecutive within a DAG, and wave by wave: the scheduler
    # examines running backfill runs lowest ordinal first (a limited number per loop), so a consumer must never
    # hold a lower ordinal than the producer runs its sensors wait for.
    total = sum(p["total"] for p in parts.values())
    assert sorted(o for os_ in ordinals.values() for o in os_) == list(range(1, total + 1))
    for dag_id, os_ in ordinals.items():
        assert os_ == list(range(os_[0], os_[0] + parts[dag_id]["total"])), dag_id
    for a, b in ((a, b) for a in parts for b in parts if parts[a]["wave"] < parts[b]["wave"]):
        assert max(ordinals[a]) < min(ordinals[b]), (a, b)
    with create_session() as s:
        skipped = s.execute(select(BackfillDagRun.exception_reason).where(
            BackfillDagRun.backfill_id == parts["payments_daily"]["backfill_id"],
            BackfillDagRun.dag_run_id.is_(None))).scalars().all()
    assert skipped == ["in flight"]
    runs = job_runs(job_id)
    assert len(runs) == plan.runs - 1 and {str(r.run_type) for r in runs} == {"backfill"}
    assert {str(r.state) for r in runs} == {"queued"}


def test_pause_stops_the_schedulers_own_selection_resume_restores_it_retry_reruns_only_failed_tasks(monkeypatch) -> None:
    from airflow.models.dag import DagModel
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.utils.session import create_session

    from airflow_mesh.backfill import steering

    req = BackfillRequest(roots=["payments_daily.build_settlements"], start=d(2026, 7, 13), end=d(2026, 7, 16))
    job_id = accept(req, "bob")
    materialized(job_id)
    backfills = {x["backfill_id"] for x in job_of(job_id)["dags"]}
    dag_ids = [x["dag_id"] for x in job_of(job_id)["dags"]]
    monkeypatch.setattr(DagRun, "DEFAULT_DAGRUNS_TO_EXAMINE", 10_000)   # see every queued run in the shared DB
    with create_session() as s:   # the DAGs as a deployment has them: unpaused (Airflow pauses new DAGs)
        was_paused = dict(s.execute(select(DagModel.dag_id, DagModel.is_paused).where(DagModel.dag_id.in_(dag_ids))).all())
        s.execute(DagModel.__table__.update().where(DagModel.dag_id.in_(dag_ids)).values(is_paused=False))

    def startable() -> set:
        with create_session() as s:   # the scheduler's own query for queued runs to start
            return {dr.backfill_id for dr in DagRun.get_queued_dag_runs_to_set_running(s)} & backfills

    assert startable() == backfills
    assert steering.pause(job_id, "bob")["status"] == "paused"
    assert startable() == set()
    assert steering.resume(job_id, "bob")["status"] == "running"
    assert startable() == backfills

    with create_session() as s:   # one run's planned task failed, its downstream upstream-failed
        run = s.scalars(select(DagRun).where(DagRun.backfill_id.in_(backfills), DagRun.dag_id == "payments_daily")
                        .order_by(DagRun.logical_date)).first()
        tis = {ti.task_id: ti for ti in run.get_task_instances(session=s)}
        tis["build_settlements"].state = "failed"
        run.state = "failed"
        other = s.scalars(select(TI).where(TI.dag_id == "payments_daily", TI.run_id != run.run_id,
                                           TI.run_id.in_(select(DagRun.run_id).where(DagRun.backfill_id.in_(backfills))))).first()
        other.state = "success"
        run_id, other_key = run.run_id, (other.run_id, other.task_id)
    steering.retry(job_id, "bob")
    with create_session() as s:
        assert s.scalar(select(TI.state).where(TI.dag_id == "payments_daily", TI.run_id == run_id,
                                               TI.task_id == "build_settlements")) is None
        assert s.scalar(select(DagRun.state).where(DagRun.dag_id == "payments_daily", DagRun.run_id == run_id)) == "queued"
        assert s.scalar(select(TI.state).where(TI.dag_id == "payments_daily", TI.run_id == other_key[0],
                                               TI.task_id == other_key[1])) == "success"   # untouched
    with create_session() as s:
        for dag_id, paused in was_paused.items():
            s.execute(DagModel.__table__.update().where(DagModel.dag_id == dag_id).values(is_paused=paused))


def test_cancel_leaves_no_run_queued_terminates_running_tasks_records_who_and_frees_the_dags() -> None:
    from airflow.models.backfill import Backfill
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.utils.session import create_session

    from airflow_mesh.backfill import jobs, steering

    req = BackfillRequest(roots=["payments_daily.build_settlements"], start=d(2026, 7, 20), end=d(2026, 7, 23))
    job_id = accept(req, "carol")
    with pytest.raises(jobs.JobConflict, match=f"mesh job #{job_id} is active on"):
        accept(req, "dave")   # no overlap: the same DAGs while the job is active
    materialized(job_id)
    backfills = [x["backfill_id"] for x in job_of(job_id)["dags"]]
    with create_session() as s:
        run = s.scalars(select(DagRun).where(DagRun.backfill_id.in_(backfills)).order_by(DagRun.logical_date)).first()
        run.state = "running"
        ti = s.scalars(select(TI).where(TI.dag_id == run.dag_id, TI.run_id == run.run_id)).first()
        ti.state = "running"
        key = (ti.dag_id, ti.run_id, ti.task_id)

    record = steering.cancel(job_id, "carol")

    assert record["status"] == "cancelled" and record["cancelled_by"] == "carol"
    assert {str(r.state) for r in job_runs(job_id)} == {"failed"}   # none left queued or running
    with create_session() as s:
        assert s.scalar(select(TI.state).where(TI.dag_id == key[0], TI.run_id == key[1], TI.task_id == key[2])) == "failed"
        assert all(s.get(Backfill, b).completed_at is not None for b in backfills)
    with pytest.raises(jobs.JobConflict, match="cancelled: it cannot be paused"):
        steering.pause(job_id, "carol")
    accept(req, "dave")   # the DAGs are free again


def test_overlaps_are_read_in_one_statement_naming_a_jobs_backfills_as_its_job_and_others_as_airflows() -> None:
    """One statement sees one state. Read in three, a job accepted between them showed up as its own native
    backfills, "Airflow backfill #9 is active", to the loser of two concurrent executes (seen in CI)."""
    from airflow.models.backfill import Backfill
    from airflow.utils.session import create_session
    from sqlalchemy import event

    from airflow_mesh.backfill import jobs

    req = BackfillRequest(roots=["payments_daily.build_settlements"], start=d(2026, 7, 17), end=d(2026, 7, 19))
    job_id = accept(req)
    dags = sorted(x["dag_id"] for x in job_of(job_id)["dags"])
    with create_session() as s:   # a native backfill of one of them, started outside the mesh
        native = Backfill(dag_id=dags[0], from_date=d(2026, 7, 17), to_date=d(2026, 7, 18), dag_run_conf={})
        s.add(native)
        s.flush()
        native_id = native.id
    statements: list[str] = []
    try:
        with create_session() as s:
            event.listen(s.connection(), "before_cursor_execute", lambda *args: statements.append(args[2]))
            seen = jobs.overlapping(s, dags)
    finally:
        with create_session() as s:
            s.get(Backfill, native_id).completed_at = NOW
    assert len(statements) == 1
    assert [(i["name"], sorted(i["dags"])) for i in seen] == [
        (f"Airflow backfill #{native_id}", [dags[0]]), (f"mesh job #{job_id}", dags)]


def test_a_sigkilled_materializer_leaves_an_interrupted_job_that_resume_completes_without_duplicates(monkeypatch) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from airflow.models.backfill import BackfillDagRun
    from airflow.utils.session import create_session

    from airflow_mesh.backfill.materialize import sweep_interrupted

    monkeypatch.setenv("AIRFLOW__MESH__BACKFILL_MATERIALIZER", "false")   # this process's thread stays out of it
    req = BackfillRequest(roots=["payments_hourly.load_card_tokens"], start=d(2026, 7, 24), end=d(2026, 7, 27),
                          downstream=False)
    job_id = accept(req)
    total = job_of(job_id)["total_runs"]
    env = dict(os.environ, AIRFLOW__MESH__BACKFILL_CHUNK_RUNS="2", AIRFLOW__MESH__BACKFILL_LEASE_SECONDS="2",
               PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    proc = subprocess.Popen(["airflow-mesh", "backfill", "materialize", "--job", str(job_id)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:   # bounded: until some chunks are applied
        if 0 < sum(x["done"] for x in job_of(job_id)["dags"]):
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    applied = sum(x["done"] for x in job_of(job_id)["dags"])
    assert 0 < applied < total

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:   # bounded: until its 2 s lease has expired and the sweep stores it
        with create_session() as s:
            if sweep_interrupted(s):
                break
        time.sleep(0.2)
    record = job_of(job_id)
    assert record["status"] == "interrupted" and f"payments_hourly {applied}/{total}" in record["status_reason"]

    resumed = subprocess.run(["airflow-mesh", "backfill", "resume", str(job_id)], env=env, capture_output=True,
                             text=True, timeout=300, check=False)   # re-queues, then continues it in that process
    assert resumed.returncode == 0, resumed.stderr
    said = [line for line in resumed.stdout.splitlines() if line.startswith("Backfill job #")]
    assert said == [f"Backfill job #{job_id}: queued", f"Backfill job #{job_id}: running"]
    runs = job_runs(job_id)
    assert len(runs) == total and len({r.logical_date for r in runs}) == total
    with create_session() as s:
        links = s.scalars(select(BackfillDagRun.sort_ordinal).where(
            BackfillDagRun.backfill_id == job_of(job_id)["dags"][0]["backfill_id"])).all()
    assert sorted(links) == list(range(1, total + 1))


def test_refuses_plans_over_the_limit_and_empty_plans(monkeypatch) -> None:
    from airflow_mesh.backfill.dag_runs import PlanNotExecutable

    req = BackfillRequest(roots=["payments.transactions"], start=d(2026, 7, 1), end=d(2026, 7, 3))
    monkeypatch.setenv("AIRFLOW__MESH__BACKFILL_MAX_RUNS", "10")
    with pytest.raises(PlanNotExecutable, match="more than \\[mesh\\] backfill_max_runs = 10"):
        accept(req, "dave")
    future = BackfillRequest(roots=["payments.transactions"], start=NOW + timedelta(days=2), end=NOW + timedelta(days=3))
    with pytest.raises(PlanNotExecutable, match="no runs"):
        accept(future, "dave")


def test_cli_backfill_run_status_pause_resume_cancel() -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    cli = ["airflow-mesh", "backfill"]

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(cli + list(args), env=env, capture_output=True, text=True, timeout=180, check=False)

    later = run("run", "payments_hourly.load_refunds", "--start", "2026-07-27", "--end", "2026-07-28", "--yes",
                "--now", (datetime.now(UTC) + timedelta(days=1)).isoformat())
    assert later.returncode == 2 and "is later than this machine's clock" in later.stderr and "Fix:" in later.stderr
    ran = run("run", "payments_hourly.load_refunds", "--start", "2026-07-27", "--end", "2026-07-28", "--no-downstream", "--yes",
              "--now", NOW.isoformat())
    assert ran.returncode == 0, ran.stderr
    assert "wave 0  payments_hourly" in ran.stdout and "24 runs (24 to create, 0 to clear, 0 in flight" in ran.stdout
    job_id = int(ran.stdout.split("Backfill job #")[1].split(" ")[0])
    assert f"Job #{job_id}: running." in ran.stdout
    status = run("status", str(job_id))
    assert status.returncode == 0, status.stderr
    assert f"Backfill job #{job_id} by cli:" in status.stdout and "24 of 24 runs materialized" in status.stdout
    assert "0 of 24 runs finished" in status.stdout
    assert f"#{job_id}" in run("status").stdout
    assert run("pause", str(job_id)).stdout.strip() == f"Backfill job #{job_id}: paused"
    assert run("resume", str(job_id)).stdout.strip() == f"Backfill job #{job_id}: running"
    assert run("cancel", str(job_id)).stdout.strip() == f"Backfill job #{job_id}: cancelled"
    again = run("cancel", str(job_id))
    assert again.returncode == 1 and "cancelled: it cannot be cancelled" in again.stderr
    refused = run("run", "payments.nope", "--start", "2026-07-27", "--end", "2026-07-28", "--yes")
    assert refused.returncode == 2 and "'payments.nope' is neither a table" in refused.stderr
    typo = run("plan", "payments.transactions", "--start", "2026-07-27", "--end", "2026-07-28", "--stop-at-team", "rsik")
    assert typo.returncode == 2 and "stop_at_teams: unknown team(s) rsik" in typo.stderr


def test_runs_before_the_dags_own_start_date_are_refused_in_the_dry_run(monkeypatch) -> None:
    from airflow.utils.session import create_session

    from airflow_mesh.backfill import dag_runs
    from airflow_mesh.backfill.execute import dry_run

    req = BackfillRequest(roots=["payments.transactions"], start=d(2026, 7, 1), end=d(2026, 7, 2), downstream=False)
    plan = req.plan(configured_mesh(), NOW)
    real = dag_runs.serialized_dag

    class StartsLater:
        """The DAG as if its file said start_date=2026-09-01, later than its table's mesh.start_date."""

        def __init__(self, dag):
            self._dag = dag
            self.start_date = d(2026, 9, 1)

        def __getattr__(self, name):
            return getattr(self._dag, name)

    monkeypatch.setattr(dag_runs, "serialized_dag", lambda dag_id, session: StartsLater(real(dag_id, session)))
    with create_session() as s:
        preview = dry_run(plan, s)
    assert preview.dags["payments_hourly"]["to_create"] is None
    assert "DAG payments_hourly starts 2026-09-01T00:00 but the plan has runs from 2026-07-01T01:00" in preview.problems[0]


def test_a_job_whose_runs_were_deleted_ends_failed_instead_of_running_forever() -> None:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    from airflow_mesh.backfill.steering import settle

    req = BackfillRequest(roots=["payments_daily.build_settlements"], start=d(2026, 7, 28), end=d(2026, 7, 30),
                          downstream=False)
    job_id = accept(req, "erin")
    materialized(job_id)
    with create_session() as s:
        assert settle(s, job_id) is None   # its runs are queued: still running
    backfills = [x["backfill_id"] for x in job_of(job_id)["dags"]]
    with create_session() as s:
        s.execute(delete(DagRun).where(DagRun.backfill_id.in_(backfills)))
    with create_session() as s:
        assert settle(s, job_id).value == "failed"
    record = job_of(job_id)
    assert record["status"] == "failed" and record["status_reason"] == "2 run(s) were deleted"
    assert record["finished_at"] is not None


def test_run_backwards_starts_the_newest_runs_first_and_the_default_the_oldest() -> None:
    """The scheduler starts a native backfill's runs in sort_ordinal order: that order is the plan's."""
    from airflow.models.backfill import BackfillDagRun
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    from airflow_mesh.backfill import steering

    def start_order(job_id: int) -> list[datetime]:
        [part] = [x for x in job_of(job_id)["dags"] if x["dag_id"] == "payments_hourly"]
        with create_session() as s:
            return list(s.scalars(
                select(DagRun.logical_date).join(BackfillDagRun, BackfillDagRun.dag_run_id == DagRun.id)
                .where(BackfillDagRun.backfill_id == part["backfill_id"]).order_by(BackfillDagRun.sort_ordinal)))

    orders = {}
    for backwards, day in ((True, d(2026, 7, 9)), (False, d(2026, 7, 10))):
        req = BackfillRequest(roots=["payments.transactions"], start=day, end=day + timedelta(hours=6),
                              downstream=False, run_backwards=backwards)
        job_id = accept(req)
        materialized(job_id)
        orders[backwards] = start_order(job_id)
        steering.cancel(job_id, "test")  # frees payments_hourly for the next job
    assert len(orders[True]) == len(orders[False]) == 6
    assert orders[True] == sorted(orders[True], reverse=True)   # newest first
    assert orders[False] == sorted(orders[False])               # oldest first
