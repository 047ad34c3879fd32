"""How deferred table sensors in one triggerer ask the Execution API for producer task states.

A triggerer's supervisor answers the requests of all its triggers one at a time, each an HTTP
round trip to the API server, so a thousand sensors cost what their number of *calls* costs.
The reader keeps that number small:

* **Identical questions are asked once**: sensors waiting for the same producer runs (many
  consumers of one table, same period) share one call in flight, and an answer younger than
  ``min(SHARE_SECONDS, poke_interval / 2)``.
* **Different questions about one producer DAG are merged**: questions waiting at the same time
  for the tasks of one ``dag_id`` go out as a few calls that are told apart by which calls
  return a run (:mod:`airflow_mesh.core.merged_questions`): 720 sensors waiting for 720 different
  hours take 18 calls; sensors of three tables of one DAG, same hour, one call. If runs changed
  during those calls, or a call failed, each question is asked alone. Questions queue while their
  DAG's previous calls are answered, so the busier the triggerer, the more each set carries.
* **A merged answer is read over several calls**, so it may mix moments: it is good enough to keep
  waiting, not to end a wait. A sensor whose merged answers say "done" confirms with
  :meth:`SharedStateReader.all_succeeded` (one ``GetTaskStates`` for the union of many sensors'
  dates: one moment); "failed", or a confirmation that does not hold, is re-read alone.
* **No thread per check**: in the triggerer the Task SDK's comms have an async ``asend``; all
  calls are in flight at once on the event loop, at most :data:`MAX_IN_FLIGHT`. Only where the
  comms have no ``asend`` (``dag.test()``'s in-process comms) does a call run in a thread.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Generic, NamedTuple, TypeVar

from asgiref.sync import sync_to_async

from airflow_mesh.core import merged_questions
from airflow_mesh.core.merged_questions import States

#: Longest time an answer is shared with other sensors asking the same question.
SHARE_SECONDS = 5.0
#: Most Execution API requests one triggerer has in flight for table sensors at once.
MAX_IN_FLIGHT = 64

Dates = tuple[datetime, ...]
Question = tuple[str, Dates]  # (task_id, logical dates in UTC)
K = TypeVar("K", bound=Hashable)
Q = TypeVar("Q", bound=Hashable)
R = TypeVar("R")


class Answer(NamedTuple):
    states: States
    merged: bool  # read over several calls: may mix moments (see the module docstring)


def fetch_task_states(dag_id: str, task_id: str, logical_dates: list) -> States:
    """Task SDK call (no DB access): the states of ``task_id`` in the runs at ``logical_dates``."""
    return _fetch_many(dag_id, [task_id], logical_dates)


def _fetch_many(dag_id: str, task_ids: list[str], logical_dates: list) -> States:
    from airflow_mesh.airflow_compat import RuntimeTaskInstance

    return RuntimeTaskInstance.get_task_states(dag_id=dag_id, task_ids=task_ids, logical_dates=logical_dates)


def _async_comms():
    from airflow_mesh.airflow_compat import task_runner

    comms = getattr(task_runner, "SUPERVISOR_COMMS", None)
    return comms if comms is not None and hasattr(comms, "asend") else None


async def _ask(dag_id: str, task_ids: list[str], logical_dates: list[datetime]) -> States:
    """One ``GetTaskStates``: awaited on the supervisor comms when they can (the triggerer), else in a thread."""
    comms = _async_comms()
    if comms is not None:
        from airflow_mesh.airflow_compat import GetTaskStates

        response = await comms.asend(GetTaskStates(dag_id=dag_id, task_ids=task_ids, logical_dates=logical_dates))
        return response.task_states
    # dag.test()'s in-process comms are not thread-safe: one thread, as Airflow's own sync_to_async default.
    return await sync_to_async(_fetch_many)(dag_id, task_ids, logical_dates)


async def _each(calls: Iterable[Awaitable[R]]) -> list[R | Exception]:
    """Every call's result, or the error that call met (one request's error is its own asker's).

    A cancellation is not an error: it propagates.
    """
    results = await asyncio.gather(*calls, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, Exception):
            raise result
    return results  # type: ignore[return-value]  # BaseExceptions that are not Exceptions were raised above


def in_utc(logical_dates: Sequence[datetime]) -> Dates:
    """The dates as UTC instants: two wall times of an autumn fold are two dates, and a naive date is refused."""
    for d in logical_dates:
        if d.tzinfo is None or d.utcoffset() is None:
            raise ValueError(f"logical date {d.isoformat()} has no time zone: give an aware datetime")
    return tuple(d.astimezone(UTC) for d in logical_dates)


class Batches(Generic[K, Q, R]):
    """Requests about one key wait while the key's previous batch is answered, then go together.

    ``answer(key, requests)`` gives each distinct request its result or exception. Nothing hangs:
    an exception in ``answer`` reaches every asker of the batch, and a drain cancelled from outside
    cancels what it would have answered.
    """

    def __init__(self, answer: Callable[[K, list[Q]], Awaitable[dict[Q, R | Exception]]]) -> None:
        self.answer = answer
        self.queued: dict[K, list[tuple[Q, asyncio.Future]]] = {}
        self.drains: dict[K, asyncio.Task] = {}

    async def ask(self, key: K, request: Q) -> R:
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self.queued.setdefault(key, []).append((request, future))
        drain = self.drains.get(key)
        if drain is None or drain.done():
            drain = self.drains[key] = asyncio.create_task(self._drain(key))
            drain.add_done_callback(partial(self._drained, key))
        return await future

    async def _drain(self, key: K) -> None:
        while batch := self.queued.pop(key, []):
            live = [(request, future) for request, future in batch if not future.done()]  # else: asker cancelled
            if not live:
                continue
            try:
                results = await self.answer(key, list(dict.fromkeys(request for request, _ in live)))
            except asyncio.CancelledError:
                for _, future in live:
                    future.cancel()
                raise
            except Exception as err:  # a bug, not an API error (those are per request): every asker gets it
                results = {request: err for request, _ in live}
            for request, future in live:
                if future.done():
                    continue
                result = results.get(request, RuntimeError(f"no answer to {request!r}"))
                if isinstance(result, Exception):
                    future.set_exception(result)
                    future.exception()  # retrieved here; its asker gets it
                else:
                    future.set_result(result)

    def _drained(self, key: K, task: asyncio.Task) -> None:
        if self.drains.get(key) is not task:
            return  # a newer drain answers what is queued
        del self.drains[key]
        if task.cancelled():  # e.g. before its first step: nobody would answer what is queued
            for _, future in self.queued.pop(key, []):
                future.cancel()


class SharedStateReader:
    """Per event loop: bounded concurrency, identical questions shared, different ones merged."""

    def __init__(self) -> None:
        self.gate = asyncio.Semaphore(MAX_IN_FLIGHT)
        self.answers: dict[tuple, tuple[float, asyncio.Future]] = {}
        self.questions: Batches[str, Question, Answer] = Batches(self._answer_questions)
        self.confirmations: Batches[tuple[str, str], Dates, bool] = Batches(self._confirm)
        self.calls = 0
        self.merged = 0  # sets of merged calls whose answers could be split

    def _sweep(self, now: float) -> None:
        if len(self.answers) > 4 * MAX_IN_FLIGHT:
            for key in [k for k, (t, f) in self.answers.items() if f.done() and now - t > SHARE_SECONDS]:
                del self.answers[key]

    async def states(self, dag_id: str, task_id: str, logical_dates: Sequence[datetime], max_age: float,
                     alone: bool = False) -> States:
        """What ``GetTaskStates(dag_id, [task_id], logical_dates)`` answers (see :meth:`read`)."""
        return (await self.read(dag_id, task_id, logical_dates, max_age, alone)).states

    async def read(self, dag_id: str, task_id: str, logical_dates: Sequence[datetime], max_age: float,
                   alone: bool = False) -> Answer:
        """The states of ``task_id`` in the runs at ``logical_dates``, shared if at most ``max_age`` old.

        ``alone``: asked in a call of its own (one moment), never merged with other questions.
        """
        dates = in_utc(logical_dates)
        if not dates:
            return Answer({}, merged=False)  # asking the API with no dates would mean "every run"
        key = (dag_id, task_id, dates, alone)
        while True:
            now = time.monotonic()
            shared = self.answers.get(key)
            if shared is None or (shared[1].done() and now - shared[0] > max_age):
                break
            try:
                return await asyncio.shield(shared[1])
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if shared[1].cancelled() and not (task and task.cancelling()):
                    continue  # the sensor that asked was cancelled, not this one: ask again
                raise
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._sweep(now)
        self.answers[key] = (now, future)
        try:
            if alone:
                result = Answer(await self._call(dag_id, [task_id], dates), merged=False)
            else:
                result = await self.questions.ask(dag_id, (task_id, dates))
        except Exception as err:
            self.answers.pop(key, None)
            future.set_exception(err)
            future.exception()  # retrieved: waiters get it, nobody logs "never retrieved"
            raise
        except BaseException:
            self.answers.pop(key, None)
            future.cancel()
            raise
        self.answers[key] = (time.monotonic(), future)
        future.set_result(result)
        return result

    async def all_succeeded(self, dag_id: str, task_id: str, logical_dates: Sequence[datetime]) -> bool:
        """Whether, at one moment, every date has a run whose ``task_id`` (unmapped) is in ``success``.

        Confirmations for one producer task go together: one ``GetTaskStates`` (one SQL statement)
        over the union of their dates. Airflow keeps one run per date, so as many runs with the
        task's own key in ``success`` as dates (the rule of ``coverage.judge``) means every date
        succeeded at that moment. Else each asks for its own dates. An API error counts as "not
        confirmed": the caller then reads alone, as without merging.
        """
        dates = in_utc(logical_dates)
        if not dates:
            return True
        try:
            return await self.confirmations.ask((dag_id, task_id), dates)
        except Exception:  # noqa: BLE001 - not confirmed; the sensor re-reads alone and meets the error there
            return False

    async def _answer_questions(self, dag_id: str, questions: list[Question]) -> dict[Question, Answer | Exception]:
        groups = merged_questions.group_questions(questions)
        results: dict[Question, Answer | Exception] = {}
        for part in await asyncio.gather(*(self._answer_group(dag_id, [questions[i] for i in g]) for g in groups)):
            results.update(part)
        return results

    async def _answer_group(self, dag_id: str, questions: list[Question]) -> dict[Question, Answer | Exception]:
        if merged_questions.worth_merging(questions):
            dates = sorted({d for _, q in questions for d in q})
            tasks = sorted({task for task, _ in questions})
            try:
                answers = await asyncio.gather(*(self._call(dag_id, tasks, c)
                                                 for c in merged_questions.merged_calls(dates)))
            except Exception:  # noqa: BLE001 - one failed call must not fail every sensor: ask each alone
                answers = None
            by_date = merged_questions.split_answers(dates, answers) if answers is not None else None
            if by_date is not None:
                self.merged += 1
                return {q: Answer(merged_questions.answer_for(q, by_date), merged=True) for q in questions}
        alone = await _each(self._call(dag_id, [task], dates) for task, dates in questions)
        return {question: result if isinstance(result, Exception) else Answer(result, merged=False)
                for question, result in zip(questions, alone, strict=True)}

    async def _confirm(self, producer: tuple[str, str], requests: list[Dates]) -> dict[Dates, bool | Exception]:
        dag_id, task_id = producer

        async def all_done(dates: list[datetime]) -> bool:
            answer = await self._call(dag_id, [task_id], dates)
            return sum(1 for tasks in answer.values() if tasks.get(task_id) == "success") == len(dates)

        results: dict[Dates, bool | Exception] = {}
        for group in merged_questions.group_questions([(task_id, dates) for dates in requests]):
            mine = [requests[i] for i in group]
            if len(mine) > 1:
                try:
                    if await all_done(sorted({d for dates in mine for d in dates})):
                        results.update(dict.fromkeys(mine, True))
                        continue
                except Exception:  # noqa: BLE001, S110 - each asks for its own dates below
                    pass
            results.update(zip(mine, await _each(all_done(list(dates)) for dates in mine), strict=True))
        return results

    async def _call(self, dag_id: str, task_ids: list[str], dates: Sequence[datetime]) -> States:
        async with self.gate:
            self.calls += 1
            return await _ask(dag_id, task_ids, list(dates))


_readers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SharedStateReader] = weakref.WeakKeyDictionary()


def state_reader() -> SharedStateReader:
    """The reader of the running event loop (the triggerer runs one loop for all its triggers)."""
    loop = asyncio.get_running_loop()
    reader = _readers.get(loop)
    if reader is None:
        reader = _readers[loop] = SharedStateReader()
    return reader
