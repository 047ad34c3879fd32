"""Many questions about the tasks of one producer DAG, answered by a few Execution API calls.

Deferred table sensors ask ``GetTaskStates(dag_id, task_ids=[task], logical_dates=D)``. A triggerer's
supervisor answers one request at a time (an HTTP round trip each), so 1,000 sensors waiting for 720
different hours of one producer wait for 720 round trips. One call for the union of their dates (and
tasks) would carry every answer, but the answer is keyed by run id, and a run id does not tell its
logical date (Airflow's own run ids carry ``run_after``; a user may choose any), so it cannot be split.

The dates are told apart instead by **which calls return a run** (non-adaptive group testing). Each
of the m dates gets its own code word: a set of exactly ``w`` of ``k`` calls. Call ``j`` asks for the
dates whose word holds ``j``. Airflow keeps at most one run per ``(dag_id, logical_date)`` (unique
constraint ``dag_run_dag_id_logical_date_key``), so the run at date ``d`` is returned by exactly the
calls of ``d``'s word, and that set of calls names its date. ``(k, w)`` is chosen to cost least: 720
dates take 18 calls of ~120 dates each. Questions about several tasks of one DAG share the calls
(``task_ids`` lists them all); each question keeps its own task's states (:func:`answer_for`).

What a split answer is *not*: one moment. Each date is read by its own calls, so a question's
runs may be read at different moments (run A before a clear, run B after it finished). A merged
answer can say "still waiting"; a verdict that ends a wait must rest on one read (the trigger
confirms it: :meth:`airflow_mesh.triggers.state_reader.SharedStateReader.all_succeeded`).

Runs that change while the calls are answered: a run (or its task instance) created or deleted
between two calls is missing from some calls of its word; it then shows fewer than ``w`` calls, which
is no word, and :func:`split_answers` refuses the split (the caller asks each question alone). A
state that changes between two calls is taken from the highest-numbered call. Not detected: a run deleted and
another with the *same run id* created at another date of the batch within the milliseconds of one
check; Airflow never reuses a run id itself.

Pure: no Airflow import. Used by :mod:`airflow_mesh.triggers.state_reader`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from itertools import combinations
from math import comb

#: ``{run_id: {task_id: state}}``: a ``GetTaskStates`` answer.
States = dict[str, dict[str, str | None]]

#: What one more logical date in a call costs, as a fraction of one call (round trip, auth, session):
#: the in-process Execution API on SQLite took ~7 ms per call and ~0.1 ms per date (bench/sensor_check.py).
DATE_COST = 1 / 64
#: Most distinct dates merged into one set of calls (so no call carries more than coverage.DATES_PER_CALL).
MAX_MERGED_DATES = 1000
_MAX_WEIGHT = 8


@dataclass(frozen=True)
class Code:
    """``words[i]``: the calls (of ``calls``) that ask for the i-th date."""

    calls: int
    words: tuple[frozenset[int], ...]


def _cost(calls: int, dates_sent: int) -> float:
    return calls + dates_sent * DATE_COST


@lru_cache(maxsize=256)
def code_for(m: int) -> Code:
    """The cheapest code for ``m`` dates: ``k`` calls, every word of weight ``w``, ``C(k, w) >= m``.

    Words are spread evenly over all ``C(k, w)`` combinations, so every call carries about
    ``m * w / k`` dates.
    """
    if m < 1:
        raise ValueError("a code needs at least one date")
    best: tuple[float, int, int] | None = None
    for w in range(1, _MAX_WEIGHT + 1):
        k = w
        while comb(k, w) < m:
            k += 1
        cost = _cost(k, m * w)
        if best is None or cost < best[0]:
            best = (cost, k, w)
    assert best is not None
    _, k, w = best
    every = list(combinations(range(k), w))
    step = len(every) / m
    return Code(k, tuple(frozenset(every[int(i * step)]) for i in range(m)))


#: ``(task_id, logical dates)``: what one sensor requirement asks of a producer DAG.
Question = tuple[str, Sequence[datetime]]


def worth_merging(questions: Sequence[Question]) -> bool:
    """Whether one merged set of calls costs less than one call per question (and fits in the limit).

    A merged call asks every task of the group for every date it carries, so each date costs once
    per task.
    """
    union = {d for _, dates in questions for d in dates}
    if len(questions) < 2 or len(union) > MAX_MERGED_DATES:
        return False
    code = code_for(len(union))
    tasks = len({task for task, _ in questions})
    merged = _cost(code.calls, sum(len(w) for w in code.words) * tasks)
    alone = _cost(len(questions), sum(len(dates) for _, dates in questions))
    return merged < alone


def _keys_of(task_id: str, key: str) -> bool:
    """Whether ``key`` of a ``GetTaskStates`` answer is ``task_id``'s: its own, or ``<task_id>_<map_index>``."""
    return key == task_id or (key.startswith(f"{task_id}_") and key[len(task_id) + 1:].isdigit())


def _clash(a: str, b: str) -> bool:
    """Two tasks whose answers could not be told apart in one call (``load_1`` vs mapped ``load``, index 1)."""
    return a != b and (_keys_of(a, b) or _keys_of(b, a))


def group_questions(questions: Sequence[Question], max_dates: int = MAX_MERGED_DATES) -> list[list[int]]:
    """Indexes of ``questions`` (dates non-empty) in groups that can share calls.

    No group holds two tasks whose answers clash (each task goes to the first set of tasks it does
    not clash with), and a group's union of dates stays within ``max_dates``: greedy in order of
    each question's earliest date, so questions about neighbouring periods (which often share
    dates) land together.
    """
    task_sets: list[set[str]] = []
    set_of: dict[str, int] = {}
    for task in sorted({task for task, _ in questions}):
        free = next((i for i, tasks in enumerate(task_sets) if not any(_clash(task, t) for t in tasks)), None)
        if free is None:
            free = len(task_sets)
            task_sets.append(set())
        task_sets[free].add(task)
        set_of[task] = free
    groups: list[list[int]] = []
    for which in range(len(task_sets)):
        mine = sorted((i for i, (task, _) in enumerate(questions) if set_of[task] == which),
                      key=lambda i: min(questions[i][1]))
        union: set[datetime] = set()
        start = len(groups)
        for i in mine:
            grown = union | set(questions[i][1])
            if len(groups) > start and len(grown) <= max_dates:
                groups[-1].append(i)
                union = grown
            else:
                groups.append([i])
                union = set(questions[i][1])
    return groups


def merged_calls(dates: Sequence[datetime]) -> list[list[datetime]]:
    """The dates each call asks for; ``dates`` must be distinct, in the order :func:`split_answers` gets them."""
    code = code_for(len(dates))
    return [[d for d, word in zip(dates, code.words, strict=True) if j in word] for j in range(code.calls)]


def split_answers(dates: Sequence[datetime], answers: Sequence[States]) -> dict[datetime, States] | None:
    """Each date's runs from the answers to :func:`merged_calls`; ``None`` if runs changed during the calls."""
    code = code_for(len(dates))
    if len(answers) != code.calls:
        raise ValueError(f"{len(answers)} answers for {code.calls} calls")
    date_of = dict(zip(code.words, dates, strict=True))
    calls_of: dict[str, set[int]] = {}
    latest: dict[str, dict[str, str | None]] = {}
    for j, answer in enumerate(answers):
        for run_id, tasks in answer.items():
            calls_of.setdefault(run_id, set()).add(j)
            latest[run_id] = tasks
    by_date: dict[datetime, States] = {d: {} for d in dates}
    for run_id, calls in calls_of.items():
        date = date_of.get(frozenset(calls))
        if date is None or by_date[date]:
            return None
        by_date[date][run_id] = latest[run_id]
    return by_date


def answer_for(question: Question, by_date: dict[datetime, States]) -> States:
    """What a call for ``question`` alone (its task, its dates) would have answered."""
    task_id, dates = question
    answer: States = {}
    for d in dates:
        for run_id, tasks in by_date[d].items():
            mine = {key: state for key, state in tasks.items() if _keys_of(task_id, key)}
            if mine:
                answer[run_id] = mine
    return answer
