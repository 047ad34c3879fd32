"""The one table of a job's allowed transitions, and the one function that changes a job.

Every change of a job's status or pause flag (steering, the materializer, the tick that stores final
statuses) goes through :func:`transition`, in the caller's transaction: it locks the job row first
(``SELECT ... FOR UPDATE``; on SQLite an ``UPDATE`` first, which takes the database's write lock), checks the
current status against :data:`TRANSITIONS`, and applies everything the transition implies (status, pause flag,
the native backfills' ``is_paused`` / ``completed_at``, the DAGs the job holds), or raises
:class:`~airflow_mesh.backfill.jobs.JobConflict` (409) naming the current status. Locked first, two
transitions of one job cannot interleave (issue #28: retry during cancel, pause as materialization ends...).

Invariants this keeps, by construction:

* a job that reaches a final status has no queued or running run and no unpaused native backfill, and holds
  no DAG (a final transition with an unfinished run is refused);
* an active job's native backfills are paused exactly when the job is (``is_paused``); a ``paused`` job is
  paused and a ``running`` one is not (a job that would go ``running`` while paused goes ``paused``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from airflow_mesh.backfill.models import FINAL, JobStatus, job, job_dag

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

S = JobStatus
UNFINISHED_RUN = ("queued", "running")


class Action(StrEnum):
    """What may happen to a job: a user's steering, or the materializer's and the tick's own steps."""

    CLAIM = "claim"                  # a materializer takes a queued job (with a lease)
    MATERIALIZED = "materialized"    # every run is created or cleared
    INTERRUPT = "interrupt"          # the materializer's lease expired
    ABANDON = "abandon"              # the plan no longer fits the DAG files: nothing was applied
    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"                # starts a cancel (batches follow)
    CANCELLED = "cancelled"          # ends it, once no run of the job is unfinished
    RETRY = "retry"                  # re-opens the job; each batch of cleared runs re-applies it
    SUCCEED = "succeed"              # the tick: every run succeeded
    FAIL = "fail"                    # the tick: every run finished, some failed or were deleted


ACTIVE = frozenset(s for s in JobStatus if s.active)

TRANSITIONS: Mapping[Action, Mapping[JobStatus, JobStatus]] = {
    Action.CLAIM: {S.QUEUED: S.MATERIALIZING},
    Action.MATERIALIZED: {S.MATERIALIZING: S.RUNNING},
    Action.INTERRUPT: {S.MATERIALIZING: S.INTERRUPTED},
    Action.ABANDON: {S.MATERIALIZING: S.FAILED},
    Action.PAUSE: {S.QUEUED: S.QUEUED, S.MATERIALIZING: S.MATERIALIZING, S.INTERRUPTED: S.INTERRUPTED,
                   S.RUNNING: S.PAUSED},
    Action.RESUME: {S.PAUSED: S.RUNNING, S.INTERRUPTED: S.QUEUED, S.QUEUED: S.QUEUED,
                    S.MATERIALIZING: S.MATERIALIZING, S.RUNNING: S.RUNNING},
    Action.CANCEL: {s: S.CANCELLING for s in ACTIVE},
    Action.CANCELLED: {S.CANCELLING: S.CANCELLED},
    Action.RETRY: {S.FAILED: S.RUNNING, S.RUNNING: S.RUNNING, S.PAUSED: S.PAUSED},
    Action.SUCCEED: {S.RUNNING: S.SUCCEEDED, S.PAUSED: S.SUCCEEDED},
    Action.FAIL: {S.RUNNING: S.FAILED, S.PAUSED: S.FAILED},
}
"""``action -> {current status: next status}``; a status not listed for an action is a 409."""

PAUSES: Mapping[Action, bool] = {Action.PAUSE: True, Action.RESUME: False}
PAST = {Action.PAUSE: "paused", Action.RESUME: "resumed", Action.CANCEL: "cancelled", Action.RETRY: "retried"}


def target(action: Action, current: JobStatus, paused: bool) -> JobStatus | None:
    """The status ``action`` leads to from ``current`` with the pause flag ``paused`` (after the action), or None."""
    to = TRANSITIONS[action].get(current)
    if to is S.RUNNING and paused:
        return S.PAUSED
    return to


@dataclass(frozen=True)
class JobState:
    """A job's row as locked: what transitions decide on."""

    id: int
    status: JobStatus
    is_paused: bool
    lease_owner: str | None
    lease_until: datetime | None
    backfill_ids: tuple[int, ...]
    dag_ids: tuple[str, ...]


def _now() -> datetime:
    from airflow_mesh.backfill.jobs import now

    return now()


def _conflict(detail: dict[str, Any]) -> Exception:
    from airflow_mesh.backfill.jobs import JobConflict

    return JobConflict(detail)


def lock(session: Session, job_id: int) -> JobState:
    """Lock the job's row for this transaction and read it; LookupError if there is no such job.

    PostgreSQL (and any DB with row locks): ``SELECT ... FOR UPDATE``. SQLite has no row locks: an ``UPDATE``
    of the row first takes the database's write lock, so the reads after it see the last committed state.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(job).where(job.c.id == job_id).values(updated_at=job.c.updated_at))
    row = session.execute(select(job.c.status, job.c.is_paused, job.c.lease_owner, job.c.lease_until)
                          .where(job.c.id == job_id).with_for_update()).first()
    if row is None:
        raise LookupError(f"no mesh backfill job #{job_id}")
    parts = session.execute(select(job_dag.c.backfill_id, job_dag.c.dag_id).where(job_dag.c.job_id == job_id)
                            .order_by(job_dag.c.id)).all()
    return JobState(job_id, JobStatus(row.status), bool(row.is_paused), row.lease_owner, row.lease_until,
                    tuple(b for b, _ in parts if b is not None), tuple(d for _, d in parts))


def refusal(state: JobState, action: str, allowed: set[JobStatus] | frozenset[JobStatus]) -> Exception:
    return _conflict({"message": f"job #{state.id} is {state.status.value}: it cannot be {action} "
                                 f"(only a job that is {', '.join(sorted(s.value for s in allowed))})",
                      "status": state.status.value})


def unfinished_runs(session: Session, backfill_ids: tuple[int, ...]) -> int:
    from airflow.models.dagrun import DagRun

    if not backfill_ids:
        return 0
    return session.scalar(select(func.count()).select_from(DagRun).where(
        DagRun.backfill_id.in_(backfill_ids), DagRun.state.in_(UNFINISHED_RUN))) or 0


def transition(session: Session, job_id: int, action: Action, *, reason: str | None = None,
               check: Callable[[JobState], None] | None = None, **values: Any) -> JobState:
    """Lock the job, check ``action`` against :data:`TRANSITIONS` (and ``check``, which may raise), apply it all.

    ``values`` are further columns of the job row to store (a lease, ``cancelled_by``). Returns the state after.
    Raises ``JobConflict`` (409, with the current status) if the table does not allow it, LookupError if the
    job does not exist. The caller owns the transaction (commits or rolls back).
    """
    state = lock(session, job_id)
    paused = PAUSES.get(action, state.is_paused)
    to = target(action, state.status, paused)
    if to is None:
        raise refusal(state, PAST.get(action, action.value), frozenset(TRANSITIONS[action]))
    if check is not None:
        check(state)
    if to in FINAL and (left := unfinished_runs(session, state.backfill_ids)):
        raise _conflict({"message": f"job #{job_id} still has {left} queued or running run(s): it cannot be "
                                    f"{to.value} yet. Fix: repeat the action",
                         "status": state.status.value})
    stamp = _now()
    row: dict[str, Any] = {"status": to.value, "status_reason": reason, "updated_at": stamp, "is_paused": paused}
    if to in FINAL or to in (S.CANCELLING, S.INTERRUPTED) or action is Action.MATERIALIZED:
        row.update(lease_owner=None, lease_until=None)
    row["finished_at"] = stamp if to in FINAL else None
    if action is Action.MATERIALIZED:
        row["materialized_at"] = stamp
    row.update(values)
    session.execute(update(job).where(job.c.id == job_id).values(**row))
    _apply_to_natives(session, state, action, to, paused)
    return JobState(job_id, to, paused, row.get("lease_owner", state.lease_owner),
                    row.get("lease_until", state.lease_until), state.backfill_ids, state.dag_ids)


def _apply_to_natives(session: Session, state: JobState, action: Action, to: JobStatus, paused: bool) -> None:
    """The native backfills and DAGs follow the job: paused with it, completed and released when it ends,
    re-opened (and the DAGs taken again) by a retry."""
    from airflow_mesh.airflow_compat import Backfill

    natives = update(Backfill).where(Backfill.id.in_(state.backfill_ids))
    if to in FINAL:
        session.execute(update(job_dag).where(job_dag.c.job_id == state.id).values(active_dag_id=None))
        session.execute(natives.values(is_paused=True))
        session.execute(natives.where(Backfill.completed_at.is_(None)).values(completed_at=_now()))
        return
    if action is Action.RETRY:
        if state.status in FINAL:
            _retake_dags(session, state)
        session.execute(natives.values(completed_at=None))
    session.execute(natives.values(is_paused=True if to is S.CANCELLING else paused))


def _retake_dags(session: Session, state: JobState) -> None:
    for dag_id in state.dag_ids:
        try:
            with session.begin_nested():
                session.execute(update(job_dag).where(job_dag.c.job_id == state.id, job_dag.c.dag_id == dag_id)
                                .values(active_dag_id=dag_id))
        except IntegrityError as err:
            raise _conflict({"message": f"DAG {dag_id} is held by another active mesh job: wait for it, then retry",
                             "status": state.status.value}) from err
