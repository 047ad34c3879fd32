"""Materialize a job's runs in the background: short transactions, claimed through the DB with a lease.

Any number of API servers (a thread each) and CLIs may run this: a job is claimed by one
``UPDATE ... WHERE status = 'queued'`` that only one of them wins, and every chunk renews the
lease with ``UPDATE ... WHERE lease_owner = me AND status = 'materializing'`` as its first
statement, inside the chunk's own transaction. A materializer that lost its lease (it was too
slow, or the job was cancelled) therefore changes nothing more; one that died leaves a lease
that expires, and the job is then stored *interrupted* with each DAG's cursor saying what was
applied. Resuming continues from the cursors: a run is never created twice (the cursor moves
in the same transaction as the runs, and Airflow's unique (dag_id, logical_date) backs it).

Policy for runs of the plan that already exist:

* queued or running: **skipped**, recorded in ``backfill_dag_run`` with Airflow's own reason
  ``in flight``; never cleared under a running scheduler, never held in a long transaction;
* finished: only the plan's tasks of that DAG are cleared (not the whole run, unlike Airflow's
  backfill), and the run joins the DAG's native backfill; with ``only_failed``, runs whose
  planned tasks all succeeded are skipped (``already exists``).
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from airflow_mesh.backfill.bulk_runs import clear_finished, create_runs
from airflow_mesh.backfill.dag_runs import PlanNotExecutable, serialized_dag
from airflow_mesh.backfill.jobs import JobConflict, get_job, now
from airflow_mesh.backfill.models import JobStatus, job, job_dag
from airflow_mesh.backfill.transitions import Action, JobState, lock, transition
from airflow_mesh.core.intervals import as_utc
from airflow_mesh.settings import setting

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)


def lease_seconds() -> float:
    """``[mesh] backfill_lease_seconds``: a materializer silent for this long has stopped."""
    return setting("backfill_lease_seconds")


def chunk_runs() -> int:
    """``[mesh] backfill_chunk_runs``: runs materialized per transaction (keeps every transaction short)."""
    return setting("backfill_chunk_runs")


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class LostLease(Exception):
    """Another materializer, a cancel or an expiry took the job: stop without changing anything more."""


def sweep_interrupted(session: Session) -> list[int]:
    """Store *interrupted* for jobs whose materializer stopped renewing its lease (each checked under its lock)."""
    ids = session.scalars(select(job.c.id).where(job.c.status == JobStatus.MATERIALIZING.value,
                                                 job.c.lease_until < now())).all()
    out = []
    for job_id in ids:
        done = session.execute(select(job_dag.c.dag_id, job_dag.c.done, job_dag.c.total)
                               .where(job_dag.c.job_id == job_id)).all()
        applied = ", ".join(f"{d} {n}/{t}" for d, n, t in done)
        try:
            with session.begin_nested():
                transition(session, job_id, Action.INTERRUPT, check=_lease_expired,
                           reason=f"materialization stopped (its lease expired); runs applied per DAG: {applied}. "
                                  "Fix: resume (continues where it stopped) or cancel")
        except (JobConflict, _Renewed):
            continue  # renewed, cancelled or taken meanwhile
        out.append(job_id)
    return out


class _Renewed(Exception):
    """The lease was renewed after the sweep read it: not interrupted."""


def _lease_expired(state: JobState) -> None:
    if state.lease_until is None or as_utc(state.lease_until) >= now():
        raise _Renewed(state.id)


def claim(session: Session, owner: str, job_id: int | None = None) -> int | None:
    """Take a queued job (the oldest, or ``job_id``) for materialization; None if there is none to take."""
    query = select(job.c.id).where(job.c.status == JobStatus.QUEUED.value).order_by(job.c.id).limit(5)
    if job_id is not None:
        query = query.where(job.c.id == job_id)
    for candidate in session.scalars(query).all():
        try:
            transition(session, candidate, Action.CLAIM, lease_owner=owner,
                       lease_until=now() + timedelta(seconds=lease_seconds()))
        except JobConflict:  # another materializer, or a cancel, took it first
            session.rollback()
            continue
        session.commit()
        return candidate
    return None


def _owned_by(owner: str) -> Callable[[JobState], None]:
    def check(state: JobState) -> None:
        if state.lease_owner != owner:
            raise LostLease(state.id)
    return check


def _renew(session: Session, job_id: int, owner: str) -> None:
    """First statement of every chunk: locks the job row until the chunk commits (a pause, cancel or resume waits
    for it) and re-checks that the job is still this worker's to materialize."""
    state = lock(session, job_id)
    if state.status is not JobStatus.MATERIALIZING or state.lease_owner != owner:
        raise LostLease(job_id)
    session.execute(update(job).where(job.c.id == job_id).values(
        lease_until=now() + timedelta(seconds=lease_seconds()), updated_at=now()))


def run_infos(dag: Any, dag_id: str, ranges: list[list], total: int, backwards: bool) -> list:
    """The planned runs as Airflow's timetable gives them (data intervals included), in plan order."""
    infos: list = []
    for first, last, count in ranges:
        got = [i for i in dag.iter_dagrun_infos_between(datetime.fromisoformat(first), datetime.fromisoformat(last))
               if i.logical_date is not None]
        if len(got) != count:
            raise PlanNotExecutable(
                f"DAG {dag_id}: its timetable gives {len(got)} runs in [{first}, {last}] but the plan has {count} "
                "(the DAG file's schedule or start_date differs from the registry). Fix: align them, then plan again")
        infos += got
    if len(infos) != total:
        raise PlanNotExecutable(f"DAG {dag_id}: {len(infos)} runs from the timetable, {total} planned")
    return infos[::-1] if backwards else infos


def ordinal_bases(dags: list[dict]) -> dict[str, int]:
    """Each DAG's first ``sort_ordinal`` minus one: one numbering across the whole job, in wave order.

    Airflow's scheduler examines running runs ordered by ``BackfillDagRun.sort_ordinal`` first, a limited
    number per loop (``[scheduler] max_dagruns_per_loop_to_schedule``, ``DagRun.get_running_dag_runs_to_examine``).
    Numbered per DAG from 1, the lowest ordinals of a mesh job are downstream runs whose sensors wait for
    upstream runs: they took every examined slot and the upstream runs were never scheduled (seen live in
    the demo: 4 of 168 hourly runs done after 10 minutes). Numbered in wave order, a run only ever waits
    for runs with lower ordinals, so the runs examined first are the ones that can progress. Within a DAG
    the plan order (oldest first, or newest first with ``run_backwards``) is kept.
    """
    bases, total = {}, 0
    for d in sorted(dags, key=lambda d: (d["wave"], d["dag_id"])):
        bases[d["dag_id"]] = total
        total += d["total"]
    return bases


def materialize(job_id: int, owner: str) -> JobStatus:
    """Apply every remaining chunk of a job this worker has claimed; return the status it leaves."""
    from airflow.utils.session import create_session

    with create_session() as session:
        record = get_job(session, job_id)
    assert record is not None
    request = record["request"]
    backwards, only_failed = bool(request.get("run_backwards")), bool(request.get("only_failed"))
    try:
        with create_session() as session:  # check every DAG before applying anything
            plans = []
            for d in record["dags"]:
                dag = serialized_dag(d["dag_id"], session)
                ranges = json.loads(session.execute(select(job_dag.c.ranges).where(
                    job_dag.c.job_id == job_id, job_dag.c.dag_id == d["dag_id"])).scalar_one())
                plans.append((d, dag, run_infos(dag, d["dag_id"], ranges, d["total"], backwards)))
    except PlanNotExecutable as err:
        with create_session() as session:
            try:
                transition(session, job_id, Action.ABANDON, reason=f"nothing was applied: {err}",
                           check=_owned_by(owner))
            except (JobConflict, LostLease):
                return JobStatus.MATERIALIZING  # cancelled or taken meanwhile: theirs now
        return JobStatus.FAILED
    size = chunk_runs()
    base = ordinal_bases(record["dags"])
    try:
        for d, dag, infos in plans:
            position = d["done"]
            while position < len(infos):
                part = infos[position:position + size]
                with create_session() as session:
                    _renew(session, job_id, owner)
                    counts = _apply_chunk(session, dag, d, part, base[d["dag_id"]] + position, record["user"],
                                          only_failed)
                    position += len(part)
                    session.execute(update(job_dag).where(job_dag.c.job_id == job_id, job_dag.c.dag_id == d["dag_id"])
                                    .values(done=position, created=job_dag.c.created + counts["created"],
                                            cleared=job_dag.c.cleared + counts["cleared"],
                                            skipped=job_dag.c.skipped + counts["skipped"]))
        with create_session() as session:
            try:  # running, or paused if the job was paused meanwhile (the lock orders it with pause/resume)
                return transition(session, job_id, Action.MATERIALIZED, check=_owned_by(owner)).status
            except JobConflict as err:
                raise LostLease(job_id) from err
    except LostLease:
        log.info("mesh backfill job %s: lease lost, stopping", job_id)
        return JobStatus.MATERIALIZING


def _apply_chunk(session, dag: Any, d: dict, infos: list, offset: int, user: str, only_failed: bool) -> dict[str, int]:
    """Create missing runs, clear finished ones (planned tasks only), skip in-flight ones; attach all to the
    DAG's native backfill with ``sort_ordinal`` = ``offset`` + position in this chunk (see :func:`ordinal_bases`).

    Creating and clearing write Airflow's own rows in a few statements per chunk instead of about 10 and 27
    per run (:mod:`airflow_mesh.backfill.bulk_runs`); all of it is this chunk's one transaction."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType

    from airflow_mesh.airflow_compat import (
        Backfill,
        BackfillDagRun,
        BackfillDagRunExceptionReason,
    )

    dag_id, backfill_id, task_ids = d["dag_id"], d["backfill_id"], d["tasks"]
    # Airflow's scheduler marks a backfill complete when none of its runs is unfinished: between chunks, or
    # after an interruption, it may have done so; the job still owns it.
    session.execute(update(Backfill).where(Backfill.id == backfill_id, Backfill.completed_at.is_not(None))
                    .values(completed_at=None))
    dates = [as_utc(i.logical_date) for i in infos]
    existing = {as_utc(r.logical_date): r for r in session.execute(
        select(DagRun.id, DagRun.run_id, DagRun.logical_date, DagRun.state)
        .where(DagRun.dag_id == dag_id, DagRun.logical_date.in_(dates))).all()}
    counts = {"created": 0, "cleared": 0, "skipped": 0}
    links: list[dict] = []
    finished: list = []
    missing: list = []
    for n, info in enumerate(infos, start=offset + 1):
        date = as_utc(info.logical_date)
        have = existing.get(date)
        if have is None:
            missing.append((info, n))
        elif have.state in (DagRunState.QUEUED, DagRunState.RUNNING):
            links.append({"dag_run_id": None, "logical_date": info.logical_date, "sort_ordinal": n,
                          "exception_reason": BackfillDagRunExceptionReason.IN_FLIGHT})
            counts["skipped"] += 1
        else:
            finished.append((have, info, n))
    # one batch for the chunk's new runs and their task instances (bulk_runs.create_runs)
    created = create_runs(session, dag, [info for info, _ in missing], backfill_id=backfill_id, user=user)
    for (info, n), run_id in zip(missing, created, strict=True):
        links.append({"dag_run_id": run_id, "logical_date": info.logical_date, "sort_ordinal": n})
    counts["created"] = len(created)
    if finished:
        run_ids = [h.run_id for h, _, _ in finished]
        tis = session.scalars(select(TI).where(TI.dag_id == dag_id, TI.run_id.in_(run_ids),
                                               TI.task_id.in_(task_ids))).all()
        done_ok = set()
        if only_failed:
            states: dict[str, dict[str, str]] = {}
            for ti in tis:
                states.setdefault(ti.run_id, {})[ti.task_id] = ti.state
            done_ok = {r for r, s in states.items() if len(s) == len(task_ids) and all(v == "success" for v in s.values())}
        clear_finished(session, [ti for ti in tis if ti.run_id not in done_ok])   # clear_task_instances, batched
        cleared = [(h, info, n) for h, info, n in finished if h.run_id not in done_ok]
        if cleared:
            session.execute(update(DagRun).where(DagRun.id.in_([h.id for h, _, _ in cleared])).values(
                backfill_id=backfill_id, run_type=DagRunType.BACKFILL_JOB, triggered_by=DagRunTriggeredByType.BACKFILL))
        for h, info, n in finished:
            if h.run_id in done_ok:
                links.append({"dag_run_id": None, "logical_date": info.logical_date, "sort_ordinal": n,
                              "exception_reason": BackfillDagRunExceptionReason.ALREADY_EXISTS})
                counts["skipped"] += 1
            else:
                links.append({"dag_run_id": h.id, "logical_date": info.logical_date, "sort_ordinal": n})
                counts["cleared"] += 1
    session.execute(BackfillDagRun.__table__.insert(), [
        {"backfill_id": backfill_id, "partition_key": None, "exception_reason": None, **link} for link in links])
    session.flush()
    session.expunge_all()
    return counts


def materialize_next(owner: str | None = None, job_id: int | None = None) -> tuple[int, JobStatus] | None:
    """Sweep stopped materializations, claim one queued job and materialize it (the unit of work of the
    background thread and of ``airflow-mesh backfill materialize``)."""
    from airflow.utils.session import create_session

    owner = owner or worker_name()
    with create_session() as session:
        sweep_interrupted(session)
    with create_session() as session:
        claimed = claim(session, owner, job_id)
    if claimed is None:
        return None
    return claimed, materialize(claimed, owner)


__all__ = ["LostLease", "claim", "materialize", "materialize_next", "sweep_interrupted"]
