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
  during those calls, each question is asked alone. Questions queue while their DAG's previous
  calls are answered, so the busier the triggerer, the more each set of calls carries.
* **No thread per check**: in the triggerer the Task SDK's comms have an async ``asend``; all
  calls are in flight at once on the event loop, at most :data:`MAX_IN_FLIGHT`. Only where the
  comms have no ``asend`` (``dag.test()``'s in-process comms) does a call run in a thread.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from datetime import datetime

from asgiref.sync import sync_to_async

from airflow_mesh.core import merged_questions
from airflow_mesh.core.merged_questions import States

#: Longest time an answer is shared with other sensors asking the same question.
SHARE_SECONDS = 5.0
#: Most Execution API requests one triggerer has in flight for table sensors at once.
MAX_IN_FLIGHT = 64

Question = tuple[str, tuple[datetime, ...]]  # (task_id, logical dates)


def fetch_task_states(dag_id: str, task_id: str, logical_dates: list) -> States:
    """Task SDK call (no DB access): the states of ``task_id`` in the runs at ``logical_dates``."""
    return _fetch_many(dag_id, [task_id], logical_dates)


def _fetch_many(dag_id: str, task_ids: list[str], logical_dates: list) -> States:
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    return RuntimeTaskInstance.get_task_states(dag_id=dag_id, task_ids=task_ids, logical_dates=logical_dates)


async def _ask(dag_id: str, task_ids: list[str], logical_dates: list[datetime]) -> States:
    """One ``GetTaskStates``: awaited on the supervisor comms when they can (the triggerer), else in a thread."""
    from airflow.sdk.execution_time import task_runner

    comms = getattr(task_runner, "SUPERVISOR_COMMS", None)
    if comms is not None and hasattr(comms, "asend"):
        from airflow.sdk.execution_time.comms import GetTaskStates

        response = await comms.asend(GetTaskStates(dag_id=dag_id, task_ids=task_ids, logical_dates=logical_dates))
        return response.task_states
    # dag.test()'s in-process comms are not thread-safe: one thread, as Airflow's own sync_to_async default.
    return await sync_to_async(_fetch_many)(dag_id, task_ids, logical_dates)


class SharedStateReader:
    """Per event loop: bounded concurrency, identical questions shared, different ones merged."""

    def __init__(self) -> None:
        self.gate = asyncio.Semaphore(MAX_IN_FLIGHT)
        self.answers: dict[tuple, tuple[float, asyncio.Future]] = {}
        self.queued: dict[str, list[tuple[Question, asyncio.Future]]] = {}
        self.drains: dict[str, asyncio.Task] = {}
        self.calls = 0
        self.merged = 0  # sets of merged calls whose answers could be split

    def _sweep(self, now: float) -> None:
        if len(self.answers) > 4 * MAX_IN_FLIGHT:
            for key in [k for k, (t, f) in self.answers.items() if f.done() and now - t > SHARE_SECONDS]:
                del self.answers[key]

    async def states(self, dag_id: str, task_id: str, logical_dates: list[datetime], max_age: float) -> States:
        """The answer to ``GetTaskStates(dag_id, [task_id], logical_dates)``, at most ``max_age`` old if shared."""
        key = (dag_id, task_id, tuple(logical_dates))
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
            result = await self._queue(dag_id, (task_id, key[2]))
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

    async def _queue(self, producer: str, question: Question) -> States:
        """Wait with the other questions about DAG ``producer`` for its next set of calls."""
        answer: asyncio.Future = asyncio.get_running_loop().create_future()
        self.queued.setdefault(producer, []).append((question, answer))
        if producer not in self.drains:
            self.drains[producer] = asyncio.create_task(self._drain(producer))
        return await answer

    async def _drain(self, producer: str) -> None:
        """Answer the questions queued for DAG ``producer``, a batch at a time, until none is left."""
        batch: list[tuple[Question, asyncio.Future]] = []
        try:
            while batch := self.queued.pop(producer, []):
                await self._answer(producer, batch)
        except BaseException:
            for _, answer in batch + self.queued.pop(producer, []):
                answer.cancel()
            raise
        finally:
            del self.drains[producer]

    async def _answer(self, producer: str, batch: list[tuple[Question, asyncio.Future]]) -> None:
        questions = list(dict.fromkeys(q for q, answer in batch if not answer.done()))
        groups = merged_questions.group_questions(questions)
        results: dict[Question, States | Exception] = {}
        for part in await asyncio.gather(*(self._answer_group(producer, [questions[i] for i in g]) for g in groups)):
            results.update(part)
        for question, answer in batch:
            if answer.done():
                continue  # its asker was cancelled
            result = results[question]
            if isinstance(result, Exception):
                answer.set_exception(result)
                answer.exception()  # retrieved here; its asker gets it
            else:
                answer.set_result(result)

    async def _answer_group(self, producer: str, questions: list[Question]) -> dict[Question, States | Exception]:
        if merged_questions.worth_merging(questions):
            dates = sorted({d for _, q in questions for d in q})
            tasks = sorted({task for task, _ in questions})
            try:
                answers = await asyncio.gather(*(self._call(producer, tasks, c)
                                                 for c in merged_questions.merged_calls(dates)))
            except Exception as err:
                return dict.fromkeys(questions, err)
            by_date = merged_questions.split_answers(dates, answers)
            if by_date is not None:
                self.merged += 1
                return {q: merged_questions.answer_for(q, by_date) for q in questions}
        alone = await asyncio.gather(*(self._call(producer, [task], dates) for task, dates in questions),
                                     return_exceptions=True)
        for result in alone:
            if isinstance(result, BaseException) and not isinstance(result, Exception):
                raise result
        return dict(zip(questions, alone, strict=True))  # type: ignore[arg-type]

    async def _call(self, producer: str, task_ids: list[str], dates: list[datetime] | tuple[datetime, ...]) -> States:
        async with self.gate:
            self.calls += 1
            return await _ask(producer, task_ids, list(dates))


_readers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SharedStateReader] = weakref.WeakKeyDictionary()


def state_reader() -> SharedStateReader:
    """The reader of the running event loop (the triggerer runs one loop for all its triggers)."""
    loop = asyncio.get_running_loop()
    reader = _readers.get(loop)
    if reader is None:
        reader = _readers[loop] = SharedStateReader()
    return reader
