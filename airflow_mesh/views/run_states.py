"""Latest state of each table's producer task, read from the metadata DB by the API server.

One query for all tables (a window function over task instances of the producer
tasks), so the map costs the same with 16 tables or 500.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import and_, func, select, tuple_


def latest_producer_states(producers: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict]:
    """``{(dag_id, task_id): {"state", "logical_date", "run_id"}}`` of the newest run of each producer."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.utils.session import create_session

    pairs = sorted(set(producers))
    if not pairs:
        return {}
    ranked = (
        select(TI.dag_id, TI.task_id, TI.state, DagRun.logical_date, DagRun.run_id,
               func.row_number().over(partition_by=(TI.dag_id, TI.task_id),
                                      order_by=DagRun.logical_date.desc()).label("rank"))
        .join(DagRun, and_(DagRun.dag_id == TI.dag_id, DagRun.run_id == TI.run_id))
        .where(tuple_(TI.dag_id, TI.task_id).in_(pairs), TI.map_index == -1)
        .subquery())
    with create_session() as session:
        rows = session.execute(select(ranked).where(ranked.c.rank == 1)).all()
    return {(r.dag_id, r.task_id): {"state": r.state, "logical_date": r.logical_date.isoformat() if r.logical_date else None,
                                    "run_id": r.run_id} for r in rows}
