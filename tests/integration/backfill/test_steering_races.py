"""Steering that cannot race (issue #28): every pair of actions on one job, and each action against the
materializer finishing, run at once on real threads, many rounds; after each round the job is in a possible state.

Invariants checked after every round (and after the cleanup cancel):

* a job in a final status has no queued or running run, no unpaused or uncompleted native backfill, holds no DAG;
* an active job holds its DAGs, and its native backfills are paused exactly when the job is; ``paused`` is
  paused and ``running`` is not; no job is left ``cancelling`` or ``materializing`` once every action returned.

Each action may be refused (409): a refusal is a possible answer, an impossible state never is. The
materializer thread of this process idles (only the test acts). Dates in August 2026 of payments_daily belong
to this module.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import pytest
from sqlalchemy import select, update

from airflow_mesh.core.intervals import UTC

pytestmark = pytest.mark.usefixtures("airflow_db", "mesh_jobs", "quiet")
ROUNDS = 6
# A round's second actor starts this long after the first (alternating which is first): offsets that explore
# where one action lands inside the other. Never synchronization: the barrier starts both, any outcome is checked.
OFFSETS = [0.0, 0.005, 0.02, 0.05, 0.1, 0.2]
START, END = datetime(2026, 8, 3, tzinfo=UTC), datetime(2026, 8, 15, tzinfo=UTC)  # 12 daily runs; August 2026 is this module's
FAILED_RUNS = 6  # of them, failed in the set-up: a retry clears them in several batches (BATCH is patched)
NOW = datetime(2026, 11, 1, tzinfo=UTC)
OWNER = "race-materializer"
STEERING = ["pause", "resume", "cancel", "retry", "finish"]


@pytest.fixture(scope="module")
def quiet():
    """No background materializer in this process; materialization, cancels and retries of several batches."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW__MESH__BACKFILL_MATERIALIZER", "false")
        mp.setenv("AIRFLOW__MESH__BACKFILL_CHUNK_RUNS", "2")
        mp.setattr("airflow_mesh.backfill.steering.BATCH", 2)  # cancels and retries in several batches too
        yield


def submit() -> int:
    from airflow_mesh.backfill import jobs
    from airflow_mesh.backfill.request import BackfillRequest
    from airflow_mesh.settings import configured_mesh

    req = BackfillRequest(roots=["payments_daily.build_settlements"], start=START, end=END, downstream=False)
    return jobs.submit(req.plan(configured_mesh(), NOW), req, "racer").id


def backfill_ids(job_id: int) -> list[int]:
    from airflow.utils.session import create_session

    from airflow_mesh.backfill.models import job_dag

    with create_session() as s:
        return list(s.scalars(select(job_dag.c.backfill_id).where(job_dag.c.job_id == job_id)))


def set_runs(job_id: int, state: str, only_unfinished: bool, limit: int | None = None) -> None:
    """What a scheduler would store, run by run (the run's row first, as the scheduler locks it): the job's runs
    (and their task instances) ended in ``state``."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.utils.session import create_session

    with create_session() as s:
        query = select(DagRun.dag_id, DagRun.run_id).where(DagRun.backfill_id.in_(backfill_ids(job_id)))
        if only_unfinished:
            query = query.where(DagRun.state.in_(["queued", "running"]))
        runs = s.execute(query.order_by(DagRun.id).limit(limit)).all()
    for dag_id, run_id in runs:
        with create_session() as s:
            s.execute(update(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id).values(state=state))
            s.execute(update(TI).where(TI.dag_id == dag_id, TI.run_id == run_id).values(state=state))


def running_job() -> int:
    """Materialized, one run failed (a retry has work), the others queued (a finish has work)."""
    from airflow_mesh.backfill.materialize import materialize_next

    job_id = submit()
    assert materialize_next(job_id=job_id) is not None
    set_runs(job_id, "failed", only_unfinished=True, limit=FAILED_RUNS)
    return job_id


def paused_job() -> int:
    from airflow_mesh.backfill import steering

    job_id = running_job()
    steering.pause(job_id, "setup")
    return job_id


def materializing_job() -> int:
    from airflow.utils.session import create_session

    from airflow_mesh.backfill.materialize import claim

    job_id = submit()
    with create_session() as s:
        assert claim(s, OWNER, job_id) == job_id
    return job_id


def action(name: str, job_id: int) -> Callable[[], object]:
    """One actor's call: a steering action, the runs finishing and the tick settling, or the materializer."""
    from airflow.utils.session import create_session

    from airflow_mesh.backfill import steering
    from airflow_mesh.backfill.materialize import materialize

    if name == "finish":
        def finish() -> object:
            set_runs(job_id, "success", only_unfinished=True)
            with create_session() as s:
                return steering.settle(s, job_id)
        return finish
    if name == "materialize":
        return lambda: materialize(job_id, OWNER)
    return lambda: getattr(steering, name)(job_id, f"racer-{name}")


@dataclass
class Outcome:
    name: str
    answer: str  # "ok" or "409"


def race(job_id: int, names: tuple[str, ...], round_: int) -> list[Outcome]:
    """Run the actions at once (a barrier releases them together, one of them ``OFFSETS[round_]`` later); 409s are
    answers, anything else fails."""
    import time

    from airflow_mesh.backfill.jobs import JobConflict

    calls = [action(n, job_id) for n in names]
    barrier = threading.Barrier(len(calls))
    out: list[Outcome | BaseException | None] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            barrier.wait(30)
            if i == 1 - round_ % 2:
                time.sleep(OFFSETS[round_ % len(OFFSETS)])
            calls[i]()
            out[i] = Outcome(names[i], "ok")
        except JobConflict:
            out[i] = Outcome(names[i], "409")
        except BaseException as err:  # reported below, in the test's thread
            out[i] = err

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), f"{names}: an action did not return within 120 s"
    for o in out:
        if isinstance(o, BaseException):
            raise o
    return [o for o in out if isinstance(o, Outcome)]


def check_invariants(job_id: int, context: str, at_rest: bool = True) -> str:
    """Assert the job's state is possible (``at_rest``: no action is under way); return its status."""
    from airflow.models.backfill import Backfill
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    from airflow_mesh.backfill.models import FINAL, JobStatus, job, job_dag

    with create_session() as s:
        status, paused = s.execute(select(job.c.status, job.c.is_paused).where(job.c.id == job_id)).one()
        status = JobStatus(status)
        held = list(s.scalars(select(job_dag.c.active_dag_id).where(job_dag.c.job_id == job_id)))
        natives = s.execute(select(Backfill.is_paused, Backfill.completed_at)
                            .where(Backfill.id.in_(backfill_ids(job_id)))).all()
        unfinished = s.scalar(select(DagRun.id).where(DagRun.backfill_id.in_(backfill_ids(job_id)),
                                                      DagRun.state.in_(["queued", "running"])).limit(1))
    where = f"{context}: job #{job_id} {status.value} (is_paused={paused}, natives={natives}, held={held})"
    assert natives, where
    assert not at_rest or status not in (JobStatus.CANCELLING, JobStatus.MATERIALIZING), where
    if status in FINAL:
        assert unfinished is None, f"{where}: a run is still queued or running"
        assert all(p and c is not None for p, c in natives), f"{where}: a native backfill is not paused and completed"
        assert held == [None] * len(held), f"{where}: still holds a DAG"
    else:
        assert all(h is not None for h in held), f"{where}: an active job released a DAG"
        assert all(bool(p) == bool(paused) for p, _ in natives), f"{where}: natives disagree with is_paused"
        assert status is not JobStatus.PAUSED or paused, where
        assert status is not JobStatus.RUNNING or not paused, where
    return status.value


def play(setup: Callable[[], int], names: tuple[str, ...], round_: int) -> None:
    from airflow_mesh.backfill import steering
    from airflow_mesh.backfill.jobs import JobConflict

    job_id = setup()
    check_invariants(job_id, f"{names} round {round_} set-up", at_rest=False)
    answers = race(job_id, names, round_)
    status = check_invariants(job_id, f"{names} round {round_} ({answers})")
    if status in ("cancelled", "succeeded", "failed"):
        return
    try:  # free the DAG for the next round; the cancel must end in a possible state too
        steering.cancel(job_id, "cleanup")
    except JobConflict as err:
        pytest.fail(f"{names} round {round_}: the cleanup cancel was refused: {err.detail}")
    assert check_invariants(job_id, f"{names} round {round_} after cleanup") == "cancelled"


@pytest.mark.parametrize("names", list(itertools.combinations_with_replacement(STEERING, 2)), ids="-".join)
def test_two_steering_actions_at_once_leave_a_possible_state(names: tuple[str, str]) -> None:
    for round_ in range(ROUNDS):
        play(running_job if round_ % 2 == 0 else paused_job, names, round_)


@pytest.mark.parametrize("name", ["pause", "resume", "cancel", "retry"])
def test_an_action_as_materialization_finishes_leaves_a_possible_state(name: str) -> None:
    for round_ in range(ROUNDS):
        play(materializing_job, ("materialize", name), round_)
