"""Pause, resume, cancel and retry a whole job; settle its final status when its runs are done.

Every change of the job itself is a :func:`~airflow_mesh.backfill.transitions.transition` (the job row locked
first, checked against the one table); the batches of a cancel or retry lock the job row first too and re-check
its status, so a retry cannot queue runs under a job being cancelled, nor the tick settle a job a retry re-opens.

Every step is a short transaction (runs handled in batches), so no statement of the mesh holds
a row that Airflow's task start needs for long. Where Airflow's own behaviour is wrong for us we
do it ourselves:

* cancel: Airflow's cancel of a backfill can leave its runs queued forever (upstream #72337).
  The mesh fails the job's queued runs (none stays queued) and marks its running and deferred task
  instances failed; waiting task instances are skipped. Airflow then stops them: a running task's
  supervisor gets 409 on its next heartbeat and SIGTERMs it (``on_kill``: a SparkYarnOperator kills
  its YARN application); the triggerer running a deferred task's trigger cancels it as a user action
  (the trigger's ``on_kill`` kills the application). Because a deferred trigger no live triggerer runs
  at that moment gets no ``on_kill`` at all, the cancel also kills the stopped tasks' live YARN
  applications itself, by tag (:mod:`airflow_mesh.backfill.spark_apps`).
* retry: only the job's failed/upstream-failed task instances of the planned tasks are cleared,
  never whole runs (Airflow's clear of a run clears every task).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update

from airflow_mesh.backfill.jobs import JobConflict, get_job, now
from airflow_mesh.backfill.models import JobStatus, job
from airflow_mesh.backfill.spark_apps import SparkTarget, kill_applications, recorded_targets
from airflow_mesh.backfill.transitions import UNFINISHED_RUN, Action, lock, transition

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

BATCH = 200
LOCKED_RUNS_WAIT_SECONDS = 60
CANCEL_ROUNDS = 5  # batches over the job's unfinished runs before its end is refused (each round re-reads them)


def in_locked_batches(job_id: int, action: str, runs_query, work: Callable[[Session, list], None],
                      begin: Callable[[Session], bool]) -> None:
    """Apply ``work(session, runs)`` once to each run ``runs_query`` selects (``dag_id, run_id`` columns), a batch per
    transaction. Each batch first calls ``begin(session)``, which locks the job row and re-checks its status (False:
    stop here); then it locks its runs as Airflow's scheduler does: ``FOR UPDATE SKIP LOCKED``, dag_run rows before
    their task instances.

    Updating task instances first and their runs after deadlocked against a live scheduler on PostgreSQL
    (it holds a run's row while it updates that run's task instances). Rows a scheduler holds are skipped
    and taken in a later batch once it lets go; if it keeps them for ``LOCKED_RUNS_WAIT_SECONDS``, the action
    stops with a 409 that says to repeat it (every action here is idempotent).
    """
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.sqlalchemy import with_row_locks

    deadline = time.monotonic() + LOCKED_RUNS_WAIT_SECONDS
    query = runs_query.order_by(DagRun.id).limit(BATCH)
    done: set[tuple[str, str]] = set()
    while True:
        with create_session() as session:
            if not begin(session):
                return
            runs = [tuple(r) for r in session.execute(
                with_row_locks(query, session=session, of=DagRun, skip_locked=True)).all()]
            fresh = [r for r in runs if r not in done]
            if fresh:
                work(session, fresh)
                done.update(fresh)
                continue
            if runs:  # every run of this batch was worked on already (e.g. it failed again since): once is enough
                return
            if session.execute(query.limit(1)).first() is None:
                return
        if time.monotonic() > deadline:
            raise JobConflict({"message": f"job #{job_id}: a scheduler held some of its runs for "
                                          f"{LOCKED_RUNS_WAIT_SECONDS} s, so {action} is not complete. Fix: {action} again",
                               "status": "busy"})
        time.sleep(0.2)  # bounded by the deadline: a scheduler loop holds its runs briefly


def _steer(job_id: int, action: Action, reason: str | None = None, **values: Any) -> dict:
    """One transition in its own transaction, then the job as it is."""
    from airflow.utils.session import create_session

    with create_session() as session:
        transition(session, job_id, action, reason=reason, **values)
    return _read(job_id)


def pause(job_id: int, user: str) -> dict:
    """No new run of the job starts, in any of its DAGs (runs already running finish)."""
    return _steer(job_id, Action.PAUSE, f"paused by {user}")


def resume(job_id: int, user: str) -> dict:
    """Unpause a paused job; re-queue an interrupted one for materialization (continues where it stopped)."""
    return _steer(job_id, Action.RESUME, f"resumed by {user}")


def cancel(job_id: int, user: str) -> dict:
    """Stop the job for good: no run of it left queued, running tasks terminated, who cancelled recorded.

    Idempotent: a job left *cancelling* (the process died mid-way) is finished by cancelling again; a cancel
    that finds the job cancelled by a concurrent one answers with it.
    """
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, TaskInstanceState

    reason = f"cancelled by {user}"
    with create_session() as session:
        # waits for a materializer's chunk (it holds this row); that materializer then loses its lease
        backfills = transition(session, job_id, Action.CANCEL, reason=reason, cancelled_by=user).backfill_ids
    running = [TaskInstanceState.RUNNING, TaskInstanceState.DEFERRED, TaskInstanceState.QUEUED,
               TaskInstanceState.UP_FOR_RETRY, TaskInstanceState.UP_FOR_RESCHEDULE, TaskInstanceState.RESTARTING]
    waiting = [TaskInstanceState.SCHEDULED]
    spark: list[SparkTarget] = []

    def fail_batch(session: Session, runs: list) -> None:
        for dag_id in {d for d, _ in runs}:
            ids = [r for d, r in runs if d == dag_id]
            base = (TI.dag_id == dag_id, TI.run_id.in_(ids))
            stopped = session.execute(select(TI.dag_id, TI.task_id, TI.run_id, TI.map_index)
                                      .where(*base, TI.state.in_(running))).all()
            spark.extend(recorded_targets(session, stopped))
            session.execute(update(TI).where(*base, TI.state.in_(running))
                            .values(state=TaskInstanceState.FAILED, end_date=now()))
            session.execute(update(TI).where(*base, (TI.state.in_(waiting)) | TI.state.is_(None))
                            .values(state=TaskInstanceState.SKIPPED))
            session.execute(update(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id.in_(ids))
                            .values(state=DagRunState.FAILED, end_date=now()))

    def still_cancelling(session: Session) -> bool:
        return lock(session, job_id).status is JobStatus.CANCELLING

    for _ in range(CANCEL_ROUNDS):
        in_locked_batches(job_id, "cancel", select(DagRun.dag_id, DagRun.run_id).where(
            DagRun.backfill_id.in_(backfills), DagRun.state.in_(UNFINISHED_RUN)), fail_batch, still_cancelling)
        with create_session() as session:
            if lock(session, job_id).status is not JobStatus.CANCELLING:
                break  # a concurrent cancel ended it
            try:
                transition(session, job_id, Action.CANCELLED, reason=reason)
                break
            except JobConflict:  # a run was queued between our batches and this end: work on it again
                session.rollback()
    else:
        raise JobConflict({"message": f"job #{job_id}: runs kept being queued while it was cancelled. Fix: cancel again",
                           "status": JobStatus.CANCELLING.value})
    kill_applications(spark)  # after the commit: the stopped tasks cannot start or track anything again
    return _read(job_id)


def retry(job_id: int, user: str) -> dict:
    """Re-run only the job's failed and upstream-failed task instances (of its planned tasks).

    Every batch of cleared task instances re-applies the retry in its own transaction (job row locked first):
    a job cancelled meanwhile stops it (409), and one the tick stored failed meanwhile is re-opened.
    """
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.models.taskinstance import clear_task_instances
    from airflow.utils.state import DagRunState

    reason = f"retry of failed tasks by {user}"
    record = _steer(job_id, Action.RETRY, reason)
    failed = ["failed", "upstream_failed"]

    def reopen(session: Session) -> bool:
        transition(session, job_id, Action.RETRY, reason=reason)
        return True

    for d in record["dags"]:
        def clear_batch(session: Session, runs: list, d: dict = d) -> None:
            tis = session.scalars(select(TI).where(TI.dag_id == d["dag_id"], TI.run_id.in_([r for _, r in runs]),
                                                   TI.task_id.in_(d["tasks"]), TI.state.in_(failed))).all()
            clear_task_instances(list(tis), session, dag_run_state=DagRunState.QUEUED)

        has_failed = select(TI.id).where(TI.dag_id == DagRun.dag_id, TI.run_id == DagRun.run_id,
                                         TI.task_id.in_(d["tasks"]), TI.state.in_(failed)).exists()
        in_locked_batches(job_id, "retry", select(DagRun.dag_id, DagRun.run_id).where(
            DagRun.backfill_id == d["backfill_id"], has_failed), clear_batch, reopen)
    return _read(job_id)


def settle(session: Session, job_id: int) -> JobStatus | None:
    """Store the final status of a running/paused job whose runs are all finished (or were deleted).

    Counted from this job's own native backfills only, never from other jobs' runs, with the job row locked
    (a retry's batch cannot queue runs between the count and the change).
    """
    from airflow.models.dagrun import DagRun

    from airflow_mesh.airflow_compat import BackfillDagRun

    state = lock(session, job_id)
    if state.status not in (JobStatus.RUNNING, JobStatus.PAUSED):
        return None
    backfills = state.backfill_ids
    states: dict[str, int] = dict(session.execute(select(DagRun.state, func.count()).where(DagRun.backfill_id.in_(backfills))
                                  .group_by(DagRun.state)).all())
    if any(states.get(s) for s in UNFINISHED_RUN):
        return None
    deleted = session.scalar(select(func.count()).select_from(BackfillDagRun).where(
        BackfillDagRun.backfill_id.in_(backfills), BackfillDagRun.dag_run_id.is_(None),
        BackfillDagRun.exception_reason.is_(None))) or 0
    failed = states.get("failed", 0)
    if failed or deleted:
        reason = "; ".join(x for x in (f"{failed} run(s) failed" if failed else "",
                                       f"{deleted} run(s) were deleted" if deleted else "") if x)
        return transition(session, job_id, Action.FAIL, reason=reason).status
    return transition(session, job_id, Action.SUCCEED).status


def settle_active(limit: int = 50) -> None:
    """The tick's part: settle running and paused jobs, each in its own short transaction."""
    from airflow.utils.session import create_session

    with create_session() as session:
        ids = session.scalars(select(job.c.id).where(job.c.status.in_(
            [JobStatus.RUNNING.value, JobStatus.PAUSED.value])).order_by(job.c.id).limit(limit)).all()
    for job_id in ids:
        with create_session() as session:
            settle(session, job_id)


def _read(job_id: int) -> dict:
    from airflow.utils.session import create_session

    with create_session() as session:
        record = get_job(session, job_id)
    if record is None:
        raise LookupError(f"no mesh backfill job #{job_id}")
    return record


__all__ = ["cancel", "pause", "resume", "retry", "settle", "settle_active"]
