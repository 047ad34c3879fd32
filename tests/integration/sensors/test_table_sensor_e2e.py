"""Table sensors on real DAG runs in a real metadata DB, through the real Execution API (``dag.test()``).

Each test owns its own dates, so tests share one DB without interfering.
Producer history is either executed (``dag.test``) or created through Airflow's
own ``create_dagrun`` (:mod:`scripts/seed.py`) where hundreds of runs are needed;
the consumer's sensor always runs for real.
"""

from __future__ import annotations

import asyncio
import os
import socket
import textwrap
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import triggerer_wire  # scripts/: test tooling (tests/conftest.py puts it on the path)

from airflow_mesh.core.intervals import UTC

pytestmark = pytest.mark.usefixtures("airflow_db")


def d(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def hours(start: datetime, n: int) -> list[datetime]:
    return [start + timedelta(hours=h) for h in range(n)]


def days(start: datetime, n: int) -> list[datetime]:
    return [start + timedelta(days=i) for i in range(n)]


@pytest.fixture(scope="module")
def dags():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag().dags


def run_consumer(dags, dag_id: str, tick: datetime, *, sensors_wait: bool = False):
    """Run a consumer DAG for real; sensors poke once (timeout 0) so 'still waiting' shows as a timeout."""
    dag = dags[dag_id]
    for task in dag.tasks:
        task.retries = 0
        if hasattr(task, "poke") and not sensors_wait:
            task.timeout, task.mode, task.deferrable = 0.0, "poke", False
    dr = dag.test(logical_date=tick)
    return dr, {ti.task_id: ti.state for ti in dr.get_task_instances()}


def seed(dag_id: str, ticks, **kw):
    from seed import seed_runs

    return seed_runs(dag_id, ticks, **kw)


def test_daily_consumer_waits_for_all_24_hourly_runs_then_proceeds(dags, capfd) -> None:
    day = d(2026, 2, 2)
    # One producer run executed for real (writes its partition), 22 more from history: 23 of 24.
    dr = dags["payments_hourly"].test(logical_date=day + timedelta(hours=1))
    assert dr.state == "success"
    assert (Path(os.environ["MESH_EXAMPLE_WAREHOUSE"]) / "payments/transactions/hour=2026-02-02T00/part-00000.json").exists()
    seed("payments_hourly", hours(day + timedelta(hours=2), 22))

    capfd.readouterr()
    _, states = run_consumer(dags, "payments_daily", day + timedelta(days=1))
    out = "".join(capfd.readouterr())
    assert states["wait_hourly_loads"] == "failed" and states["build_settlements"] == "upstream_failed"
    assert "1 of 24 hourly runs of payments_hourly.load_transactions not done" in out
    assert "1 not created yet" in out

    dr = dags["payments_hourly"].test(logical_date=day + timedelta(days=1))  # the 24th hour, for real
    assert dr.state == "success"
    _, states = run_consumer(dags, "payments_daily", day + timedelta(days=1) + timedelta(minutes=1))
    assert states["wait_hourly_loads"] == "success" and states["build_settlements"] == "success"


def test_failed_producer_run_fails_fast_naming_team_contact_and_runs(dags, capfd) -> None:
    day = d(2026, 2, 4)
    ticks = hours(day + timedelta(hours=1), 24)
    seed("payments_hourly", ticks[:3])
    seed("payments_hourly", [ticks[3]], task_states={"load_transactions": "failed"})
    seed("payments_hourly", [ticks[4]], state="running")
    seed("payments_hourly", ticks[5:])
    seed("authentication_hourly", ticks)
    dag = dags["risk_daily"]
    for task in dag.tasks:
        task.retries = 0
    capfd.readouterr()
    started = time.monotonic()
    dr = dag.test(logical_date=day + timedelta(days=1))  # deferrable sensors, as the example defines them
    elapsed = time.monotonic() - started
    out = "".join(capfd.readouterr())
    states = {ti.task_id: ti.state for ti in dr.get_task_instances()}
    assert states["wait_transactions"] == "failed"
    assert states["wait_logins"] == "success"
    assert states["score_fraud"] == "upstream_failed"
    assert ("payments.transactions (team payments, contact Ana Souza <ana.souza@example.com>): "
            "2 of 24 hourly runs of payments_hourly.load_transactions") in out
    assert "2026-02-04T04:00 failed" in out and "2026-02-04T05:00 running" in out
    assert elapsed < 60  # failed at once: no waiting out the 36 h sensor timeout


def test_hourly_consumer_waits_for_the_covering_daily_run(dags, capfd) -> None:
    hour_tick = d(2026, 2, 6, 15)  # covers 14:00-15:00 on Feb 6
    seed("payments_hourly", [hour_tick])
    capfd.readouterr()
    _, states = run_consumer(dags, "bi_hourly", hour_tick)
    out = "".join(capfd.readouterr())
    assert states["wait_transactions"] == "success"
    assert states["wait_fx_rates"] == "failed"
    assert "1 of 1 daily run of payments_daily.load_fx_rates" in out
    seed("payments_daily", [d(2026, 2, 7)])  # the daily run covering Feb 6
    _, states = run_consumer(dags, "bi_hourly", hour_tick + timedelta(minutes=1))
    assert states["wait_fx_rates"] == "success" and states["build_revenue_hourly"] == "success"


def test_weekly_consumer_needs_seven_daily_runs(dags, capfd) -> None:
    sunday = d(2026, 3, 8)  # @weekly tick; covers Sun Mar 1 - Sun Mar 8
    seed("risk_daily", days(d(2026, 3, 2), 7))
    seed("payments_daily", days(d(2026, 3, 2), 6))
    capfd.readouterr()
    _, states = run_consumer(dags, "risk_weekly", sunday)
    assert states["wait_inputs"] == "failed"
    assert "1 of 7 daily runs of payments_daily.build_settlements" in "".join(capfd.readouterr())
    seed("payments_daily", [d(2026, 3, 8)])
    _, states = run_consumer(dags, "risk_weekly", sunday + timedelta(minutes=1))
    assert states["build_chargeback_ratio"] == "success"


def test_monthly_consumer_of_daily_and_hourly_producers(dags, capfd) -> None:
    may_tick = d(2026, 5, 1)  # covers April: 30 days, 720 hours
    seed("bi_daily", days(d(2026, 4, 2), 29))
    seed("payments_hourly", hours(d(2026, 4, 1, 1), 719))
    capfd.readouterr()
    _, states = run_consumer(dags, "bi_monthly", may_tick)
    out = "".join(capfd.readouterr())
    assert states["wait_daily_revenue"] == "failed" and states["wait_hourly_transactions"] == "failed"
    assert "1 of 30 daily runs of bi_daily.build_merchant_revenue" in out
    assert "1 of 720 hourly runs of payments_hourly.load_transactions" in out
    seed("bi_daily", [may_tick])
    seed("payments_hourly", [may_tick])
    _, states = run_consumer(dags, "bi_monthly", may_tick + timedelta(minutes=1))
    assert states["build_revenue_monthly"] == "success" and states["count_transactions_monthly"] == "success"


def test_cron_with_offset_needs_the_two_overlapping_daily_runs(dags, capfd) -> None:
    tick = d(2026, 3, 11, 2, 30)  # covers Mar 10 02:30 - Mar 11 02:30: overlaps days Mar 10 and Mar 11
    seed("risk_daily", [d(2026, 3, 11)])
    seed("payments_daily", [d(2026, 3, 11), d(2026, 3, 12)])
    capfd.readouterr()
    _, states = run_consumer(dags, "risk_merchant", tick)
    assert states["wait_inputs"] == "failed"
    assert "1 of 2 daily runs of risk_daily.score_fraud" in "".join(capfd.readouterr())
    seed("risk_daily", [d(2026, 3, 12)])
    _, states = run_consumer(dags, "risk_merchant", tick + timedelta(minutes=1))
    assert states["build_merchant_risk"] == "success"


def test_period_before_the_producer_start_date_fails_at_once(dags, capfd) -> None:
    capfd.readouterr()
    _, states = run_consumer(dags, "bi_monthly", d(2026, 1, 1), sensors_wait=True)  # covers December 2025
    out = "".join(capfd.readouterr())
    assert states["wait_daily_revenue"] == "failed"
    assert "bi.merchant_revenue_daily (team business-intelligence" in out
    assert "has data only from 2026-01-01T00:00 (mesh.start_date)" in out and "would wait forever" in out


def test_trigger_waits_then_fires_when_the_last_producer_run_lands(dags, monkeypatch) -> None:
    """The real trigger, through Airflow's in-process supervisor comms and the real Execution API.

    (``airflow dags test`` keeps its DB transaction open while a trigger runs, so
    under SQLite another process cannot add the producer run meanwhile; this test
    drives the trigger the way ``dag.test()`` does, inside one process.)
    """
    import psutil
    import structlog
    from airflow.sdk.execution_time.supervisor import (
        InProcessSupervisorComms,
        InProcessTestSupervisor,
        set_supervisor_comms,
    )

    from airflow_mesh.core.coverage import requirements_for
    from airflow_mesh.core.intervals import Period
    from airflow_mesh.settings import configured_mesh
    from airflow_mesh.triggers import state_reader, table_trigger

    day = d(2026, 2, 12)
    ticks = hours(day + timedelta(hours=1), 24)
    seed("payments_hourly", ticks[:-1])
    reqs = requirements_for(configured_mesh(), ["payments.transactions"], Period(day, day + timedelta(days=1)))
    trigger = table_trigger.TableCoverageTrigger([r.to_json() for r in reqs], poke_interval=0.2)

    checks: list[int] = []
    real_fetch = state_reader._fetch_many

    def counting_fetch(*args, **kwargs):
        result = real_fetch(*args, **kwargs)
        checks.append(sum(1 for t in result.values() if t.get("load_transactions") == "success"))
        return result

    monkeypatch.setattr(state_reader, "_fetch_many", counting_fetch)
    supervisor = InProcessTestSupervisor(id=__import__("uuid").uuid4(), pid=os.getpid(), process=psutil.Process(),
                                         process_log=structlog.get_logger(), client=InProcessTestSupervisor._api_client())
    supervisor.comms = InProcessSupervisorComms(supervisor=supervisor)

    async def scenario():
        events = trigger.run()
        first = asyncio.ensure_future(anext(events))
        deadline = asyncio.get_running_loop().time() + 60
        while not checks:  # the trigger has looked once and found 23 of 24 (bounded: fails after 60 s)
            assert asyncio.get_running_loop().time() < deadline, "the trigger made no check within 60 s"
            await asyncio.sleep(0.01)
        assert not first.done() and checks[0] == 23
        await asyncio.to_thread(seed, "payments_hourly", [ticks[-1]])
        return await asyncio.wait_for(first, timeout=60)

    with set_supervisor_comms(supervisor.comms):
        event = asyncio.run(scenario())
    assert event.payload["status"] == "success"
    assert "All 24 producer run(s) of payments.transactions succeeded" in event.payload["message"]
    assert checks[-1] == 24


@contextmanager
def triggerer_supervisor():
    """The triggerer's own comms wire with a supervisor thread answering through the real Execution API,
    one request at a time as Airflow's does (``scripts/triggerer_wire.py``).

    Yields the runner's end of the socket and the list of requests the supervisor answered.
    """
    supervisor_end, runner_end = socket.socketpair()
    asked: list = []
    thread = threading.Thread(target=triggerer_wire.serve, args=(supervisor_end, asked), daemon=True)
    thread.start()
    try:
        yield runner_end, asked
    finally:
        supervisor_end.shutdown(socket.SHUT_RDWR)
        thread.join(timeout=30)
        supervisor_end.close()


async def triggerer_comms(runner_end, monkeypatch):
    """Install the trigger runner's comms (``TriggerCommsDecoder``) on the running loop, as the triggerer does."""
    from airflow.sdk.execution_time import task_runner

    comms, writer = await triggerer_wire.runner_comms(runner_end)
    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", comms, raising=False)
    return writer


def test_triggers_ask_through_the_triggerers_async_comms_and_share_identical_questions(dags, monkeypatch) -> None:
    """50 sensors with one question and one with another, through the triggerer's real comms."""
    from airflow_mesh.core.coverage import requirements_for
    from airflow_mesh.core.intervals import Period
    from airflow_mesh.settings import configured_mesh
    from airflow_mesh.triggers.table_trigger import TableCoverageTrigger

    day = d(2026, 6, 10)
    seed("payments_hourly", hours(day + timedelta(hours=1), 24))
    mesh = configured_mesh()
    done_day = [r.to_json() for r in requirements_for(mesh, ["payments.transactions"], Period(day, day + timedelta(days=1)))]
    next_day = [r.to_json() for r in requirements_for(mesh, ["payments.transactions"],
                                                      Period(day + timedelta(days=1), day + timedelta(days=2)))]

    async def scenario(runner_end):
        writer = await triggerer_comms(runner_end, monkeypatch)
        waiting = asyncio.ensure_future(anext(TableCoverageTrigger(next_day, poke_interval=3600).run()))
        events = await asyncio.wait_for(asyncio.gather(
            *(anext(TableCoverageTrigger(done_day, poke_interval=3600).run()) for _ in range(50))), timeout=120)
        waiting.cancel()
        writer.close()
        return events

    with triggerer_supervisor() as (runner_end, asked):
        events = asyncio.run(scenario(runner_end))
    assert [e.payload["status"] for e in events] == ["success"] * 50
    assert "All 24 producer run(s) of payments.transactions succeeded" in events[0].payload["message"]
    # 50 sensors with the same question: one request; the sensor of the next day: its own.
    assert sorted((m.dag_id, m.task_ids, len(m.logical_dates)) for m in asked) == [
        ("payments_hourly", ["load_transactions"], 24)] * 2
    assert len({tuple(m.logical_dates) for m in asked}) == 2


def test_different_questions_about_one_producer_are_merged_through_the_real_execution_api(dags, monkeypatch) -> None:
    """Sensors of two tables of one DAG for 96 different hours (some done, some failed, some missing, some runs
    with hand-picked ids) and of four days: a few merged requests through the triggerer's comms, each answer
    what its own request returns."""
    from airflow.sdk.execution_time.comms import GetTaskStates
    from airflow.sdk.execution_time.request_handlers import handle_get_task_states
    from airflow.sdk.execution_time.supervisor import InProcessTestSupervisor

    from airflow_mesh.core import merged_questions
    from airflow_mesh.core.coverage import evaluate, requirements_for
    from airflow_mesh.core.intervals import Period
    from airflow_mesh.settings import configured_mesh
    from airflow_mesh.triggers.state_reader import SharedStateReader, state_reader
    from airflow_mesh.triggers.table_trigger import TableCoverageTrigger

    start = d(2026, 7, 20)
    ticks = hours(start + timedelta(hours=1), 96)
    seed("payments_hourly", [t for i, t in enumerate(ticks) if i % 4 == 0])
    seed("payments_hourly", [t for i, t in enumerate(ticks) if i % 4 == 1], run_type="manual",
         run_ids=[f"rerun-by-hand-{i}" for i in range(len(ticks)) if i % 4 == 1])
    seed("payments_hourly", [t for i, t in enumerate(ticks) if i % 4 == 2], task_states={"load_transactions": "failed"})
    mesh = configured_mesh()

    def question(table: str, period: Period) -> tuple[str, list[datetime]]:
        (req,) = requirements_for(mesh, [table], period)
        return req.task_id, req.logical_dates()

    questions = [question(table, Period(t - timedelta(hours=1), t))
                 for table in ("payments.transactions", "payments.refunds") for t in ticks] + \
                [question("payments.transactions", Period(start + timedelta(days=i), start + timedelta(days=i + 1)))
                 for i in range(4)]
    done, failed = ticks[0], ticks[2]
    sensors = [[r.to_json() for r in requirements_for(mesh, ["payments.transactions"], Period(t - timedelta(hours=1), t))]
               for t in (done, failed)]
    hourly = [requirements_for(mesh, ["payments.transactions"], Period(t - timedelta(hours=1), t)) for t in ticks]

    async def scenario(runner_end):
        writer = await triggerer_comms(runner_end, monkeypatch)
        reader = state_reader()
        answers = await asyncio.wait_for(asyncio.gather(
            *(reader.states("payments_hourly", task, q, max_age=0) for task, q in questions)), timeout=120)
        calls = reader.calls
        events = await asyncio.wait_for(asyncio.gather(
            *(anext(TableCoverageTrigger(s, poke_interval=3600).run()) for s in sensors)), timeout=120)
        fresh = SharedStateReader()   # 96 sensors' checks together: merged reads, then confirmed verdicts
        checker = TableCoverageTrigger([], poke_interval=3600)
        verdicts = await asyncio.wait_for(asyncio.gather(*(checker._check(reqs, fresh) for reqs in hourly)), timeout=120)
        writer.close()
        return answers, calls, reader.merged, events, verdicts, (fresh.merged, fresh.calls)

    with triggerer_supervisor() as (runner_end, asked):
        answers, calls, merged, events, verdicts, merged_again = asyncio.run(scenario(runner_end))
    client = InProcessTestSupervisor._api_client()

    def own_call(dag_id: str, task_id: str, dates: list[datetime]) -> dict:
        """What the question's own request answers (the sync path, poke mode's)."""
        return handle_get_task_states(client, GetTaskStates(dag_id=dag_id, task_ids=[task_id], logical_dates=dates))[0].task_states

    assert answers == [own_call("payments_hourly", task, q) for task, q in questions]
    assert sum(len(a) for a in answers[:96]) == 72 and "rerun-by-hand-1" in answers[1]
    assert {s for a in answers[96:192] for tasks in a.values() for s in tasks.values()} == {"success"}  # refunds
    assert merged == 1 and calls == merged_questions.code_for(96).calls < len(questions)
    assert {tuple(m.task_ids) for m in asked[:calls]} == {("load_refunds", "load_transactions")}
    assert [e.payload["status"] for e in events] == ["success", "failed"]
    assert "team payments" in events[1].payload["message"]
    # The verdicts of merged checks are those of one call per sensor.
    alone_verdicts = [evaluate(reqs, own_call)[:2] for reqs in hourly]
    assert verdicts == alone_verdicts and merged_again[0] == 1
    assert [v[0] for v in verdicts[:4]] == ["success", "success", "failed", "waiting"]
    # 96 sensors: one merged set, successes confirmed together, the 24 failures re-read alone
    assert merged_again[1] <= merged_questions.code_for(96).calls + 3 + 24 < 96


def test_reading_another_teams_private_table_fails_at_parse_time(tmp_path: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    team_dir = tmp_path / "business-intelligence"
    team_dir.mkdir()
    (team_dir / "bi_cards.py").write_text(textwrap.dedent("""
        from datetime import datetime
        from airflow.sdk import DAG
        from airflow_mesh.sensors import TableSensor
        with DAG("bi_cards", schedule="@daily", start_date=datetime(2026, 1, 1), tags=["team:business-intelligence"]):
            TableSensor(task_id="wait_cards", table="payments.card_tokens")
    """))
    bag = DagBag(dag_folder=str(tmp_path))
    assert "bi_cards" not in bag.dags
    (err,) = bag.import_errors.values()
    assert "waits for payments.card_tokens, a private table of team payments" in err
    assert "Ask Ana Souza <ana.souza@example.com> to make it public" in err


def test_tables_are_assets_in_airflow(dags) -> None:
    from airflow.models.asset import AssetModel
    from airflow.utils.session import create_session

    task = dags["payments_hourly"].get_task("load_transactions")
    assert [a.uri for a in task.outlets] == ["mesh://payments/transactions"]
    assert [a.uri for a in dags["risk_daily"].get_task("wait_transactions").inlets] == ["mesh://payments/transactions"]
    with create_session() as session:
        uris = {a.uri for a in session.query(AssetModel)}
    assert {"mesh://payments/transactions", "mesh://bi/revenue_monthly"} <= uris
