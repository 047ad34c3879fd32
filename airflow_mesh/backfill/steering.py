"""Pause, resume, cancel and retry a whole job; settle its final status when its runs are done.

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

from sqlalchemy import func, select, update

from airflow_mesh.backfill.jobs import JobConflict, get_job, now, set_status
from airflow_mesh.backfill.materialize import _release_dags
from airflow_mesh.backfill.models import JobStatus, job, job_dag
from airflow_mesh.backfill.spark_apps import SparkTarget, kill_applications, recorded_targets

BATCH = 200
UNFINISHED_RUN = ("queued", "running")
LOCKED_RUNS_WAIT_SECONDS = 60


def in_locked_batches(job_id: int, action: str, runs_query, work) -> None:
    """Apply ``work(session, runs)`` once to each run ``runs_query`` selects (``dag_id, run_id`` columns), a batch per
    transaction, each batch locked as Airflow's scheduler locks runs: ``FOR UPDATE SKIP LOCKED``, dag_run
    rows before their task instances.

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


def _backfill_ids(session, job_id: int) -> list[int]:
    return [b for b in session.scalars(select(job_dag.c.backfill_id).where(job_dag.c.job_id == job_id)) if b]


def _require(record: dict | None, job_id: int, allowed: set[JobStatus], action: str) -> dict:
    if record is None:
        raise LookupError(f"no mesh backfill job #{job_id}")
    if JobStatus(record["status"]) not in allowed:
        raise JobConflict({"message": f"job #{job_id} is {record['status']}: it cannot be {action} "
                                      f"(only a job that is {', '.join(sorted(s.value for s in allowed))})",
                           "status": record["status"]})
    return record


def _set_native_paused(session, job_id: int, paused: bool) -> None:
    from airflow_mesh.airflow_compat import Backfill

    ids = _backfill_ids(session, job_id)
    if ids:
        session.execute(update(Backfill).where(Backfill.id.in_(ids)).values(is_paused=paused))


def pause(job_id: int, user: str) -> dict:
    """No new run of the job starts, in any of its DAGs (runs already running finish)."""
    from airflow.utils.session import create_session

    with create_session() as session:
        record = _require(get_job(session, job_id), job_id,
                          {JobStatus.QUEUED, JobStatus.MATERIALIZING, JobStatus.RUNNING, JobStatus.INTERRUPTED}, "paused")
        _set_native_paused(session, job_id, True)
        session.execute(update(job).where(job.c.id == job_id).values(is_paused=True, updated_at=now()))
        if record["status"] == JobStatus.RUNNING.value:
            set_status(session, job_id, JobStatus.PAUSED, f"paused by {user}", when=[JobStatus.RUNNING.value])
    return _read(job_id)


def resume(job_id: int, user: str) -> dict:
    """Unpause a paused job; re-queue an interrupted one for materialization (continues where it stopped)."""
    from airflow.utils.session import create_session

    with create_session() as session:
        record = _require(get_job(session, job_id), job_id,
                          {JobStatus.PAUSED, JobStatus.INTERRUPTED, JobStatus.QUEUED, JobStatus.MATERIALIZING,
                           JobStatus.RUNNING}, "resumed")
        _set_native_paused(session, job_id, False)
        session.execute(update(job).where(job.c.id == job_id).values(is_paused=False, updated_at=now()))
        if record["status"] == JobStatus.PAUSED.value:
            set_status(session, job_id, JobStatus.RUNNING, None, when=[JobStatus.PAUSED.value])
        elif record["status"] == JobStatus.INTERRUPTED.value:
            set_status(session, job_id, JobStatus.QUEUED, f"resumed by {user}", when=[JobStatus.INTERRUPTED.value])
    return _read(job_id)


def cancel(job_id: int, user: str) -> dict:
    """Stop the job for good: no run of it left queued, running tasks terminated, who cancelled recorded.

    Idempotent: a job left *cancelling* (the process died mid-way) is finished by cancelling again.
    """
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, TaskInstanceState

    with create_session() as session:
        _require(get_job(session, job_id), job_id, {s for s in JobStatus if s.active}, "cancelled")
        # waits for a materializer's chunk (it holds this row); that materializer then loses its lease
        set_status(session, job_id, JobStatus.CANCELLING, f"cancelled by {user}", cancelled_by=user,
                   lease_owner=None, lease_until=None, finished_at=None)
        _set_native_paused(session, job_id, True)  # nothing of the job starts while we work
        backfills = _backfill_ids(session, job_id)
    running = [TaskInstanceState.RUNNING, TaskInstanceState.DEFERRED, TaskInstanceState.QUEUED,
               TaskInstanceState.UP_FOR_RETRY, TaskInstanceState.UP_FOR_RESCHEDULE, TaskInstanceState.RESTARTING]
    waiting = [TaskInstanceState.SCHEDULED]
    spark: list[SparkTarget] = []

    def fail_batch(session, runs: list) -> None:
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

    in_locked_batches(job_id, "cancel", select(DagRun.dag_id, DagRun.run_id).where(
        DagRun.backfill_id.in_(backfills), DagRun.state.in_(UNFINISHED_RUN)), fail_batch)
    with create_session() as session:
        _release_dags(session, job_id)
        set_status(session, job_id, JobStatus.CANCELLED, f"cancelled by {user}", when=[JobStatus.CANCELLING.value])
    kill_applications(spark)  # after the commit: the stopped tasks cannot start or track anything again
    return _read(job_id)


def retry(job_id: int, user: str) -> dict:
    """Re-run only the job's failed and upstream-failed task instances (of its planned tasks)."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.models.taskinstance import clear_task_instances
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, TaskInstanceState

    from airflow_mesh.airflow_compat import Backfill

    with create_session() as session:
        record = _require(get_job(session, job_id), job_id,
                          {JobStatus.FAILED, JobStatus.RUNNING, JobStatus.PAUSED}, "retried")
        # re-take the job's DAGs (refused if another job or backfill took them since)
        for d in record["dags"]:
            if record["status"] == JobStatus.FAILED.value:
                from sqlalchemy.exc import IntegrityError
                try:
                    with session.begin_nested():
                        session.execute(update(job_dag).where(job_dag.c.job_id == job_id,
                                                              job_dag.c.dag_id == d["dag_id"])
                                        .values(active_dag_id=d["dag_id"]))
                except IntegrityError as err:
                    raise JobConflict({"message": f"DAG {d['dag_id']} is held by another active mesh job: "
                                                  "wait for it, then retry"}) from err
        session.execute(update(Backfill).where(Backfill.id.in_(_backfill_ids(session, job_id)))
                        .values(completed_at=None))
        if record["status"] == JobStatus.FAILED.value:
            set_status(session, job_id, JobStatus.PAUSED if record["is_paused"] else JobStatus.RUNNING,
                       f"retry of failed tasks by {user}", when=[JobStatus.FAILED.value], finished_at=None)
    failed = [TaskInstanceState.FAILED, TaskInstanceState.UPSTREAM_FAILED]
    for d in record["dags"]:
        def clear_batch(session, runs: list, d: dict = d) -> None:
            tis = session.scalars(select(TI).where(TI.dag_id == d["dag_id"], TI.run_id.in_([r for _, r in runs]),
                                                   TI.task_id.in_(d["tasks"]), TI.state.in_(failed))).all()
            clear_task_instances(list(tis), session, dag_run_state=DagRunState.QUEUED)

        has_failed = select(TI.id).where(TI.dag_id == DagRun.dag_id, TI.run_id == DagRun.run_id,
                                         TI.task_id.in_(d["tasks"]), TI.state.in_(failed)).exists()
        in_locked_batches(job_id, "retry", select(DagRun.dag_id, DagRun.run_id).where(
            DagRun.backfill_id == d["backfill_id"], has_failed), clear_batch)
    return _read(job_id)


def settle(session, job_id: int) -> JobStatus | None:
    """Store the final status of a running/paused job whose runs are all finished (or were deleted).

    Counted from this job's own native backfills only, never from other jobs' runs.
    """
    from airflow.models.dagrun import DagRun

    from airflow_mesh.airflow_compat import BackfillDagRun

    status = session.scalar(select(job.c.status).where(job.c.id == job_id))
    if status not in (JobStatus.RUNNING.value, JobStatus.PAUSED.value):
        return None
    backfills = _backfill_ids(session, job_id)
    states = dict(session.execute(select(DagRun.state, func.count()).where(DagRun.backfill_id.in_(backfills))
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
        final = JobStatus.FAILED
    else:
        reason, final = None, JobStatus.SUCCEEDED
    if set_status(session, job_id, final, reason, when=[status]):
        _release_dags(session, job_id)
        return final
    return None


def settle_active(session, limit: int = 50) -> None:
    for job_id in session.scalars(select(job.c.id).where(job.c.status.in_(
            [JobStatus.RUNNING.value, JobStatus.PAUSED.value])).order_by(job.c.id).limit(limit)).all():
        settle(session, job_id)


def _read(job_id: int) -> dict:
    from airflow.utils.session import create_session

    with create_session() as session:
        record = get_job(session, job_id)
    assert record is not None  # jobs are never deleted, and every caller found this one first (_require)
    return record
