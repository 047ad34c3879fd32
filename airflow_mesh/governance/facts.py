"""What a parsed DAG declares about tables: the Airflow side of the ownership rules.

A task writes the mesh tables among its outlets and reads those among its inlets
(``ProduceTableOperator``, ``TableSensor`` and the Spark operator set these from
the registry; any other operator can declare them with
:func:`airflow_mesh.utils.assets.table_asset`).
"""

from __future__ import annotations

from typing import Any, Iterable

from airflow_mesh.core.registry.models import table_of_uri
from airflow_mesh.core.rules import DagFacts, TaskFacts


def _tables(assets: Iterable[Any]) -> tuple[str, ...]:
    names = (table_of_uri(getattr(a, "uri", None)) for a in assets or ())
    return tuple(dict.fromkeys(n for n in names if n))


def dag_facts(dag: Any) -> DagFacts:
    """Extract the facts from an SDK ``DAG`` (or anything with the same attributes)."""
    tasks = tuple(
        TaskFacts(task_id=t.task_id, writes=_tables(t.outlets), reads=_tables(t.inlets))
        for t in dag.tasks)
    return DagFacts(dag_id=dag.dag_id, fileloc=dag.fileloc, tags=tuple(sorted(dag.tags or ())), tasks=tasks)
