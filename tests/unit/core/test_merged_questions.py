"""Merged questions: the split answers are exactly what one call per question would answer, or nothing.

A fake producer (runs at some dates, run ids unrelated to their dates, any states) answers calls
the way the Execution API's ``GetTaskStates`` does: the runs whose logical date is asked for,
keyed by run id.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from math import comb

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_mesh.core import merged_questions as mq

T0 = datetime(2026, 4, 1, tzinfo=UTC)
STATES = ["success", "failed", "running", None, "upstream_failed", "queued"]


def hour(i: int) -> datetime:
    return T0 + timedelta(hours=i)


def ask(runs: dict[datetime, tuple[str, str | None]], dates) -> mq.States:
    """``GetTaskStates`` over a fake producer: ``runs`` maps a logical date to (run id, state)."""
    return {runs[d][0]: {"t": runs[d][1]} for d in dates if d in runs}


@st.composite
def producers_and_questions(draw):
    n = draw(st.integers(1, 300))
    present = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    states = draw(st.lists(st.sampled_from(STATES), min_size=n, max_size=n))
    runs = {hour(i): (f"run-{draw(st.uuids()).hex[:8]}-{i}", states[i]) for i in range(n) if present[i]}
    questions = draw(st.lists(
        st.lists(st.integers(0, n - 1), min_size=1, max_size=30, unique=True).map(lambda ix: tuple(hour(i) for i in ix)),
        min_size=2, max_size=80))
    return runs, questions


@settings(max_examples=150, deadline=None)
@given(producers_and_questions())
def test_every_question_gets_what_its_own_call_would_answer(case) -> None:
    runs, questions = case
    dates = sorted({d for q in questions for d in q})
    by_date = mq.split_answers(dates, [ask(runs, call) for call in mq.merged_calls(dates)])
    assert by_date is not None
    for q in questions:
        assert mq.answer_for(("t", q), by_date) == ask(runs, q)


@pytest.mark.parametrize("m", [1, 2, 3, 24, 100, 720, 999, 1000])
def test_codes_give_each_date_its_own_word_of_one_weight_within_the_call_limit(m: int) -> None:
    code = mq.code_for(m)
    assert len(set(code.words)) == m
    (weight,) = {len(w) for w in code.words}
    assert comb(code.calls, weight) >= m and all(w <= set(range(code.calls)) for w in code.words)
    assert max(len(c) for c in mq.merged_calls([hour(i) for i in range(m)])) <= mq.MAX_MERGED_DATES


def test_720_hourly_questions_take_18_calls_and_two_questions_are_asked_alone() -> None:
    hourly = [("t", (hour(i),)) for i in range(720)]
    assert mq.worth_merging(hourly) and len(mq.merged_calls([q[1][0] for q in hourly])) == 18
    assert not mq.worth_merging(hourly[:2])
    # 30 daily questions (24 dates each): 30 small calls cost less than 18 calls of 120 dates
    daily = [("t", tuple(hour(24 * day + h) for h in range(24))) for day in range(30)]
    assert not mq.worth_merging(daily)
    assert not mq.worth_merging([("t", (hour(i),)) for i in range(mq.MAX_MERGED_DATES + 1)])
    # three tables of one DAG, same hour: one call instead of three
    assert mq.worth_merging([(task, (hour(0),)) for task in ("a", "b", "c")]) and mq.code_for(1).calls == 1


@pytest.mark.parametrize("change", ["created", "deleted"])
def test_a_run_created_or_deleted_between_the_calls_never_gives_a_wrong_answer(change: str) -> None:
    """For every moment the run can change between the calls: the split is refused, or it is right."""
    n = 200
    dates = [hour(i) for i in range(n)]
    before = {d: (f"r{i}", "success") for i, d in enumerate(dates) if i % 3}
    moving = hour(3)
    after = {**before, moving: ("late-run", "running")}
    if change == "deleted":
        before, after = after, before
    calls = mq.merged_calls(dates)
    word = mq.code_for(n).words[dates.index(moving)]
    questions = [(d,) for d in dates] + [tuple(dates[:24])]
    refused = right = 0
    for moment in range(len(calls) + 1):  # calls before `moment` see `before`, the others `after`
        by_date = mq.split_answers(dates, [ask(before if j < moment else after, c) for j, c in enumerate(calls)])
        if by_date is None:
            refused += 1
            continue
        right += 1
        # a consistent answer: every call of the moving date's word saw the same side of the change
        seen = after if min(word) >= moment else before
        assert [mq.answer_for(("t", q), by_date) for q in questions] == [ask(seen, q) for q in questions]
    assert refused == max(word) - min(word) and right == len(calls) + 1 - refused


def test_a_state_that_changes_between_calls_is_taken_from_the_last_call() -> None:
    dates = [hour(i) for i in range(50)]
    runs = {d: (f"r{i}", "running") for i, d in enumerate(dates)}
    done = {d: (rid, "success") for d, (rid, _) in runs.items()}
    calls = mq.merged_calls(dates)
    answers = [ask(runs if j < len(calls) - 1 else done, c) for j, c in enumerate(calls)]
    by_date = mq.split_answers(dates, answers)
    assert by_date is not None
    last = set(calls[-1])
    for d in dates:
        assert by_date[d] == {runs[d][0]: {"t": "success" if d in last else "running"}}


def test_groups_cover_every_question_once_and_stay_within_the_limit() -> None:
    questions = [(f"task_{i % 3}", tuple(hour(7 * i + h) for h in range(24))) for i in range(200)]
    groups = mq.group_questions(questions, max_dates=300)
    assert sorted(i for g in groups for i in g) == list(range(200))
    assert all(len({d for i in g for d in questions[i][1]}) <= 300 for g in groups) and len(groups) > 1


def test_a_task_and_a_mapped_task_whose_answer_keys_could_clash_are_never_grouped() -> None:
    questions = [("load", (hour(0),)), ("load_1", (hour(0),)), ("load_x", (hour(0),)), ("other", (hour(0),))]
    groups = mq.group_questions(questions)
    assert not any({0, 1} <= set(g) for g in groups) and sorted(i for g in groups for i in g) == [0, 1, 2, 3]
    by_date = {hour(0): {"r": {"load_0": "success", "load_1": "failed", "load_x": "running", "other": None}}}
    assert mq.answer_for(("load", [hour(0)]), by_date) == {"r": {"load_0": "success", "load_1": "failed"}}
    assert mq.answer_for(("other", [hour(0)]), by_date) == {"r": {"other": None}}


def test_answers_in_the_wrong_number_are_refused_loudly() -> None:
    with pytest.raises(ValueError, match="answers for"):
        mq.split_answers([hour(0), hour(1), hour(2)], [{}])
