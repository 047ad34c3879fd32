"""Spark on YARN in cluster mode for mesh tables: team-aware, deferrable, re-attaching, killable.

Built on the Spark provider's ``SparkSubmitHook`` for the spark-submit command line.
What it adds over ``SparkSubmitOperator``:

* **Team defaults** from ``teams/<team>.yaml``: YARN queue, proxy user and Spark conf
  (the task's own arguments win), application name ``team.dag.task.run``.
* **No slot while the job runs**: submits with ``spark.yarn.submit.waitAppCompletion=false``,
  reads the application id, and defers to :class:`YarnApplicationTrigger`, which polls the
  ResourceManager REST API from the triggerer.
* **Re-attach instead of resubmit**: every application carries a YARN tag unique to the
  task instance (dag, task, run, map index; the same for every try). Before submitting, the
  operator asks the RM for applications with that tag; a live one (NEW ... RUNNING) is tracked
  instead of submitting a duplicate. A finished-successful one is reused only with
  ``reuse_succeeded=True`` (a retry normally means someone wants the job run again);
  a failed or killed one is never reused.
* **Kill**: on task kill while submitting (``on_kill``), on a user's mark-failed/clear while
  deferred (trigger ``on_kill``), and on ``execution_timeout`` (the trigger's deadline), via
  ``PUT /ws/v1/cluster/apps/{id}/state``, falling back to ``yarn application -kill``.
* **Writes only its team's table**: ``table=`` must name a table this task produces
  (checked at parse time); its Asset is the outlet; the job gets the table, the run's
  partition value and period as arguments, so a rerun overwrites its own partition.

A master other than ``yarn`` in the Spark connection (e.g. ``local[2]``) runs spark-submit
in the foreground and skips YARN tracking: used by tests and ``make demo``.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import time
from datetime import datetime, timezone
from typing import Any, Sequence

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowTaskTimeout

from airflow_mesh.hooks.yarn_rm import RMClient, RMUnavailable, YarnApp, YarnResourceManagerHook
from airflow_mesh.core.intervals import grid_for, iso, partition_value
from airflow_mesh.operators.produce import check_producer, with_table_outlet
from airflow_mesh.settings import configured_mesh
from airflow_mesh.utils.run_period import run_period
from airflow_mesh.triggers.yarn_trigger import YarnApplicationTrigger

TAG_PREFIX = "airflow-mesh-"


def application_tag(dag_id: str, task_id: str, run_id: str, map_index: int) -> str:
    """The YARN tag of a task instance, the same for all its tries (YARN lowercases tags; hex is safe)."""
    digest = hashlib.sha256(f"{dag_id}\x1f{task_id}\x1f{run_id}\x1f{map_index}".encode()).hexdigest()
    return TAG_PREFIX + digest[:24]


class SparkYarnOperator(BaseOperator):
    """Run a Spark application for this run's partition of ``table`` on YARN in cluster mode.

    :param table: the mesh table the job writes (this task must be its producer).
    :param application: the jar or .py file to submit.
    :param application_args: extra arguments; the operator appends
        ``--table T --partition P --period-start S --period-end E``.
    :param conf: Spark conf; merged over the team's ``spark_conf``.
    :param queue: YARN queue (default: the team's). :param proxy_user: (default: the team's).
    :param spark_conn_id: Spark provider connection (master ``yarn``; ``local[...]`` runs in the foreground).
    :param yarn_conn_id: ``yarn_rm`` connection of the ResourceManager REST API.
    :param poll_interval: seconds between RM polls. :param reuse_succeeded: see re-attach rule above.
    :param deferrable: track in the triggerer (default) or poll on the worker.
    """

    template_fields: Sequence[str] = ("application", "application_args", "conf")
    ui_color = "#fde9d9"

    def __init__(self, *, table: str, application: str, application_args: Sequence[str] = (),
                 conf: dict[str, str] | None = None, queue: str | None = None, proxy_user: str | None = None,
                 spark_conn_id: str = "mesh_spark", yarn_conn_id: str = YarnResourceManagerHook.default_conn_name,
                 py_files: str | None = None, jars: str | None = None, executor_memory: str | None = None,
                 num_executors: int | None = None, poll_interval: float = 30.0, max_backoff: float = 300.0,
                 reuse_succeeded: bool = False, deferrable: bool = True, **kwargs: Any) -> None:
        t, kwargs = with_table_outlet(table, kwargs)
        super().__init__(**kwargs)
        check_producer(self, t)
        team = configured_mesh().team(t.team)
        self.table = t.name
        self.team = team.name
        self.application = application
        self.application_args = list(application_args)
        self.conf = {**team.spark_conf, **(conf or {})}
        self.queue = queue or team.yarn.queue
        self.proxy_user = proxy_user if proxy_user is not None else team.yarn.proxy_user
        self.spark_conn_id = spark_conn_id
        self.yarn_conn_id = yarn_conn_id
        self.py_files, self.jars = py_files, jars
        self.executor_memory, self.num_executors = executor_memory, num_executors
        self.poll_interval, self.max_backoff = poll_interval, max_backoff
        self.reuse_succeeded = reuse_succeeded
        self.deferrable = deferrable
        self._hook = None
        self._app_id: str | None = None

    # --- building the submission -------------------------------------------------------------
    def _job_args(self, context: Any) -> list[str]:
        t = configured_mesh().table(self.table)
        period = run_period(context, t.schedule)
        return [*self.application_args, "--table", t.name, "--partition", partition_value(grid_for(t.schedule), period),
                "--period-start", iso(period.start), "--period-end", iso(period.end)]

    def _make_hook(self, context: Any, tag: str, cluster: bool):
        from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook

        ti = context["ti"]
        conf = dict(self.conf)
        if cluster:
            conf.update({"spark.yarn.submit.waitAppCompletion": "false", "spark.yarn.tags": tag})
        return SparkSubmitHook(
            conf=conf, conn_id=self.spark_conn_id, name=f"{self.team}.{ti.dag_id}.{ti.task_id}.{ti.run_id}",
            proxy_user=self.proxy_user if cluster else None, yarn_queue=self.queue if cluster else None,
            deploy_mode="cluster" if cluster else None, py_files=self.py_files, jars=self.jars,
            executor_memory=self.executor_memory, num_executors=self.num_executors,
            application_args=self._job_args(context))

    @staticmethod
    def _is_yarn(hook) -> bool:
        return str(hook._connection["master"]).startswith("yarn")

    def _rm(self) -> RMClient:
        return YarnResourceManagerHook(self.yarn_conn_id).get_conn()

    # --- running -------------------------------------------------------------------------------
    def execute(self, context: Any) -> str | None:
        ti = context["ti"]
        tag = application_tag(ti.dag_id, ti.task_id, ti.run_id, getattr(ti, "map_index", -1))
        hook = self._make_hook(context, tag, cluster=True)
        if not self._is_yarn(hook):
            return self._run_in_foreground(context, tag)
        rm = self._rm()
        existing = rm.apps_with_tag(tag)
        live = [a for a in existing if a.live]
        if live:
            app = live[0]
            self.log.info("Re-attaching to %s (%s, tag %s) submitted by an earlier try; not submitting again",
                          app.id, app.state, tag)
            return self._track(context, app.id)
        done = [a for a in existing if a.succeeded]
        if done and self.reuse_succeeded:
            self.log.info("%s already finished successfully for this task instance (tag %s); reuse_succeeded=True, "
                          "so not running it again", done[0].id, tag)
            return done[0].id
        for a in existing:
            self.log.info("Earlier application %s of this task instance ended %s/%s; submitting a new one",
                          a.id, a.state, a.final_status)
        self._hook = hook
        hook.submit(self.application)
        app_id = hook._yarn_application_id
        if not app_id:
            raise AirflowException("spark-submit finished but printed no YARN application id; see the log above")
        self.log.info("Submitted %s to queue %s as %s with tag %s", app_id, self.queue, self.proxy_user, tag)
        return self._track(context, app_id)

    def _deadline(self, context: Any) -> str | None:
        if not self.execution_timeout:
            return None
        start = context["ti"].start_date or datetime.now(timezone.utc)
        return (start + self.execution_timeout).isoformat()

    def _track(self, context: Any, app_id: str) -> str:
        self._app_id = app_id
        deadline = self._deadline(context)
        if self.deferrable:
            # The trigger enforces execution_timeout itself (and kills the app), so no defer timeout here.
            self.defer(trigger=YarnApplicationTrigger(app_id=app_id, yarn_conn_id=self.yarn_conn_id,
                                                      poll_interval=self.poll_interval, max_backoff=self.max_backoff,
                                                      deadline=deadline),
                       method_name="execute_complete")
        return self._poll_on_worker(app_id)

    def _poll_on_worker(self, app_id: str) -> str:
        rm, failures = self._rm(), 0
        while True:
            try:
                app = rm.app(app_id)
                failures = 0
            except RMUnavailable as err:
                failures += 1
                self.log.warning("ResourceManager unavailable (%s); retrying", err)
                time.sleep(min(self.max_backoff, self.poll_interval * 2 ** min(failures, 16)))
                continue
            if app.terminal:
                return self._finish(app)
            time.sleep(self.poll_interval)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> str:
        self._app_id = event.get("app_id")
        if event["status"] == "timeout":
            raise AirflowTaskTimeout(
                f"execution_timeout reached; YARN application {event['app_id']} "
                + ("was killed" if event.get("killed") else "could NOT be killed through the RM: kill it by hand"))
        app = YarnApp(id=event["app_id"], state=event["state"], final_status=event["final_status"],
                      diagnostics=event.get("diagnostics", ""), tracking_url=event.get("tracking_url", ""))
        return self._finish(app)

    def _finish(self, app: YarnApp) -> str:
        if app.succeeded:
            self.log.info("YARN application %s finished successfully (%s)", app.id, app.tracking_url)
            return app.id
        raise AirflowException(
            f"YARN application {app.id} ended {app.state}/{app.final_status}. Diagnostics: {app.diagnostics or '-'}. "
            f"Tracking URL: {app.tracking_url or '-'}")

    def _run_in_foreground(self, context: Any, tag: str) -> None:
        hook = self._make_hook(context, tag, cluster=False)
        self._hook = hook
        self.log.info("Spark master %s is not YARN: running spark-submit in the foreground", hook._connection["master"])
        hook.submit(self.application)
        return None

    # --- stopping ------------------------------------------------------------------------------
    def on_kill(self) -> None:
        """Task killed or timed out while submitting/polling on the worker: stop spark-submit and the application."""
        if self._hook is not None and getattr(self._hook, "_submit_sp", None) is not None:
            if self._hook._submit_sp.poll() is None:
                self._hook._submit_sp.kill()
        app_id = self._app_id or (self._hook._yarn_application_id if self._hook is not None else None)
        if app_id:
            kill_application(self._rm(), app_id, self.log)


def kill_application(rm: RMClient, app_id: str, log: Any) -> bool:
    """Kill through the RM REST API; fall back to ``yarn application -kill`` if the RM cannot be reached."""
    try:
        rm.kill(app_id)
        log.info("Killed YARN application %s through the ResourceManager", app_id)
        return True
    except RMUnavailable as err:
        yarn = shutil.which("yarn")
        if yarn is None:
            log.error("Could not kill %s: RM unavailable (%s) and no 'yarn' CLI on PATH", app_id, err)
            return False
        result = subprocess.run([yarn, "application", "-kill", app_id], capture_output=True, text=True, timeout=120)
        log.info("RM unavailable (%s); 'yarn application -kill %s' exited %s", err, app_id, result.returncode)
        return result.returncode == 0
