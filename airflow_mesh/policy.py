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
``warn`` logs the violations and lets the DAG import (the way to adopt the mesh in an
Airflow with existing DAGs: docs/deployment.md); ``off`` disables the ownership rules
(defaults and alerts still apply to DAGs that have a team).

Safe by default: with no ``[mesh] root`` the policy changes nothing and logs one warning
per process, so installing the package into an existing Airflow rejects no DAG. With
``warn`` or ``off``, an invalid registry is logged and DAGs import unchanged; ``strict``
fails the import with the registry's errors.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from airflow.exceptions import AirflowClusterPolicyViolation
from airflow.policies import hookimpl

from airflow_mesh.core.contract import check_contract
from airflow_mesh.core.registry.models import MeshValidationError, TaskDefaults
from airflow_mesh.core.rules import check_dag
from airflow_mesh.governance.facts import dag_facts, timetable_facts
from airflow_mesh.notifications.owner import MeshOwnerNotifier
from airflow_mesh.settings import MeshSettingError, configured_mesh, is_configured
from airflow_mesh.settings import enforce_mode as _enforce_mode

log = logging.getLogger(__name__)
_warned_not_configured = False


def enforce_mode() -> str:
    """``[mesh] enforce``; a mistyped value fails the DAG import naming the setting and its allowed values."""
    try:
        return _enforce_mode()
    except MeshSettingError as err:
        raise AirflowClusterPolicyViolation(str(err)) from None


def _warn_not_configured_once() -> None:
    global _warned_not_configured
    if not _warned_not_configured:
        _warned_not_configured = True
        log.warning("airflow-mesh: no mesh registry is configured ([mesh] root / AIRFLOW__MESH__ROOT), so the "
                    "mesh policy leaves every DAG unchanged. See docs/deployment.md to adopt the mesh.")


@hookimpl
def dag_policy(dag: Any) -> None:
    if not is_configured():
        _warn_not_configured_once()
        return
    mode = enforce_mode()
    try:
        mesh = configured_mesh()
    except MeshValidationError as err:
        if mode == "strict":
            raise
        log.warning("airflow-mesh: the mesh registry is invalid, DAG %s imports unchanged ([mesh] enforce = %s):\n%s",
                    dag.dag_id, mode, err)
        return
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
    """Arguments the DAG author set on the task (directly or via default_args).

    The Task SDK records them only in the name-mangled ``_BaseOperator__init_kwargs`` (Airflow 3.3 has no
    public accessor); without it a team default would overwrite a value the author chose on purpose.
    """
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
