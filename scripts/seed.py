"""Run history without waiting for the clock: used by ``make demo`` and by tests.

Runs are created through Airflow's own ``SerializedDAG.create_dagrun`` (the
scheduler's path), at the DAG's real schedule ticks, with their task instances
put in a given state. Idempotent: a logical date that already has a run is left alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from airflow_mesh.core.intervals import as_utc


def sync_dags_to_db() -> list[str]:
    """Parse every configured DAG bundle and write the DAGs to the metadata DB (as the dag processor does)."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db

    manager = DagBundlesManager()
    manager.sync_bundles_to_db()
    dag_ids: list[str] = []
    for bundle in manager.get_all_dag_bundles():
        if not bundle.is_initialized:
            bundle.initialize()
        bag = BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path, bundle_name=bundle.name)
        if bag.import_errors:
            raise RuntimeError(f"DAG import errors: {bag.import_errors}")
        sync_bag_to_db(bag, bundle.name, bundle.version)
        dag_ids.extend(bag.dags)
    return sorted(dag_ids)


def seed_runs(dag_id: str, ticks: Iterable[datetime], state: str = "success",
              task_states: dict[str, str] | None = None, run_type: str = "scheduled",
              run_ids: Iterable[str] | None = None) -> list[str]:
    """Create finished runs of ``dag_id`` at ``ticks``; every task ``state`` unless ``task_states`` says otherwise.

    ``run_ids`` (one per tick) replaces Airflow's generated run ids, as a user triggering by hand may.

    The run's state follows its tasks (failed if any task failed, running if any is
    not finished), as the scheduler would set it. Returns the run ids created.
    """
    from airflow.models.dagrun import DagRun
    from airflow.models.serialized_dag import SerializedDagModel
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, TaskInstanceState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType

    task_states = task_states or {}
    created: list[str] = []
    with create_session() as session:
        dag = SerializedDagModel.get_dag(dag_id, session=session)
        if dag is None:
            raise LookupError(f"DAG {dag_id} is not in the metadata DB: sync the DAGs first")
        existing = {as_utc(d) for (d,) in session.query(DagRun.logical_date).filter(DagRun.dag_id == dag_id)}
        ticks = list(ticks)
        chosen = list(run_ids) if run_ids is not None else [None] * len(ticks)
        for tick, chosen_id in zip(ticks, chosen, strict=True):
            tick = as_utc(tick)
            if tick in existing:
                continue
            rtype = DagRunType(run_type)
            dr = dag.create_dagrun(
                run_id=chosen_id or DagRun.generate_run_id(run_type=rtype, logical_date=tick, run_after=tick),
                logical_date=tick, data_interval=(tick, tick), run_after=tick, run_type=rtype,
                triggered_by=DagRunTriggeredByType.TIMETABLE, state=DagRunState.RUNNING, session=session)
            states = []
            for ti in dr.get_task_instances(session=session):
                ti.state = TaskInstanceState(task_states.get(ti.task_id, state))
                ti.try_number = max(ti.try_number, 1)
                ti.start_date = ti.end_date = tick
                states.append(ti.state)
            if any(s in (TaskInstanceState.FAILED, TaskInstanceState.UPSTREAM_FAILED) for s in states):
                dr.state = DagRunState.FAILED
            elif all(s in (TaskInstanceState.SUCCESS, TaskInstanceState.SKIPPED) for s in states):
                dr.state = DagRunState.SUCCESS
            dr.end_date = tick if dr.state != DagRunState.RUNNING else None
            created.append(dr.run_id)
        session.commit()
    return created
