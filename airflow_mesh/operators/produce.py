"""A task that writes one partition of a mesh table: the producer side of the contract.

It checks at parse time that it is the table's declared producer, declares the
table's Asset as outlet (lineage), and hands the callable the run's period and
partition, so every (re)run overwrites exactly its own partition (idempotent).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from airflow.sdk import BaseOperator

from airflow_mesh.core.registry import Table
from airflow_mesh.core.rules import producer_error
from airflow_mesh.settings import configured_mesh
from airflow_mesh.utils.assets import table_asset
from airflow_mesh.utils.run_period import table_period


class NotProducerError(ValueError):
    """A task claims to write a table whose contract names another producer."""


def with_table_outlet(table: str, kwargs: dict[str, Any]) -> tuple[Table, dict[str, Any]]:
    """Resolve ``table`` in the registry (unknown: error at parse time) and make its Asset the task's outlet."""
    t = configured_mesh().table(table)
    kwargs.setdefault("outlets", [table_asset(t)])
    return t, kwargs


def check_producer(op: BaseOperator, t: Table) -> None:
    """A task may write a table only as the producer its contract names (rule 2 of :mod:`airflow_mesh.core.rules`)."""
    if not op.has_dag():
        return
    error = producer_error(op.dag_id, op.task_id, t, file=op.dag.fileloc or "", line=1)
    if error:
        raise NotProducerError(error.explained)


class ProduceTableOperator(BaseOperator):
    """Run ``python_callable(table=, period=, partition=, inputs=)`` for this run's partition of ``table``.

    ``python_callable`` is required: the package ships no production writer (the example mesh passes
    ``dags/_example/warehouse.py``, which writes local files).
    """

    template_fields = ("table",)
    ui_color = "#fdf1dc"

    def __init__(self, *, table: str, python_callable: Callable[..., Any], **kwargs: Any) -> None:
        if not callable(python_callable):
            raise TypeError(f"ProduceTableOperator(table={table!r}): python_callable must be the function that "
                            f"writes the partition, got {python_callable!r}. Fix: pass your writer, e.g. "
                            "python_callable=write_partition")
        t, kwargs = with_table_outlet(table, kwargs)
        super().__init__(**kwargs)
        check_producer(self, t)
        self.table = t.name
        self.python_callable = python_callable

    def execute(self, context: Any) -> Any:
        t = configured_mesh().table(self.table)
        period, partition = table_period(context, t)
        self.log.info("Writing %s partition %s=%s for period %s", t.name, t.partitioned_by[0] if t.partitioned_by else "-",
                      partition, period)
        return self.python_callable(table=t.name, period=period, partition=partition, inputs=list(t.inputs))
