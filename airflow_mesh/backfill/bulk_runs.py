"""Create and clear a chunk of one DAG's backfill runs in a constant number of statements.

Airflow's own paths work one run (creating) or one task instance (clearing) at a time:
``SerializedDAG.create_dagrun`` reads the DAG version, bundle version and log template, inserts the
run, reads its (absent) task instances and inserts them: about 10 statements a run.
``clear_task_instances`` counts, inserts and looks up history per task instance, deletes its
reschedules, updates it, then updates every run and pins its versionless task instances: about 27
statements a run of three tasks. A mesh job materializes thousands of runs, so here the same rows are
written with one statement per *kind* of row for the whole chunk, built by Airflow's own code wherever
it has a function for it:

* runs: Airflow's ``DagRun`` constructor (state, ``queued_at``, ``clear_number``, trace carrier), the
  version, bundle version and log template that ``_create_orm_dagrun`` sets, one ``flush`` (SQLAlchemy
  inserts them as one batch with RETURNING);
* task instances: ``DagRun._get_task_creator`` / ``DagRun._create_tasks``, i.e. ``TaskInstance.insert_mapping``
  with literal mapped tasks expanded as ``verify_integrity`` expands them, then ONE ``bulk_insert_mappings``
  (what ``_create_task_instances`` runs per run) for the whole chunk;
* clearing: ``TaskInstanceHistory(ti, state=...)`` (Airflow's copy of every column), ``refresh_from_task``,
  ``DagRun.set_state``, the trace carriers and the version pinning of ``clear_task_instances``; the
  history rows, reschedule deletes, task instance and run updates each go out as one batch.

Whenever a chunk needs something only Airflow's per-run code does (creating: a ``task_instance_mutation_hook``
is configured, the DAG has deadline alerts; clearing: a run has no version of its own, a task instance is
running), those runs go through Airflow's own ``create_dagrun`` / ``clear_task_instances`` unchanged. The
equivalence with Airflow's paths is tested column by column in
``tests/integration/backfill/test_backfill_bulk_runs.py``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, false, func, or_, select, update

log = logging.getLogger(__name__)

# Ids per IN list: a chunk of a DAG with many tasks can have tens of thousands of task instances, more
# parameters than one statement takes (SQLite: 32,766; PostgreSQL: 65,535).
IN_LIST_SIZE = 10_000


def slices(values: Sequence[Any], size: int = IN_LIST_SIZE) -> list[Sequence[Any]]:
    """``values`` cut into lists short enough for one IN clause."""
    return [values[i:i + size] for i in range(0, len(values), size)]


def mutation_hook_is_noop() -> bool:
    """Airflow bulk-inserts task instances only when no ``task_instance_mutation_hook`` is configured
    (``DagRun.verify_integrity``); with one, each task instance must pass through it, so we do not batch."""
    from airflow.settings import task_instance_mutation_hook

    return bool(getattr(task_instance_mutation_hook, "is_noop", False))


def create_runs(session, dag: Any, infos: Sequence[Any], *, backfill_id: int, user: str) -> list[int]:
    """Create one queued backfill run per ``DagRunInfo`` with its task instances; return the run ids
    (``dag_run.id``), in the order of ``infos``."""
    if not infos:
        return []
    if not mutation_hook_is_noop() or dag.deadline:
        return [_create_one(session, dag, info, backfill_id, user).id for info in infos]
    runs, version_id = _insert_runs(session, dag, infos, backfill_id, user)
    _insert_task_instances(session, dag, runs, version_id)
    return [run.id for run in runs]


def _run_arguments(info: Any, backfill_id: int, user: str) -> dict[str, Any]:
    """The arguments mesh backfill runs are created with, shared by the bulk and the per-run path."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType

    return {
        "run_id": DagRun.generate_run_id(run_type=DagRunType.BACKFILL_JOB, logical_date=info.logical_date,
                                         run_after=info.run_after),
        "logical_date": info.logical_date, "data_interval": info.data_interval, "run_after": info.run_after,
        "conf": {}, "run_type": DagRunType.BACKFILL_JOB, "triggered_by": DagRunTriggeredByType.BACKFILL,
        "triggering_user_name": user, "state": DagRunState.QUEUED, "backfill_id": backfill_id,
    }


def _create_one(session, dag: Any, info: Any, backfill_id: int, user: str) -> Any:
    """Airflow's own path, for chunks the bulk path must not take (see the module docstring)."""
    return dag.create_dagrun(**_run_arguments(info, backfill_id, user), session=session)


def _insert_runs(session, dag: Any, infos: Sequence[Any], backfill_id: int, user: str) -> tuple[list[Any], Any]:
    """The runs as ``_create_orm_dagrun`` builds them, read-once values shared by the chunk, one flush.

    ``create_dagrun``'s argument checks that can fail here are repeated once (run id pattern through the
    ``DagRun.run_id`` validator, params validation of the empty conf); DAG version, bundle version and log
    template are what ``_create_orm_dagrun`` reads for every run, read once since the chunk is one
    transaction."""
    from airflow.exceptions import AirflowException
    from airflow.models.dag import DagModel
    from airflow.models.dag_version import DagVersion
    from airflow.models.dagrun import DagRun
    from airflow.models.tasklog import LogTemplate

    dag.params.deep_merge({}).validate()
    bundle_version = None
    if not dag.disable_bundle_versioning:
        bundle_version = session.scalar(select(DagModel.bundle_version).where(DagModel.dag_id == dag.dag_id))
    dag_version = DagVersion.get_latest_version(dag.dag_id, session=session)
    if not dag_version:
        raise AirflowException(f"Cannot create DagRun for DAG {dag.dag_id} because the dag is not serialized")
    max_log_template_id = session.scalar(select(func.max(LogTemplate.__table__.c.id)))
    runs = []
    for info in infos:
        arguments = _run_arguments(info, backfill_id, user)
        run = DagRun(dag_id=dag.dag_id, bundle_version=bundle_version, creating_job_id=None, start_date=None,
                     partition_key=None, partition_date=None, note=None, **arguments)
        run.log_template_id = int(max_log_template_id) if max_log_template_id is not None else 0
        run.created_dag_version = dag_version
        run.consumed_asset_events = []
        runs.append(run)
    log.info("creating %d dag runs of %s in one batch", len(runs), dag.dag_id)
    session.add_all(runs)
    session.flush()
    for run in runs:
        run.dag = dag
    return runs, dag_version.id


def _insert_task_instances(session, dag: Any, runs: Sequence[Any], dag_version_id: Any) -> None:
    """Every run's task instances exactly as ``verify_integrity`` creates them for a new backfill run,
    inserted with one ``bulk_insert_mappings`` (Airflow's own call, once per chunk instead of per run).

    A new run has no task instances, so ``_check_for_removed_or_restored_tasks`` (a read per run) finds
    none; for ``BACKFILL_JOB`` runs Airflow's task filter keeps every task (no start/end date filter)."""
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.settings import task_instance_mutation_hook
    from airflow.utils.types import DagRunType

    from airflow_mesh.airflow_compat import create_task_instance_mappings, stats

    mappings: list[dict[str, Any]] = []
    counts: list[tuple[Any, dict[str, int]]] = []
    for run in runs:
        assert run.run_type == DagRunType.BACKFILL_JOB
        created: dict[str, int] = defaultdict(int)
        mappings.extend(create_task_instance_mappings(run, dag.task_dict.values(), created, task_instance_mutation_hook,
                                                      dag_version_id, session=session))
        counts.append((run, created))
    session.bulk_insert_mappings(TI.__mapper__, mappings)
    for run, created in counts:
        for task_type, count in created.items():
            stats.incr("task_instance_created", count, tags={**run.stats_tags, "task_type": task_type})
    session.flush()


def clear_finished(session, tis: Sequence[Any]) -> None:
    """What ``clear_task_instances(tis, session, dag_run_state=QUEUED)`` does, batched per chunk.

    ``tis`` are task instances of finished runs (loaded with their run, as ``TaskInstance.dag_run`` is
    joined). Runs that need Airflow's per-run handling (no DAG version of their own: Airflow moves them to
    the latest; a running task instance: Airflow marks it restarting) are handed to ``clear_task_instances``
    itself. A ``task_instance_mutation_hook`` needs no such care here: Airflow applies it on clearing only
    through ``refresh_from_task``, which the batched path calls too."""
    from airflow.models.taskinstance import clear_task_instances
    from airflow.utils.state import DagRunState, TaskInstanceState

    from airflow_mesh.airflow_compat import new_task_run_carrier

    if not tis:
        return
    by_run: dict[str, list[Any]] = defaultdict(list)
    for ti in tis:
        by_run[ti.run_id].append(ti)
    bulk: list[Any] = []
    own: list[Any] = []
    for group in by_run.values():
        run = group[0].dag_run
        simple = (run.created_dag_version_id is not None and run.state in (DagRunState.SUCCESS, DagRunState.FAILED)
                  and all(ti.state != TaskInstanceState.RUNNING for ti in group))
        (bulk if simple else own).extend(group)
    if own:
        clear_task_instances(own, session, dag_run_state=DagRunState.QUEUED)
    if bulk:
        _record_history(session, bulk)
        _reset_task_instances(session, bulk)
        runs = _requeue_runs(session, bulk)
        for ti in bulk:
            ti.context_carrier = new_task_run_carrier(ti.dag_run.context_carrier)
        session.flush()
        _pin_versionless(session, runs)


def _record_history(session, tis: Sequence[Any]) -> None:
    """``prepare_db_for_next_try`` for every task instance: ``TaskInstanceHistory.record_ti`` (one history
    row per try not yet recorded, its human-in-the-loop detail copied), the reschedules deleted, a new id.

    ``record_ti`` asks per task instance whether the try is recorded; here one query answers for the
    chunk. The rows are Airflow's own ``TaskInstanceHistory(ti, state=...)`` objects, inserted in one
    flush; the state and end-date rule is ``record_ti``'s."""
    from airflow.models.hitl import HITLDetail
    from airflow.models.hitl_history import HITLDetailHistory
    from airflow.models.taskinstance import uuid7
    from airflow.models.taskinstancehistory import TaskInstanceHistory as TIH
    from airflow.models.taskreschedule import TaskReschedule
    from airflow.utils.state import State, TaskInstanceState

    from airflow_mesh.airflow_compat import timezone

    dag_id = tis[0].dag_id
    recorded = set(session.execute(select(TIH.task_id, TIH.run_id, TIH.map_index, TIH.try_number).where(
        TIH.dag_id == dag_id, TIH.run_id.in_({ti.run_id for ti in tis}))).tuples().all())
    ids = [ti.id for ti in tis]
    details = {d.ti_id: d for part in slices(ids)
               for d in session.scalars(select(HITLDetail).where(HITLDetail.ti_id.in_(part))).all()}
    rows: list[Any] = []
    for ti in tis:
        if (ti.task_id, ti.run_id, ti.map_index, ti.try_number) in recorded:
            continue
        state = ti.state
        if ti.state not in State.finished:
            state = TaskInstanceState.FAILED
            if ti.end_date is None:
                ti.end_date = timezone.utcnow()
                ti.set_duration()
        rows.append(TIH(ti, state=state))
        if ti.id in details:
            rows.append(HITLDetailHistory(details[ti.id]))
    session.add_all(rows)
    for part in slices(ids):
        session.execute(delete(TaskReschedule).where(TaskReschedule.ti_id.in_(part)))
    session.flush()
    for ti in tis:
        ti.id = uuid7()


def _reset_task_instances(session, tis: Sequence[Any]) -> None:
    """The per-task-instance part of ``clear_task_instances`` for a task that is not running: attributes
    from the task of the run's own DAG version, ``max_tries`` extended by the task's retries, state and
    executor id and deferral cleared, a version for one that has none."""
    from airflow_mesh.airflow_compat import DBDagBag

    bag = DBDagBag(load_op_links=False)
    dags: dict[tuple, Any] = {}
    for ti in tis:
        run = ti.dag_run
        key = (run.bundle_version, run.created_dag_version_id)   # what get_dag_for_run resolves from
        if key not in dags:
            dags[key] = bag.get_dag_for_run(dag_run=run, session=session)
        ti_dag = dags[key]
        if ti_dag is None:
            log.warning("No serialized dag found for dag '%s'", run.dag_id)
        if ti_dag and ti_dag.has_task(ti.task_id):
            task = ti_dag.get_task(ti.task_id)
            ti.refresh_from_task(task, dag_run=run)
            ti.max_tries = ti.try_number + task.retries
        else:
            ti.max_tries = max(ti.max_tries, ti.try_number)
        ti.state = None
        ti.external_executor_id = None
        ti.clear_next_method_args()
        if ti.dag_version_id is None:
            ti.dag_version_id = run.created_dag_version_id


def _requeue_runs(session, tis: Sequence[Any]) -> list[Any]:
    """``clear_task_instances``' run part for finished runs with a version of their own: one more
    ``clear_number``, new ``queued_at`` and trace carrier, state queued through ``DagRun.set_state``,
    start date and last scheduling decision reset; deadlines on ``queued_at`` recalculated (one query
    finds the runs that have any, Airflow's function recalculates them)."""
    from airflow.models.dagrun import dagrun_trace_attributes
    from airflow.models.deadline import Deadline
    from airflow.utils.state import DagRunState

    from airflow_mesh.airflow_compat import (
        TASK_SPAN_DETAIL_LEVEL_KEY,
        new_dagrun_trace_carrier,
        recalculate_dagrun_queued_at_deadlines,
        timezone,
    )

    runs = list({ti.dag_run.id: ti.dag_run for ti in tis}.values())
    with_deadlines = set(session.scalars(select(Deadline.dagrun_id).where(
        Deadline.dagrun_id.in_([r.id for r in runs]), Deadline.missed == false())).all())
    for run in runs:
        run.clear_number += 1
        run.queued_at = timezone.utcnow()
        run.context_carrier = new_dagrun_trace_carrier(
            task_span_detail_level=run.conf.get(TASK_SPAN_DETAIL_LEVEL_KEY) if run.conf else None,
            attributes=dagrun_trace_attributes(run))
        if run.id in with_deadlines:
            recalculate_dagrun_queued_at_deadlines(run, run.queued_at, session)
        run.state = DagRunState.QUEUED
        run.start_date = timezone.utcnow()
        run.last_scheduling_decision = None
        run.start_date = None
    return runs


def _pin_versionless(session, runs: Sequence[Any]) -> None:
    """``_pin_versionless_tis_to_run_version`` for every run, one UPDATE per DAG version instead of per run."""
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.utils.state import State

    by_version: dict[Any, list[str]] = defaultdict(list)
    for run in runs:
        by_version[run.created_dag_version_id].append(run.run_id)
    for version_id, run_ids in by_version.items():
        session.execute(
            update(TI).where(TI.dag_id == runs[0].dag_id, TI.run_id.in_(run_ids), TI.dag_version_id.is_(None),
                             or_(TI.state.is_(None), TI.state.in_(State.unfinished)))
            .values(dag_version_id=version_id).execution_options(synchronize_session="evaluate"))


__all__ = ["clear_finished", "create_runs", "mutation_hook_is_noop"]
