"""Kill the YARN applications of task instances a mesh job cancel stopped, from the process that cancels.

Why not only Airflow's path: a cancel marks the job's running and deferred task instances failed,
and Airflow then stops them: the worker's supervisor gets 409 on its next heartbeat and SIGTERMs
the task (``SparkYarnOperator.on_kill`` kills the application); the triggerer running a deferred
task's trigger cancels it as a user action (``YarnApplicationTrigger.on_kill`` kills it). But a
deferred trigger that no live triggerer is running at that moment (its triggerer was SIGKILLed or
OOM-killed within ``[triggerer] triggerer_health_check_threshold``, so no other triggerer adopted it
yet) is deleted by the next triggerer's ``Trigger.clean_unused`` without any ``on_kill``, and a task
whose defer request races the cancel can exit without one (409, no trigger): the application would
run on. So the cancel also kills, best effort, every live application carrying the YARN tag of
a task instance it stopped, through the RM connection the operator recorded in the task state store
before submitting (``YARN_CONN_KEY``). Killing twice is harmless: the RM keeps a finished state.

Runs in the API server (or CLI) process, which has DB access and Airflow's connections; tasks and
triggers have neither DB access nor a part in this.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SparkTarget:
    """A stopped task instance whose applications may still run: its RM connection and YARN tag."""

    conn_id: str
    tag: str
    task: str  # dag_id.task_id run_id, for messages


def recorded_targets(session, tis: Iterable[tuple[str, str, str, int]]) -> list[SparkTarget]:
    """The task instances among ``(dag_id, task_id, run_id, map_index)`` that recorded an RM connection.

    Read through Airflow's configured task state store backend (the metadata DB by default).
    """
    from airflow.state import TaskScope, get_state_backend

    from airflow_mesh.operators.spark_yarn import YARN_CONN_KEY, application_tag

    backend = get_state_backend()
    targets = []
    for dag_id, task_id, run_id, map_index in tis:
        raw = backend.get(TaskScope(dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=map_index),
                          YARN_CONN_KEY, session=session)
        if raw is not None:
            targets.append(SparkTarget(conn_id=str(json.loads(raw)), tag=application_tag(dag_id, task_id, run_id, map_index),
                                       task=f"{dag_id}.{task_id} {run_id}"))
    return targets


def kill_applications(targets: list[SparkTarget]) -> tuple[list[str], list[str]]:
    """Kill every live application of ``targets``; (killed application ids, problems). Never raises:
    the cancel is already stored, and a problem only means Airflow's own path is the one left.

    Bounded: a connection that cannot be resolved or whose RM does not answer is tried once, not once per
    task (the cancel runs inside an API request).
    """
    from airflow_mesh.hooks.yarn_rm import RMClient, YarnResourceManagerHook
    from airflow_mesh.operators.spark_yarn import kill_application

    clients: dict[str, RMClient] = {}
    broken: dict[str, str] = {}
    killed: list[str] = []
    problems: list[str] = []
    for target in targets:
        if target.conn_id in broken:
            problems.append(f"{target.task}: connection {target.conn_id}: {broken[target.conn_id]}")
            continue
        try:
            if target.conn_id not in clients:
                clients[target.conn_id] = YarnResourceManagerHook(target.conn_id).get_conn()
            rm = clients[target.conn_id]
            apps = rm.apps_with_tag(target.tag)
        except Exception as err:  # noqa: BLE001 - any failure (connection missing, RM down) leaves Airflow's path
            broken[target.conn_id] = f"{type(err).__name__}: {err}"
            problems.append(f"{target.task}: connection {target.conn_id}: {broken[target.conn_id]}")
            continue
        for app in (a for a in apps if a.live):
            try:
                done = kill_application(rm, app.id, log)
            except Exception as err:  # noqa: BLE001 - e.g. the yarn CLI fallback timed out
                done, err_text = False, f": {type(err).__name__}: {err}"
            else:
                err_text = ""
            if done:
                killed.append(app.id)
            else:
                problems.append(f"{target.task}: could not kill {app.id}{err_text}")
    for problem in problems:
        log.warning("Cancel could not kill a YARN application itself (Airflow's on_kill path remains): %s", problem)
    return killed, problems
