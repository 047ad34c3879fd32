"""Every non-public Airflow API airflow-mesh uses, and only here (the providers' ``common.compat`` idea).

Non-public means: a name with a leading underscore, a module under ``airflow._shared``, a module Airflow
marks ``:meta private:`` (``airflow.models.backfill``), the Task SDK's execution-time internals, and the
dag processor's and serializer's modules. The package pins Airflow 3.3; an upgrade is checked here, where
``tests/unit/test_airflow_compat.py`` fails naming each API whose name, place or signature changed, and a
test keeps every other module off these APIs (docs/deployment.md, "Upgrading Airflow").

Imports are lazy (PEP 562 ``__getattr__``): importing this module imports no Airflow.
"""

from __future__ import annotations

import importlib
from typing import Any

#: name here -> (Airflow module, attribute; None for the module itself)
PRIVATE_APIS: dict[str, tuple[str, str | None]] = {
    # native backfills (models/backfill.py is ":meta private:"): the job's per-DAG Airflow backfills
    "Backfill": ("airflow.models.backfill", "Backfill"),
    "BackfillDagRun": ("airflow.models.backfill", "BackfillDagRun"),
    "ReprocessBehavior": ("airflow.models.backfill", "ReprocessBehavior"),
    "BackfillDagRunExceptionReason": ("airflow.models.backfill", "BackfillDagRunExceptionReason"),
    # what Airflow's own run creation and clearing use, for the batched materialization (backfill/bulk_runs.py)
    "stats": ("airflow._shared.observability.metrics", "stats"),
    "timezone": ("airflow._shared.timezones", "timezone"),
    "new_task_run_carrier": ("airflow._shared.observability.traces", "new_task_run_carrier"),
    "new_dagrun_trace_carrier": ("airflow._shared.observability.traces", "new_dagrun_trace_carrier"),
    "TASK_SPAN_DETAIL_LEVEL_KEY": ("airflow._shared.observability.traces", "TASK_SPAN_DETAIL_LEVEL_KEY"),
    "recalculate_dagrun_queued_at_deadlines": ("airflow.models.taskinstance",
                                               "_recalculate_dagrun_queued_at_deadlines"),
    "DBDagBag": ("airflow.models.dagbag", "DBDagBag"),
    # the Task SDK's side of a trigger's questions (triggers/state_reader.py)
    "RuntimeTaskInstance": ("airflow.sdk.execution_time.task_runner", "RuntimeTaskInstance"),
    "task_runner": ("airflow.sdk.execution_time.task_runner", None),
    "GetTaskStates": ("airflow.sdk.execution_time.comms", "GetTaskStates"),
    # parsing a DAG folder as the dag processor does (governance/check.py) and its core timetable
    "DagBag": ("airflow.dag_processing.dagbag", "DagBag"),
    "coerce_to_core_timetable": ("airflow.serialization.encoders", "coerce_to_core_timetable"),
}


def __getattr__(name: str) -> Any:
    try:
        module, attribute = PRIVATE_APIS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    loaded = importlib.import_module(module)
    return loaded if attribute is None else getattr(loaded, attribute)


def create_task_instance_mappings(run: Any, tasks: Any, created_counts: dict[str, int], mutation_hook: Any,
                                  dag_version_id: Any, *, session: Any) -> list[dict[str, Any]]:
    """The task-instance rows ``DagRun.verify_integrity`` would insert for a new run (Airflow's private
    ``_get_task_creator`` and ``_create_tasks``), counted per task type into ``created_counts``."""
    creator = run._get_task_creator(created_counts, mutation_hook, True, dag_version_id)
    return run._create_tasks(tasks, creator, session=session)
