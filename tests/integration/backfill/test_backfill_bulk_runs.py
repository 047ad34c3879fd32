"""The batched materialization (``airflow_mesh/backfill/bulk_runs.py``) against Airflow's own per-run code,
column by column, on the real metadata DB.

For one DAG of this module (``mesh_bulk_equivalence``, own bundle with a bundle version, a task with retries
and a queue, a literal-mapped task, an ``upstream`` weight rule), runs created by Airflow's
``SerializedDAG.create_dagrun`` and by ``create_runs`` must give the same ``dag_run`` and ``task_instance``
rows; runs cleared by Airflow's ``clear_task_instances`` and by ``clear_finished`` the same run, task
instance, ``task_instance_history`` and ``task_reschedule`` rows. Every column of those tables is compared
(so a column Airflow adds later is compared too), except ids, values derived from the run's date, and
timestamps/trace carriers, which are compared for shape (both set or both empty, same keys).
Dates March-April 2025 belong to this module.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from airflow_mesh.core.intervals import UTC

pytestmark = pytest.mark.usefixtures("airflow_db")

DAG_ID = "mesh_bulk_equivalence"
BUNDLE = "mesh-bulk-test"
BUNDLE_VERSION = "bulk-v1"
USER = "erin"
# Derived from the run's date or generated: compared for shape only (set or empty, same keys).
RUN_SHAPE = {"id", "run_id", "logical_date", "data_interval_start", "data_interval_end", "run_after", "queued_at",
             "created_at", "updated_at", "context_carrier"}
TI_SHAPE = {"id", "run_id", "updated_at", "context_carrier"}
# A try recorded for an unfinished task instance is stamped "now" by TaskInstanceHistory.record_ti.
CLEARED_TI_SHAPE = TI_SHAPE | {"end_date", "duration"}
HISTORY_SHAPE = {"task_instance_id", "run_id", "updated_at", "context_carrier", "end_date", "duration"}


def d(*a: int) -> datetime:
    return datetime(*a, tzinfo=UTC)


@pytest.fixture(scope="module")
def dag() -> Any:
    """The module's DAG, written to the metadata DB as the DAG processor writes it, in its own bundle."""
    from airflow.dag_processing.collection import update_dag_parsing_results_in_db
    from airflow.models.dagbundle import DagBundleModel
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG, task
    from airflow.serialization.serialized_objects import LazyDeserializedDAG
    from airflow.utils.session import create_session

    from airflow_mesh.backfill.dag_runs import serialized_dag

    with DAG(DAG_ID, schedule="@daily", start_date=d(2025, 1, 1), catchup=False) as sdk_dag:
        extract = EmptyOperator(task_id="extract", retries=2, priority_weight=5, queue="ingest")

        @task(retries=1)
        def fan(x: int) -> int:
            return x

        load = EmptyOperator(task_id="load", weight_rule="upstream", pool_slots=1)
        extract >> fan.expand(x=[1, 2, 3]) >> load
    with create_session() as s:
        if s.get(DagBundleModel, BUNDLE) is None:
            s.add(DagBundleModel(name=BUNDLE))
            s.flush()
        update_dag_parsing_results_in_db(BUNDLE, BUNDLE_VERSION, [LazyDeserializedDAG.from_dag(sdk_dag)], {}, None,
                                         set(), session=s)
    with create_session() as s:
        return serialized_dag(DAG_ID, s)


@pytest.fixture(scope="module")
def backfill_id(dag: Any) -> int:
    """A (completed) native backfill the runs belong to, as a mesh job's runs do."""
    from airflow.models.backfill import Backfill
    from airflow.utils.session import create_session

    with create_session() as s:
        row = Backfill(dag_id=DAG_ID, from_date=d(2025, 3, 1), to_date=d(2025, 4, 30), dag_run_conf={},
                       max_active_runs=2, completed_at=d(2025, 5, 1))
        s.add(row)
        s.flush()
        return row.id


def infos(dag: Any, first: datetime, last: datetime) -> list:
    return [i for i in dag.iter_dagrun_infos_between(first, last) if i.logical_date is not None]


def airflow_create(session, dag: Any, info: Any, backfill_id: int) -> Any:
    """What ``materialize._apply_chunk`` called before batching: Airflow's own ``create_dagrun``."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType

    return dag.create_dagrun(
        run_id=DagRun.generate_run_id(run_type=DagRunType.BACKFILL_JOB, logical_date=info.logical_date,
                                      run_after=info.run_after),
        logical_date=info.logical_date, data_interval=info.data_interval, run_after=info.run_after, conf={},
        run_type=DagRunType.BACKFILL_JOB, triggered_by=DagRunTriggeredByType.BACKFILL, triggering_user_name=USER,
        state=DagRunState.QUEUED, backfill_id=backfill_id, session=session)


def run_row(session, logical_date: datetime) -> dict:
    from airflow.models.dagrun import DagRun

    table = DagRun.__table__
    return dict(session.execute(select(table).where(table.c.dag_id == DAG_ID, table.c.logical_date == logical_date))
                .mappings().one())


def ti_rows(session, run_id: str) -> dict[tuple, dict]:
    from airflow.models.taskinstance import TaskInstance as TI

    table = TI.__table__
    rows = session.execute(select(table).where(table.c.dag_id == DAG_ID, table.c.run_id == run_id)).mappings().all()
    return {(r["task_id"], r["map_index"]): dict(r) for r in rows}


def history_rows(session, run_id: str) -> dict[tuple, dict]:
    from airflow.models.taskinstancehistory import TaskInstanceHistory as TIH

    table = TIH.__table__
    rows = session.execute(select(table).where(table.c.dag_id == DAG_ID, table.c.run_id == run_id)).mappings().all()
    return {(r["task_id"], r["map_index"], r["try_number"]): dict(r) for r in rows}


def assert_same(airflow: dict, ours: dict, shape: set[str], what: str) -> None:
    """Every column equal, except ``shape`` columns: both empty or both set (dicts: same keys)."""
    assert airflow.keys() == ours.keys(), what
    for column in airflow:
        a, b = airflow[column], ours[column]
        if column in shape:
            assert (a is None) == (b is None), f"{what}: {column} is {a!r} in Airflow's row, {b!r} in ours"
            if isinstance(a, dict):
                assert a.keys() == b.keys(), f"{what}: {column} keys {sorted(a)} in Airflow's row, {sorted(b)} in ours"
        else:
            assert a == b, f"{what}: {column} is {a!r} in Airflow's row, {b!r} in ours"


def assert_same_rows(airflow: dict[tuple, dict], ours: dict[tuple, dict], shape: set[str], what: str) -> None:
    assert sorted(airflow) == sorted(ours), what
    for key in airflow:
        assert_same(airflow[key], ours[key], shape, f"{what} {key}")


def test_created_runs_and_task_instances_are_the_rows_create_dagrun_writes(dag: Any, backfill_id: int) -> None:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.types import DagRunType

    from airflow_mesh.backfill.bulk_runs import create_runs

    first, *batch = infos(dag, d(2025, 3, 3), d(2025, 3, 6))
    assert len(batch) == 3
    with create_session() as s:
        reference = airflow_create(s, dag, first, backfill_id)
        ids = create_runs(s, dag, batch, backfill_id=backfill_id, user=USER)
        assert ids == [s.scalar(select(DagRun.id).where(DagRun.dag_id == DAG_ID, DagRun.logical_date == i.logical_date))
                       for i in batch]   # in the order of the infos
    with create_session() as s:
        theirs = run_row(s, first.logical_date)
        their_tis = ti_rows(s, reference.run_id)
        assert theirs["bundle_version"] == BUNDLE_VERSION and theirs["created_dag_version_id"] is not None
        assert sorted(their_tis) == [("extract", -1), ("fan", 0), ("fan", 1), ("fan", 2), ("load", -1)]
        for info in batch:
            ours = run_row(s, info.logical_date)
            assert_same(theirs, ours, RUN_SHAPE, f"dag_run {info.logical_date}")
            assert ours["run_id"] == DagRun.generate_run_id(run_type=DagRunType.BACKFILL_JOB,
                                                            logical_date=info.logical_date, run_after=info.run_after)
            assert (ours["data_interval_start"], ours["data_interval_end"]) == tuple(info.data_interval)
            assert ours["run_after"] == info.run_after
            our_tis = ti_rows(s, ours["run_id"])
            assert_same_rows(their_tis, our_tis, TI_SHAPE, f"task_instance of {ours['run_id']}")
            assert {r["run_id"] for r in our_tis.values()} == {ours["run_id"]}
        assert len({r["id"] for r in their_tis.values()} | {ti["id"] for info in batch
                                                             for ti in ti_rows(s, run_row(s, info.logical_date)["run_id"]).values()}) == 20


def seed_finished(session, dag: Any, info: Any) -> str:
    """A finished (failed) scheduled run as the scheduler leaves one: tries made, a reschedule, one try
    already in the history, one task instance never started; returns its run id."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstancehistory import TaskInstanceHistory
    from airflow.models.taskreschedule import TaskReschedule
    from airflow.utils.state import DagRunState, TaskInstanceState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType

    run = dag.create_dagrun(
        run_id=DagRun.generate_run_id(run_type=DagRunType.SCHEDULED, logical_date=info.logical_date,
                                      run_after=info.run_after),
        logical_date=info.logical_date, data_interval=info.data_interval, run_after=info.run_after,
        run_type=DagRunType.SCHEDULED, triggered_by=DagRunTriggeredByType.TIMETABLE, state=DagRunState.RUNNING,
        session=session)
    started, ended = d(2025, 4, 20, 1), d(2025, 4, 20, 2)
    for ti in run.get_task_instances(session=session):
        ti.start_date, ti.end_date, ti.duration = started, ended, 3600.0
        if ti.task_id == "extract":
            ti.state, ti.try_number, ti.hostname, ti.external_executor_id = TaskInstanceState.SUCCESS, 1, "w1", "ext-1"
        elif ti.task_id == "fan":
            ti.state, ti.try_number = TaskInstanceState.FAILED, 2
            ti.next_method, ti.next_kwargs = "resume", {"a": 1}
        else:   # left scheduled, never started: its try is recorded as failed, ended "now" (record_ti)
            ti.state, ti.try_number = TaskInstanceState.SCHEDULED, 0
            ti.start_date = ti.end_date = ti.duration = None
    session.flush()
    tis = {(ti.task_id, ti.map_index): ti for ti in run.get_task_instances(session=session)}
    TaskInstanceHistory.record_ti(tis[("fan", 1)], session=session)   # this try is already recorded
    session.add(TaskReschedule(tis[("extract", -1)].id, started, ended, ended + timedelta(minutes=5)))
    run.state = DagRunState.FAILED
    run.start_date, run.end_date, run.last_scheduling_decision = started, ended, ended
    session.flush()
    return run.run_id


def test_cleared_runs_task_instances_and_history_are_the_rows_clear_task_instances_writes(dag: Any) -> None:
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.models.taskinstance import clear_task_instances
    from airflow.models.taskreschedule import TaskReschedule
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState

    from airflow_mesh.backfill.bulk_runs import clear_finished

    ticks = infos(dag, d(2025, 4, 7), d(2025, 4, 9))
    with create_session() as s:
        run_ids = [seed_finished(s, dag, info) for info in ticks]
    with create_session() as s:
        before = {run_id: ti_rows(s, run_id) for run_id in run_ids}
    theirs_id, *ours_ids = run_ids
    with create_session() as s:
        clear_task_instances(s.scalars(select(TI).where(TI.dag_id == DAG_ID, TI.run_id == theirs_id)).all(), s,
                             dag_run_state=DagRunState.QUEUED)
    with create_session() as s:   # two runs in one batch
        clear_finished(s, s.scalars(select(TI).where(TI.dag_id == DAG_ID, TI.run_id.in_(ours_ids))).all())
    with create_session() as s:
        their_run, their_tis, their_history = (run_row(s, ticks[0].logical_date), ti_rows(s, theirs_id),
                                               history_rows(s, theirs_id))
        assert their_run["state"] == "queued" and their_run["clear_number"] == 1
        assert sorted(their_history) == [("extract", -1, 1), ("fan", 0, 2), ("fan", 1, 2), ("fan", 2, 2),
                                         ("load", -1, 0)]
        for info, run_id in zip(ticks[1:], ours_ids, strict=True):
            assert_same(their_run, run_row(s, info.logical_date), RUN_SHAPE, f"dag_run {run_id}")
            ours = ti_rows(s, run_id)
            assert_same_rows(their_tis, ours, CLEARED_TI_SHAPE, f"task_instance of {run_id}")
            history = history_rows(s, run_id)
            assert_same_rows(their_history, history, HISTORY_SHAPE, f"task_instance_history of {run_id}")
            old = before[run_id]
            for (task_id, map_index, _), row in history.items():   # the history keeps the try's id, the TI a new one
                assert row["task_instance_id"] == old[(task_id, map_index)]["id"]
                assert ours[(task_id, map_index)]["id"] != old[(task_id, map_index)]["id"]
            assert s.scalars(select(TaskReschedule.id).where(
                TaskReschedule.ti_id.in_([r["id"] for r in old.values()]))).all() == []
        for run_id in run_ids:   # Airflow's own reference also cleared what it should have
            assert ti_rows(s, run_id)[("fan", 0)]["max_tries"] == 2 + 1
            assert ti_rows(s, run_id)[("extract", -1)]["max_tries"] == 1 + 2


def test_with_a_task_instance_mutation_hook_runs_are_created_through_airflows_own_path(
        dag: Any, backfill_id: int, monkeypatch) -> None:
    """Airflow passes every new task instance through the hook (and so stops bulk-inserting): so do we."""
    import airflow.models.taskinstance
    import airflow.settings
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    from airflow_mesh.backfill.bulk_runs import create_runs

    def hook(task_instance, dag_run=None) -> None:
        task_instance.queue = "hooked"

    monkeypatch.setattr(airflow.settings, "task_instance_mutation_hook", hook)
    monkeypatch.setattr(airflow.models.taskinstance, "task_instance_mutation_hook", hook)
    batch = infos(dag, d(2025, 4, 14), d(2025, 4, 15))
    with create_session() as s:
        create_runs(s, dag, batch, backfill_id=backfill_id, user=USER)
    with create_session() as s:
        for info in batch:
            run_id = s.scalar(select(DagRun.run_id).where(DagRun.dag_id == DAG_ID, DagRun.logical_date == info.logical_date))
            assert {r["queue"] for r in ti_rows(s, run_id).values()} == {"hooked"}


def test_a_run_with_a_running_task_instance_is_cleared_by_airflows_own_clear(dag: Any) -> None:
    """Airflow marks a running task instance restarting (its process is killed) and leaves the rest of its
    row alone; the batched path sends such a run to ``clear_task_instances`` and clears the others itself."""
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.utils.session import create_session

    from airflow_mesh.backfill.bulk_runs import clear_finished

    ticks = infos(dag, d(2025, 4, 21), d(2025, 4, 22))
    with create_session() as s:
        busy, idle = (seed_finished(s, dag, info) for info in ticks)
        s.execute(TI.__table__.update().where(TI.dag_id == DAG_ID, TI.run_id == busy, TI.task_id == "fan",
                                              TI.map_index == 0).values(state="running"))
    with create_session() as s:
        clear_finished(s, s.scalars(select(TI).where(TI.dag_id == DAG_ID, TI.run_id.in_([busy, idle]))).all())
    with create_session() as s:
        assert {k: r["state"] for k, r in ti_rows(s, busy).items()} == {
            ("extract", -1): None, ("fan", 0): "restarting", ("fan", 1): None, ("fan", 2): None, ("load", -1): None}
        assert {r["state"] for r in ti_rows(s, idle).values()} == {None}
        assert run_row(s, ticks[0].logical_date)["state"] == run_row(s, ticks[1].logical_date)["state"] == "queued"
