"""How deferred table sensors share one triggerer: identical questions asked once, bounded, jittered."""

from __future__ import annotations

import asyncio
import gc
import itertools
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import airflow.sdk  # noqa: F401  (Airflow first: its start-up loads the mesh policy)
import pytest

from airflow_mesh.core import merged_questions
from airflow_mesh.core.coverage import Requirement
from airflow_mesh.triggers import state_reader
from airflow_mesh.triggers.state_reader import SharedStateReader
from airflow_mesh.triggers.table_trigger import TableCoverageTrigger

D = [datetime(2026, 10, 1, tzinfo=UTC) + timedelta(hours=h) for h in range(1, 25)]

def run(coro):
    """``asyncio.run`` in a fresh thread: the session may hold a running loop in the main thread (Playwright's sync API)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result(timeout=120)



@pytest.fixture()
def asked(monkeypatch):
    """Replace the Execution API call with a recorder that answers after the loop turns a few times."""
    calls: list[tuple[str, str, tuple]] = []

    async def fake_ask(dag_id, task_ids, dates):
        calls.append((dag_id, tuple(task_ids), tuple(dates)))
        for _ in range(3):
            await asyncio.sleep(0)
        if dag_id == "broken":
            raise RuntimeError("Execution API said no")
        return {f"scheduled__{d.isoformat()}": dict.fromkeys(task_ids, "success") for d in dates}

    monkeypatch.setattr(state_reader, "_ask", fake_ask)
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
    """500 producers (nothing to merge): one call each, never more than MAX_IN_FLIGHT at once."""
    in_flight = peak = 0

    async def fake_ask(dag_id, task_ids, dates):
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0)
        in_flight -= 1
        return {}

    monkeypatch.setattr(state_reader, "_ask", fake_ask)

    async def scenario():
        reader = SharedStateReader()
        await asyncio.gather(*(reader.states(f"p{i}", "t", D[:1], max_age=0) for i in range(500)))
        return reader

    assert run(scenario()).calls == 500 and peak == state_reader.MAX_IN_FLIGHT


def test_pokes_are_jittered_widely_after_the_first_check_then_narrowly() -> None:
    trigger = TableCoverageTrigger([], poke_interval=100.0)
    first = [trigger._sleep_seconds(1) for _ in range(2000)]
    later = [trigger._sleep_seconds(5) for _ in range(2000)]
    assert 50 <= min(first) and max(first) <= 150 and max(first) - min(first) > 80
    assert 90 <= min(later) and max(later) <= 110 and max(later) - min(later) > 15


class FakeProducer:
    """A producer DAG's runs (run ids unrelated to their dates) answering calls as ``GetTaskStates`` does.

    Each run has task ``t``, task ``t2``, task ``m`` mapped over two indexes, and an unmapped task
    ``m_1``, whose answer key is the same as the mapped ``m``'s index 1.
    """

    def __init__(self, hours: int, every: int = 1, instances=None) -> None:
        instances = instances or self.instances
        self.runs = {D[0] + timedelta(hours=h): (f"by-hand-{h * 7919 % 1000}", instances(h))
                     for h in range(hours) if h % every == 0}
        self.asked: list[tuple] = []
        self.answered = 0
        self.after_first_call = None

    @staticmethod
    def instances(h: int) -> list[tuple[str, int, str | None]]:
        return [("t", -1, "success" if h % 5 else "failed"), ("t2", -1, "running" if h % 3 else None),
                ("m", 0, "success"), ("m", 1, "failed" if h % 7 == 0 else "success"), ("m_1", -1, "queued")]

    def answer(self, dates, task_ids=("t",)) -> dict:
        """What ``GetTaskStates(task_ids=task_ids, logical_dates=dates)`` answers (keys as Airflow builds them)."""
        out: dict = {}
        for d in dates:
            if d in self.runs:
                run_id, tis = self.runs[d]
                states = {(t if mi < 0 else f"{t}_{mi}"): st for t, mi, st in tis if t in task_ids}
                if states:
                    out[run_id] = states
        return out

    async def ask(self, dag_id, task_ids, dates):
        self.asked.append((tuple(task_ids), tuple(dates)))
        await asyncio.sleep(0)
        answer = self.answer(dates, task_ids)
        self.answered += 1
        if self.answered == 1 and self.after_first_call:
            self.after_first_call()   # runs change after the first answer, before the others
        return answer


@pytest.fixture
def answered_by(monkeypatch):
    """Make a :class:`FakeProducer` the Execution API: ``producer = answered_by(FakeProducer(hours=100))``."""
    def install(producer: FakeProducer) -> FakeProducer:
        monkeypatch.setattr(state_reader, "_ask", producer.ask)
        return producer

    return install


def every_hour_done(h: int) -> list[tuple[str, int, str | None]]:
    return [("t", -1, "success")]


def test_different_questions_about_one_producer_are_merged_and_each_gets_its_own_answer(answered_by) -> None:
    producer = answered_by(FakeProducer(hours=720, every=2))
    questions = [("t", [D[0] + timedelta(hours=h)]) for h in range(720)] + \
                [("t", [D[0] + timedelta(hours=24 * day + h) for h in range(24)]) for day in range(30)] + \
                [("t2", [D[0] + timedelta(hours=h)]) for h in range(0, 720, 7)] + \
                [("m", [D[0] + timedelta(hours=h)]) for h in range(0, 720, 11)]

    async def scenario():
        reader = SharedStateReader()
        answers = await asyncio.gather(*(reader.states("p", task, q, max_age=0) for task, q in questions))
        return reader, answers

    reader, answers = run(scenario())
    assert reader.merged == 1 and reader.calls == len(producer.asked) == 18
    assert {tasks for tasks, _ in producer.asked} == {("m", "t", "t2")}
    assert answers == [producer.answer(q, [task]) for task, q in questions]
    assert sum(len(a) for a in answers[:720]) == 360   # half the hours have a run
    assert all(set(a[r]) == {"m_0", "m_1"} for a in answers[-66:] for r in a)   # mapped: both indexes, not task m_1


def test_tasks_whose_answers_would_clash_do_not_share_calls(answered_by) -> None:
    producer = answered_by(FakeProducer(hours=100))
    questions = [(task, [D[0] + timedelta(hours=h)]) for task in ("m", "m_1") for h in range(100)]

    async def scenario():
        reader = SharedStateReader()
        return reader, await asyncio.gather(*(reader.states("p", task, q, max_age=0) for task, q in questions))

    reader, answers = run(scenario())
    assert reader.merged == 2 and {tasks for tasks, _ in producer.asked} == {("m",), ("m_1",)}
    assert answers == [producer.answer(q, [task]) for task, q in questions]


def test_runs_created_during_merged_calls_make_each_question_be_asked_alone(answered_by) -> None:
    producer = answered_by(FakeProducer(hours=100, every=2))
    late = {D[0] + timedelta(hours=h): (f"late-{h}", FakeProducer.instances(h)) for h in range(1, 100, 2)}
    producer.after_first_call = lambda: producer.runs.update(late)
    questions = [[D[0] + timedelta(hours=h)] for h in range(100)]

    async def scenario():
        reader = SharedStateReader()
        return reader, await asyncio.gather(*(reader.states("p", "t", q, max_age=0) for q in questions))

    reader, answers = run(scenario())
    merged_calls = len(producer.asked) - 100
    assert reader.merged == 0 and merged_calls > 1
    assert sorted(producer.asked[merged_calls:]) == sorted((("t",), tuple(q)) for q in questions)
    assert answers == [producer.answer(q) for q in questions]   # as of after the change: every hour has a run
    assert all(len(a) == 1 for a in answers)


def test_an_api_that_keeps_failing_fails_every_question_each_after_its_own_call(monkeypatch) -> None:
    async def broken(dag_id, task_ids, dates):
        await asyncio.sleep(0)
        raise RuntimeError("Execution API said no")

    monkeypatch.setattr(state_reader, "_ask", broken)

    async def scenario():
        reader = SharedStateReader()
        return reader, await asyncio.gather(
            *(reader.states("p", "t", [D[0] + timedelta(hours=h)], max_age=0) for h in range(200)),
            return_exceptions=True)

    reader, results = run(scenario())
    assert [str(r) for r in results] == ["Execution API said no"] * 200 and reader.merged == 0


def test_questions_asked_while_a_producers_calls_are_answered_go_together_in_the_next_set(answered_by) -> None:
    producer = answered_by(FakeProducer(hours=200))

    async def scenario():
        reader = SharedStateReader()
        first = asyncio.ensure_future(reader.states("p", "t", D[:1], max_age=0))
        await asyncio.sleep(0)   # the first question's call is now in flight
        later = [reader.states("p", "t", [D[0] + timedelta(hours=h)], max_age=0) for h in range(1, 200)]
        return reader, [await first, *await asyncio.gather(*later)]

    reader, answers = run(scenario())
    assert producer.asked[0] == (("t",), tuple(D[:1])) and reader.merged == 1
    assert reader.calls == 1 + merged_questions.code_for(199).calls
    assert answers == [producer.answer([D[0] + timedelta(hours=h)]) for h in range(200)]


def test_one_failed_merged_call_makes_each_question_be_asked_alone_and_none_fails(monkeypatch) -> None:
    producer = FakeProducer(hours=100)
    real_ask = producer.ask

    async def flaky(dag_id, task_ids, dates):
        if len(dates) > 1 and not getattr(flaky, "failed", False):
            flaky.failed = True
            raise RuntimeError("503 from the API server")
        return await real_ask(dag_id, task_ids, dates)

    monkeypatch.setattr(state_reader, "_ask", flaky)

    async def scenario():
        reader = SharedStateReader()
        return reader, await asyncio.gather(*(reader.states("p", "t", [D[0] + timedelta(hours=h)], max_age=0)
                                              for h in range(100)))

    reader, answers = run(scenario())
    assert flaky.failed and reader.merged == 0
    assert answers == [producer.answer([D[0] + timedelta(hours=h)]) for h in range(100)]


def test_a_bad_question_fails_alone_and_leaves_no_unretrieved_exception(answered_by) -> None:
    producer = answered_by(FakeProducer(hours=50))
    unhandled: list[str] = []

    async def scenario():
        asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: unhandled.append(ctx["message"]))
        reader = SharedStateReader()
        good = [reader.states("p", "t", [D[0] + timedelta(hours=h)], max_age=0) for h in range(50)]
        naive = reader.states("p", "t", [datetime(2026, 10, 1)], max_age=0)
        out = await asyncio.gather(*good, naive, return_exceptions=True)
        gc.collect()
        await asyncio.sleep(0)
        return out

    out = run(scenario())
    assert out[:50] == [producer.answer([D[0] + timedelta(hours=h)]) for h in range(50)]
    assert isinstance(out[50], ValueError) and "has no time zone" in str(out[50]) and unhandled == []


def test_the_two_instants_of_an_autumn_fold_are_two_dates(monkeypatch) -> None:
    first = datetime(2026, 10, 25, 2, 30, tzinfo=ZoneInfo("Europe/Amsterdam"))
    second = first.replace(fold=1)
    runs = {first.astimezone(UTC): "run-0030", second.astimezone(UTC): "run-0130"}

    async def ask(dag_id, task_ids, dates):
        await asyncio.sleep(0)
        return {runs[d]: {"t": "success"} for d in dates if d in runs}

    monkeypatch.setattr(state_reader, "_ask", ask)
    others = [[datetime(2026, 10, 24, h, tzinfo=UTC)] for h in range(20)]   # enough to be merged

    async def scenario():
        reader = SharedStateReader()
        return reader, await asyncio.gather(*(reader.states("p", "t", q, max_age=0) for q in [[first], [second], *others]))

    reader, answers = run(scenario())
    assert reader.merged == 1 and answers[:2] == [{"run-0030": {"t": "success"}}, {"run-0130": {"t": "success"}}]


def test_a_drain_cancelled_from_outside_leaves_no_asker_waiting_forever(answered_by) -> None:
    producer = answered_by(FakeProducer(hours=5))

    async def scenario():
        reader = SharedStateReader()
        asker = asyncio.ensure_future(reader.states("p", "t", D[:1], max_age=0))
        await asyncio.sleep(0)
        reader.questions.drains["p"].cancel()
        later = asyncio.ensure_future(reader.states("p", "t", D[1:2], max_age=0))
        done, _ = await asyncio.wait([asker, later], timeout=30)   # a bound, not a synchronization
        again = await reader.states("p", "t", D[2:3], max_age=0)
        return len(done), again

    finished, again = run(scenario())
    assert finished == 2 and again == producer.answer(D[2:3])


def test_many_tasks_of_one_dag_over_different_hours_are_asked_alone_not_merged() -> None:
    questions = [(f"task_{t}", (D[0] + timedelta(hours=8 * t + h),)) for t in range(100) for h in range(8)]
    assert not merged_questions.worth_merging(questions)   # 18 calls x 100 tasks would return 270x the rows


def hourly_requirement(first: datetime, last: datetime) -> Requirement:
    return Requirement(table="p.t", team="p", contact="Ana", dag_id="p", task_id="t", schedule="@hourly",
                       period_start=first - timedelta(hours=1), period_end=last, first=first, last=last)


def test_a_verdict_never_rests_on_merged_answers_read_at_different_moments(monkeypatch) -> None:
    """Run A is cleared and run B finishes between the merged calls that read them: merged, both look done.

    At no moment were both done, so the sensor of [A, B] keeps waiting; the sensors of single hours finish."""
    hours = [D[0] + timedelta(hours=h) for h in range(100)]
    code, calls = merged_questions.code_for(len(hours)), merged_questions.merged_calls(hours)
    last = {d: max(w) for d, w in zip(hours, code.words, strict=True)}
    a, b = next((x, y) for x, y in itertools.pairwise(hours) if last[x] < last[y])
    state = {d: (f"run-{i}", "running" if d == b else "success") for i, d in enumerate(hours)}
    at_call = {tuple(c): j for j, c in enumerate(calls)}
    supervisor = asyncio.Lock()   # one request at a time, as the triggerer's supervisor answers

    async def ask(dag_id, task_ids, dates):
        async with supervisor:
            await asyncio.sleep(0)
            answer = {state[d][0]: {"t": state[d][1]} for d in dates if d in state}
            if at_call.get(tuple(dates)) == last[a]:   # one transaction: A cleared, B succeeded
                state[a], state[b] = (state[a][0], "running"), (state[b][0], "success")
            return answer

    monkeypatch.setattr(state_reader, "_ask", ask)
    single = [[hourly_requirement(h, h)] for h in hours if h not in (a, b)]

    async def scenario():
        reader = SharedStateReader()
        merged_view, *_ = await asyncio.gather(   # what the merged calls alone say
            reader.states("p", "t", [a, b], max_age=0),
            *(reader.states("p", "t", [h], max_age=0) for h in hours if h not in (a, b)))
        state[a], state[b] = (state[a][0], "success"), (state[b][0], "running")
        reader = SharedStateReader()
        trigger = TableCoverageTrigger([], poke_interval=3600)
        verdicts = await asyncio.gather(trigger._check([hourly_requirement(a, b)], reader),
                                        *(trigger._check(reqs, reader) for reqs in single))
        return merged_view, reader, verdicts

    merged_view, reader, verdicts = run(scenario())
    assert sorted(s["t"] for s in merged_view.values()) == ["success", "success"]   # the mixed read
    assert reader.merged == 1 and verdicts[0][0] == "waiting" and "1 of 2" in verdicts[0][1]
    assert [v[0] for v in verdicts[1:]] == ["success"] * 98


def test_successes_from_merged_answers_are_confirmed_together_by_one_read(answered_by) -> None:
    producer = answered_by(FakeProducer(hours=100, instances=every_hour_done))
    hours = [D[0] + timedelta(hours=h) for h in range(100)]

    async def scenario():
        reader = SharedStateReader()
        trigger = TableCoverageTrigger([], poke_interval=3600)
        return reader, await asyncio.gather(*(trigger._check([hourly_requirement(h, h)], reader) for h in hours))

    reader, verdicts = run(scenario())
    merged_calls = merged_questions.code_for(100).calls
    confirmations = producer.asked[merged_calls:]
    assert [v[0] for v in verdicts] == ["success"] * 100 and reader.merged == 1
    assert sorted(d for _, dates in confirmations for d in dates) == hours   # every hour confirmed once...
    assert len(confirmations) <= 3                                          # ...by a few reads, not one each


def test_a_confirmation_counts_only_the_tasks_own_unmapped_successes(answered_by) -> None:
    """A task that became mapped shows ``t_0``, ``t_1``...: those are not ``t`` succeeding (``judge``'s rule)."""
    mapped_then_running = {0: [("t", 0, "success"), ("t", 1, "success"), ("t", 2, "success")],
                           1: [("t", -1, "running")], 2: [("t", -1, "running")], 3: [("t", -1, "success")]}
    answered_by(FakeProducer(hours=4, instances=mapped_then_running.get))

    async def scenario():
        reader = SharedStateReader()
        return await asyncio.gather(reader.all_succeeded("p", "t", [D[0] + timedelta(hours=h) for h in range(4)]),
                                    reader.all_succeeded("p", "t", [D[0] + timedelta(hours=3)]))

    assert run(scenario()) == [False, True]   # 4 successful instances over 4 dates, yet 2 dates are running


def test_a_confirmation_that_errors_makes_the_sensor_read_alone_not_fail(monkeypatch, answered_by) -> None:
    producer = answered_by(FakeProducer(hours=100, instances=every_hour_done))

    async def broken(self, producer_key, requests):
        raise RuntimeError("503 from the API server")

    monkeypatch.setattr(SharedStateReader, "_confirm", broken)

    async def scenario():
        reader = SharedStateReader()
        trigger = TableCoverageTrigger([], poke_interval=3600)
        return await asyncio.gather(*(trigger._check([hourly_requirement(D[0] + timedelta(hours=h),
                                                                         D[0] + timedelta(hours=h))], reader)
                                      for h in range(100)))

    verdicts = run(scenario())
    assert [v[0] for v in verdicts] == ["success"] * 100
    assert len(producer.asked) == merged_questions.code_for(100).calls + 100   # then each read alone


def test_a_cancelled_drains_late_callback_leaves_the_newer_drains_requests_alone() -> None:
    async def answer(key, requests):
        await asyncio.sleep(0)
        return {r: r for r in requests}

    async def scenario():
        batches: state_reader.Batches = state_reader.Batches(answer)
        first = asyncio.ensure_future(batches.ask("k", 1))
        await asyncio.sleep(0)            # the first ask created the drain, not yet started
        batches.drains["k"].cancel()      # from outside, e.g. loop shutdown
        second = asyncio.ensure_future(batches.ask("k", 2))   # runs after the drain is done, before its callback
        return await asyncio.gather(first, second, return_exceptions=True)

    assert run(scenario()) == [1, 2]   # the newer drain answers both; nobody is cancelled who did not ask to be
