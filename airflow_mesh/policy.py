"""Cluster policy of the mesh, registered through the ``airflow.policy`` entry point.

Applied by Airflow wherever a DAG file is parsed into a DagBag: the dag processor,
workers, ``airflow dags test`` and ``airflow-mesh check``. It

* rejects a DAG that breaks an ownership rule (:mod:`airflow_mesh.core.rules`),
  with every violation in one message, so the DAG fails to import and its file and
  lines show as an import error in the UI;
* applies the owning team's defaults (owner, queue, pool, retries, retry delay) to
  every task that did not set them itself (explicitly or through ``default_args``);
* attaches :class:`~airflow_mesh.notifications.owner.MeshOwnerNotifier` as a failure callback.

``[mesh] enforce`` (``AIRFLOW__MESH__ENFORCE``): ``strict`` (default) rejects;
``warn`` logs the violations and lets the DAG import (for migrating an existing
Airflow); ``off`` disables the ownership rules (defaults and alerts still apply
to DAGs that have a team).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from airflow.exceptions import AirflowClusterPolicyViolation
from airflow.policies import hookimpl

from airflow_mesh.notifications.owner import MeshOwnerNotifier
from airflow_mesh.settings import mesh_setting
from airflow_mesh.core.contract import check_contract
from airflow_mesh.governance.facts import dag_facts, timetable_facts
from airflow_mesh.core.rules import check_dag
from airflow_mesh.settings import configured_mesh
from airflow_mesh.core.registry.models import TaskDefaults

log = logging.getLogger(__name__)


def enforce_mode() -> str:
    value = mesh_setting("enforce", "strict").strip().lower()
    if value not in ("strict", "warn", "off"):
        raise AirflowClusterPolicyViolation(
            f"[mesh] enforce is {value!r}; use strict, warn or off (airflow.cfg or AIRFLOW__MESH__ENFORCE)")
    return value


@hookimpl
def dag_policy(dag: Any) -> None:
    mode = enforce_mode()
    mesh = configured_mesh()
    team, violations = check_dag(mesh, dag_facts(dag))
    violations += check_contract(mesh, timetable_facts(dag))  # its runs give its tables' contracted periods
    if violations and mode != "off":
        text = f"airflow-mesh: DAG {dag.dag_id} breaks {len(violations)} mesh rule(s):\n" + "\n".join(
            f"  {v}" for v in violations)
        if mode == "strict":
            raise AirflowClusterPolicyViolation(text)
        log.warning("%s", text)
    if team is not None:
        for task in dag.tasks:
            apply_team_defaults(task, mesh.team(team).defaults)
            attach_owner_alert(task, team)


def _explicit(task: Any) -> set[str]:
    """Arguments the DAG author set on the task (directly or via default_args)."""
    return set(getattr(task, "_BaseOperator__init_kwargs", {}) or {})


def apply_team_defaults(task: Any, defaults: TaskDefaults) -> None:
    explicit = _explicit(task)
    for name in ("owner", "queue", "pool", "retries"):
        value = getattr(defaults, name)
        if value is not None and name not in explicit:
            setattr(task, name, value)
    if defaults.retry_delay_minutes is not None and "retry_delay" not in explicit:
        task.retry_delay = timedelta(minutes=defaults.retry_delay_minutes)


def attach_owner_alert(task: Any, team: str) -> None:
    callbacks = task.on_failure_callback
    if callbacks is None:
        callbacks = []
    elif not isinstance(callbacks, list):
        callbacks = [callbacks]
    if not any(isinstance(c, MeshOwnerNotifier) for c in callbacks):
        task.on_failure_callback = [*callbacks, MeshOwnerNotifier(team=team)]
