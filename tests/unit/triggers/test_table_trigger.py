"""How deferred table sensors share one triggerer: identical questions asked once, bounded, jittered."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import airflow.sdk  # noqa: F401  (Airflow first: its start-up loads the mesh policy)
import pytest

from airflow_mesh.triggers import table_trigger
from airflow_mesh.triggers.table_trigger import SharedStateReader, TableCoverageTrigger

D = [datetime(2026, 10, 1, tzinfo=UTC) + timedelta(hours=h) for h in range(1, 25)]

def run(coro):
    """``asyncio.run`` in a fresh thread: the session may hold a running loop in the main thread (Playwright's sync API)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result(timeout=120)



@pytest.fixture()
def asked(monkeypatch):
    """Replace the Execution API call with a recorder that answers after the loop turns a few times."""
    calls: list[tuple[str, str, tuple]] = []

    async def fake_ask(dag_id, task_id, dates):
        calls.append((dag_id, task_id, tuple(dates)))
        for _ in range(3):
            await asyncio.sleep(0)
        if dag_id == "broken":
            raise RuntimeError("Execution API said no")
        return {f"scheduled__{d.isoformat()}": {task_id: "success"} for d in dates}

    monkeypatch.setattr(table_trigger, "_ask", fake_ask)
    return calls


def test_identical_questions_in_flight_together_are_asked_once(asked) -> None:
    async def scenario():
        reader = SharedStateReader()
        answers = await asyncio.gather(*(reader.states("p", "t", D, max_age=0) for _ in range(500)),
                                       reader.states("p", "t", D[:1], max_age=0))
        return reader, answers

    reader, answers = run(scenario())
    assert len(asked) == 2 and reader.calls == 2
    assert all(a == answers[0] for a in answers[:500]) and len(answers[0]) == 24 and len(answers[500]) == 1


def test_a_fresh_answer_is_shared_only_within_max_age(asked) -> None:
    async def scenario():
        reader = SharedStateReader()
        await reader.states("p", "t", D, max_age=60)
        await reader.states("p", "t", D, max_age=60)     # fresh enough: no call
        await reader.states("p", "t", D, max_age=0)      # this sensor wants a new look
        return reader

    assert run(scenario()).calls == 2 and len(asked) == 2


def test_a_failed_call_fails_its_waiters_and_is_not_shared_afterwards(asked) -> None:
    async def scenario():
        reader = SharedStateReader()
        results = await asyncio.gather(*(reader.states("broken", "t", D, max_age=60) for _ in range(3)),
                                       return_exceptions=True)
        with pytest.raises(RuntimeError):
            await reader.states("broken", "t", D, max_age=60)
        return results

    results = run(scenario())
    assert [str(r) for r in results] == ["Execution API said no"] * 3
    assert len(asked) == 2   # one call for the three together, a new one afterwards


def test_a_cancelled_asker_does_not_cancel_the_others(asked) -> None:
    async def scenario():
        reader = SharedStateReader()
        first = asyncio.ensure_future(reader.states("p", "t", D, max_age=0))
        await asyncio.sleep(0)
        second = asyncio.ensure_future(reader.states("p", "t", D, max_age=0))
        await asyncio.sleep(0)
        first.cancel()
        return await second

    assert len(run(scenario())) == 24


def test_in_flight_calls_are_bounded(monkeypatch) -> None:
    in_flight = peak = 0

    async def fake_ask(dag_id, task_id, dates):
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0)
        in_flight -= 1
        return {}

    monkeypatch.setattr(table_trigger, "_ask", fake_ask)

    async def scenario():
        reader = SharedStateReader()
        await asyncio.gather(*(reader.states("p", "t", [D[0] + timedelta(days=i)], max_age=0) for i in range(500)))
        return reader

    assert run(scenario()).calls == 500 and peak == table_trigger.MAX_IN_FLIGHT


def test_pokes_are_jittered_widely_after_the_first_check_then_narrowly() -> None:
    trigger = TableCoverageTrigger([], poke_interval=100.0)
    first = [trigger._sleep_seconds(1) for _ in range(2000)]
    later = [trigger._sleep_seconds(5) for _ in range(2000)]
    assert 50 <= min(first) and max(first) <= 150 and max(first) - min(first) > 80
    assert 90 <= min(later) and max(later) <= 110 and max(later) - min(later) > 15
