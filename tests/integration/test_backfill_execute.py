"""Executing backfill plans on a real metadata DB: clears and creations, atomicity, idempotency,
records and progress. Dates in July 2026 belong to this module."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from airflow_mesh.backfill.request import BackfillRequest
from airflow_mesh.core.intervals import UTC
from airflow_mesh.settings import configured_mesh

pytestmark = pytest.mark.usefixtures("airflow_db")
NOW = datetime.now(UTC)


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


def test_execute_clears_existing_runs_creates_missing_ones_and_is_idempotent() -> None:
    from airflow_mesh.backfill.execute import execute
    from airflow_mesh.backfill.records import get_record, progress
    from seed import seed_runs
    from airflow.utils.session import create_session

    day = d(2026, 7, 6)
    seed_runs("payments_hourly", [day + timedelta(hours=h) for h in range(1, 25)])  # Jul 6 ran
    seed_runs("risk_daily", [day + timedelta(days=1)])
    req = BackfillRequest(roots=["payments.transactions"], start=day, end=day + timedelta(days=1))
    plan = req.plan(configured_mesh(), NOW)
    before = run_counts()

    record_id = execute(plan, req, user="alice")

    after = run_counts()
    assert after.get("payments_hourly", 0) == before.get("payments_hourly", 0)   # all 24 existed: cleared
    assert after["payments_daily"] - before.get("payments_daily", 0) == plan.dags["payments_daily"].runs
    assert ti_states("payments_hourly", day + timedelta(hours=5)) == {
        "load_transactions": None, "load_refunds": "success", "load_card_tokens": "success"}  # only the root's producer
    states = ti_states("risk_daily", day + timedelta(days=1))
    assert states["wait_transactions"] is None and states["score_fraud"] is None
    assert states["wait_logins"] == "success"       # reads an input the backfill did not touch
    with create_session() as s:
        record = get_record(s, record_id)
        prog = progress(s, record)
    assert record["user"] == "alice" and record["roots"] == ["payments.transactions"]
    assert record["summary"]["dags"]["payments_hourly"] == {**record["summary"]["dags"]["payments_hourly"],
                                                            "created": 0, "cleared": 24}
    assert prog["total"] == plan.runs and prog["status"] == "running" and prog["success"] == 0
    assert prog["dags"]["payments_hourly"]["queued"] == 24

    from airflow.models.dagrun import DagRun

    with create_session() as s:
        created = s.scalars(select(DagRun).where(DagRun.dag_id == "payments_daily", DagRun.logical_date == day + timedelta(days=1))).one()
        assert created.run_id.startswith("mesh_backfill__") and created.note.startswith("mesh backfill of payments.transactions by alice")
        assert created.triggered_by.value == "backfill" and created.state == "queued"

    again = execute(plan, req, user="alice")          # the same plan twice: no duplicate runs
    assert run_counts() == after and again != record_id
    with create_session() as s:
        assert get_record(s, again)["summary"]["dags"]["payments_daily"]["created"] == 0


def test_a_failure_midway_changes_nothing(monkeypatch) -> None:
    from airflow.serialization.definitions.dag import SerializedDAG
    from airflow.utils.session import create_session

    from airflow_mesh.backfill.execute import execute
    from airflow_mesh.backfill.records import ensure_table, list_records
    from seed import seed_runs

    day = d(2026, 7, 13)
    seed_runs("payments_hourly", [day + timedelta(hours=h) for h in range(1, 25)])
    req = BackfillRequest(roots=["payments.transactions"], start=day, end=day + timedelta(days=1))
    plan = req.plan(configured_mesh(), NOW)
    ensure_table()
    with create_session() as s:
        records_before = len(list_records(s, 1000))
    before = run_counts()

    real, calls = SerializedDAG.create_dagrun, []

    def flaky(self, **kw):
        calls.append(self.dag_id)
        if len(calls) == 3:
            raise RuntimeError("database went away (injected)")
        return real(self, **kw)

    monkeypatch.setattr(SerializedDAG, "create_dagrun", flaky)
    with pytest.raises(RuntimeError, match="injected"):
        execute(plan, req, user="bob")

    assert len(calls) == 3                       # it failed after clearing wave 0 and creating two runs
    assert run_counts() == before                # ... and none of it stayed
    assert ti_states("payments_hourly", day + timedelta(hours=7))["load_transactions"] == "success"
    with create_session() as s:
        assert len(list_records(s, 1000)) == records_before


def test_only_failed_skips_runs_whose_tasks_all_succeeded() -> None:
    from airflow.utils.session import create_session

    from airflow_mesh.backfill.execute import execute
    from airflow_mesh.backfill.records import get_record
    from seed import seed_runs

    day = d(2026, 7, 20)
    ticks = [day + timedelta(hours=h) for h in range(1, 25)]
    seed_runs("payments_hourly", ticks[:20])
    seed_runs("payments_hourly", ticks[20:22], state="failed")
    req = BackfillRequest(roots=["payments.transactions"], start=day, end=day + timedelta(days=1),
                          downstream=False, only_failed=True)
    record_id = execute(req.plan(configured_mesh(), NOW), req, user="carol")
    with create_session() as s:
        summary = get_record(s, record_id)["summary"]["dags"]["payments_hourly"]
    assert (summary["skipped"], summary["cleared"], summary["created"]) == (20, 2, 2)
    assert ti_states("payments_hourly", ticks[0])["load_transactions"] == "success"
    assert ti_states("payments_hourly", ticks[20])["load_transactions"] is None


def test_refuses_plans_over_the_limit_and_empty_plans(monkeypatch) -> None:
    from airflow_mesh.backfill.dag_runs import PlanNotExecutable
    from airflow_mesh.backfill.execute import execute

    req = BackfillRequest(roots=["payments.transactions"], start=d(2026, 7, 1), end=d(2026, 7, 3))
    monkeypatch.setenv("AIRFLOW__MESH__BACKFILL_MAX_RUNS", "10")
    with pytest.raises(PlanNotExecutable, match="more than \\[mesh\\] backfill_max_runs = 10"):
        execute(req.plan(configured_mesh(), NOW), req, user="dave")
    future = BackfillRequest(roots=["payments.transactions"], start=NOW + timedelta(days=2), end=NOW + timedelta(days=3))
    with pytest.raises(PlanNotExecutable, match="no runs"):
        execute(future.plan(configured_mesh(), NOW), future, user="dave")


def test_cli_backfill_run_and_status() -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    cli = ["airflow-mesh", "backfill"]
    ran = subprocess.run(cli + ["run", "payments_hourly.load_refunds", "--start", "2026-07-27", "--end", "2026-07-28",
                                "--no-downstream", "--yes"], env=env, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert "wave 0  payments_hourly" in ran.stdout and "24 runs (24 to create, 0 to clear)" in ran.stdout
    record_id = int(ran.stdout.split("Backfill #")[1].split(":")[0])
    status = subprocess.run(cli + ["status", str(record_id)], env=env, capture_output=True, text=True, timeout=120)
    assert status.returncode == 0, status.stderr
    assert f"Backfill #{record_id} by cli:" in status.stdout and "0 of 24 runs done, 24 active" in status.stdout
    listing = subprocess.run(cli + ["status"], env=env, capture_output=True, text=True, timeout=120)
    assert f"#{record_id}" in listing.stdout and "payments_hourly.load_refunds" in listing.stdout
    refused = subprocess.run(cli + ["run", "payments.nope", "--start", "2026-07-27", "--end", "2026-07-28", "--yes"],
                             env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "'payments.nope' is neither a table" in refused.stderr


def test_runs_before_the_dags_own_start_date_are_refused_in_the_dry_run(monkeypatch) -> None:
    from airflow.utils.session import create_session

    import airflow_mesh.backfill.dag_runs as dag_runs
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
