"""Spark on YARN in cluster mode for mesh tables: the Spark provider's operator plus what it lacks.

:class:`SparkYarnOperator` *is* a ``SparkSubmitOperator`` (provider 6.3+) with
``yarn_track_via_rm_api=True``: the provider builds and runs spark-submit, releases the
JVM once YARN accepted the application, and, being a ``ResumableJobMixin``, persists the
application id in the task state store and re-attaches to it on retry (``durable=True``).
The mesh only adds what the provider does not have, each in one method below:

* **Team defaults** from ``teams/<team>.yaml``: YARN queue, proxy user and Spark conf (the
  task's own arguments win); application name ``team.dag.task.run``; the job gets the table,
  the run's partition value and period as arguments, so a rerun overwrites its own partition.
  ``table=`` must name a table this task produces (checked at parse time); its Asset is the outlet.
* **Deferral** (``deferrable=True``; default: Airflow's ``[operators] default_deferrable``, as the providers'
  operators follow it): tracking runs in the triggerer
  (:class:`~airflow_mesh.triggers.yarn_trigger.YarnApplicationTrigger`), holding no worker slot.
  The provider tracks only from the worker (its deferrable PR was closed).
* **The submit→persist gap**: every application carries a YARN tag unique to the task
  instance (the same for every try). Before submitting, :meth:`submit_job` asks the RM for
  applications with that tag, so a worker that died after spark-submit but before the id
  reached the task state store does not cause a duplicate (apache/airflow#17479).
* **Recompute on clear**: a task state store holding a *succeeded* application makes the
  provider return "already succeeded" without running the job (#71356), so a backfill would
  silently skip Spark. Here a succeeded application is reused only with ``reuse_succeeded=True``.
* **Kill at execution_timeout** while deferred (the trigger's deadline), on a user's
  mark-failed/clear (trigger ``on_kill``) and on the worker (:meth:`on_kill`), through the
  RM REST API with HA, falling back to ``yarn application -kill``.
* **RM HA and an RM outage ridden out**: the mesh's RM client (``hooks/yarn_rm.py``) tries
  every RM of ``ha_urls`` and backs off instead of giving up after ten failed polls.
* **What a real RM taught** (docs/spark.md): one YARN attempt per Airflow try
  (``spark.yarn.maxAppAttempts=1``); the queue is checked against the RM's scheduler before spark-submit
  starts; the Spark connection's ``spark_conf_overrides`` win over team and task conf; a failed task raises
  with the tail of the driver's stdout/stderr (``yarn logs``) and the tracking URL.
* ``yarn_queue`` is YARN's, ``queue`` stays Airflow's executor queue (issue #23).

Connections: ``spark_conn_id`` is the provider's Spark connection (master ``yarn``, extra
``deploy-mode: cluster`` and ``yarn_resourcemanager_webapp_address``, which the provider
requires for ``yarn_track_via_rm_api``); ``yarn_conn_id`` is the RM used for tracking, tag
lookup and kill (a ``yarn_rm`` connection with HA URLs/SPNEGO, or the Spark connection itself).
A master other than YARN (e.g. ``local[1]``) runs spark-submit in the foreground: tests and the demo.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk.exceptions import AirflowException, AirflowTaskTimeout

from airflow_mesh.core.intervals import iso
from airflow_mesh.hooks.yarn_logs import driver_log_tail
from airflow_mesh.hooks.yarn_rm import (
    RMAppNotFound,
    RMClient,
    RMUnavailable,
    YarnApp,
    YarnResourceManagerHook,
    backoff_delay,
)
from airflow_mesh.operators.produce import check_producer, with_table_outlet
from airflow_mesh.settings import configured_mesh, default_deferrable
from airflow_mesh.triggers.yarn_trigger import YarnApplicationTrigger
from airflow_mesh.utils.run_period import table_period

TAG_PREFIX = "airflow-mesh-"
# Spark conf under every team's: one YARN attempt per Airflow try. YARN's default (2 attempts) ran a failed job a
# second time inside the same try (seen on the real RM: RUNNING went back to ACCEPTED), doubling its cost and
# the wait before the task fails; Airflow's retries, which re-attach by tag, are the one retry mechanism.
DEFAULT_CONF = {"spark.yarn.maxAppAttempts": "1"}
# Spark connection extra: conf this Spark deployment imposes over the team's and the task's (a small local YARN
# cannot grant a team's 8g executors; spark.yarn.jars, spark.pyspark.python are per deployment).
CONN_CONF_KEY = "spark_conf_overrides"
# Task state store key naming the RM connection of a task instance's applications: written before the first
# submit, so whoever stops the task instance from outside (a mesh job cancel, in the API server) can find and
# kill its applications by tag even when neither the worker nor a triggerer runs its on_kill.
YARN_CONN_KEY = "mesh_yarn_conn_id"


def application_tag(dag_id: str, task_id: str, run_id: str, map_index: int) -> str:
    """The YARN tag of a task instance, the same for all its tries (YARN lowercases tags; hex is safe)."""
    digest = hashlib.sha256(f"{dag_id}\x1f{task_id}\x1f{run_id}\x1f{map_index}".encode()).hexdigest()
    return TAG_PREFIX + digest[:24]


def _status_of(app: YarnApp) -> str:
    """The provider's ``ResumableJobMixin`` status vocabulary: live YARN states as they are, else SUCCEEDED/FAILED."""
    if app.live:
        return app.state
    return "SUCCEEDED" if app.succeeded else "FAILED"


class SparkYarnOperator(SparkSubmitOperator):
    """Run a Spark application for this run's partition of ``table`` on YARN in cluster mode.

    :param table: the mesh table the job writes (this task must be its producer).
    :param application: the jar or .py file to submit.
    :param application_args: extra arguments; the operator appends
        ``--table T --partition P --period-start S --period-end E``.
    :param conf: Spark conf; merged over the team's ``spark_conf``.
    :param yarn_queue: YARN queue (default: the team's ``yarn.queue``); spark-submit ``--queue`` only. ``queue``
        is Airflow's executor queue (e.g. the Celery queue), as on every operator.
    :param proxy_user: (default: the team's).
    :param spark_conn_id: the Spark provider's connection (master ``yarn``; ``local[...]`` runs in the foreground).
    :param yarn_conn_id: connection of the ResourceManager REST API (``yarn_rm``, or a Spark connection).
    :param poll_interval: seconds between RM polls. :param max_backoff: cap of the backoff while the RM is down.
    :param reuse_succeeded: a later try of the same task instance reuses a succeeded application
        instead of running the job again.
    :param deferrable: track in the triggerer or poll on the worker (default: ``[operators] default_deferrable``).
    :param driver_log_bytes: how much of the end of the driver's stdout and of its stderr a failed task shows.
    Any other ``SparkSubmitOperator`` argument (``driver_memory``, ``packages``, ``durable``...) passes through.
    """

    template_fields: Sequence[str] = (*SparkSubmitOperator.template_fields, "job_args")
    ui_color = "#fde9d9"

    def __init__(self, *, table: str, application: str, application_args: Sequence[str] = (),
                 conf: dict[str, str] | None = None, yarn_queue: str | None = None, proxy_user: str | None = None,
                 spark_conn_id: str = "mesh_spark", yarn_conn_id: str = YarnResourceManagerHook.default_conn_name,
                 poll_interval: float = 30.0, max_backoff: float = 300.0, reuse_succeeded: bool = False,
                 deferrable: bool | None = None, driver_log_bytes: int = 8192, **kwargs: Any) -> None:
        t, kwargs = with_table_outlet(table, kwargs)
        team = configured_mesh().team(t.team)
        # ``queue`` (in kwargs) stays Airflow's own: the executor queue (Celery) the task is sent to. The YARN
        # queue goes only to spark-submit ``--queue`` (issue #23: setting ``self.queue`` to the YARN queue sent
        # every Spark task to a Celery queue no worker consumes).
        super().__init__(
            application=application, conf={**DEFAULT_CONF, **team.spark_conf, **(conf or {})}, conn_id=spark_conn_id,
            yarn_queue=yarn_queue or team.yarn.queue,
            proxy_user=proxy_user if proxy_user is not None else team.yarn.proxy_user,
            yarn_track_via_rm_api=True, **kwargs)
        check_producer(self, t)
        self.table = t.name
        self.team = team.name
        self.yarn_queue_origin = "the task's yarn_queue" if yarn_queue else f"teams/{team.name}.yaml yarn.queue"
        self.job_args = list(application_args)
        self.spark_conn_id = spark_conn_id
        self.yarn_conn_id = yarn_conn_id
        self.poll_interval, self.max_backoff = poll_interval, max_backoff
        self.reuse_succeeded = reuse_succeeded
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.driver_log_bytes = driver_log_bytes
        self._tag: str | None = None
        self._app_id: str | None = None
        self._reused: YarnApp | None = None
        self._submitting = False

    # --- what the mesh sets before the provider takes over -----------------------------------------
    def _period_args(self, context: Any) -> list[str]:
        t = configured_mesh().table(self.table)
        period, partition = table_period(context, t)  # the contract's period, in the table's time zone
        return ["--table", t.name, "--partition", partition,
                "--period-start", iso(period.start), "--period-end", iso(period.end)]

    def execute(self, context: Any) -> Any:
        """Name, tag and arguments of this task instance; then the provider's own execute (resumable on YARN)."""
        ti = context["ti"]
        self._tag = application_tag(ti.dag_id, ti.task_id, ti.run_id, getattr(ti, "map_index", -1))
        self.name = f"{self.team}.{ti.dag_id}.{ti.task_id}.{ti.run_id}"
        self.application_args = [*self.job_args, *self._period_args(context)]
        # ``yarn_track_via_rm_api`` is this operator's own (inherited) constructor argument; it is
        # decided here because only the connection says whether the master is YARN, and the
        # provider refuses it for any other master (local[1] in tests and the demo).
        self._yarn_track_via_rm_api = self._master_is_yarn()
        self.conf = {**(self.conf or {}), **self._connection_conf(), "spark.yarn.tags": self._tag}
        return super().execute(context)

    def _connection_conf(self) -> dict[str, str]:
        """The Spark connection's ``spark_conf_overrides``: what this deployment imposes (e.g. small containers)."""
        from airflow.sdk import BaseHook

        extra = BaseHook.get_connection(self.spark_conn_id).extra_dejson or {}
        return {str(k): str(v) for k, v in (extra.get(CONN_CONF_KEY) or {}).items()}

    def _master_is_yarn(self) -> bool:
        """The provider's own rule (``"yarn" in master``), read from the Spark connection.

        On YARN the application must run in cluster mode: in client mode the driver would run
        on the worker and nothing could be deferred or re-attached.
        """
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(self.spark_conn_id)
        if "yarn" not in (conn.host or ""):
            return False
        mode = (conn.extra_dejson or {}).get("deploy-mode")
        if mode != "cluster":
            raise AirflowException(
                f"{self.dag_id}.{self.task_id}: Spark connection {self.spark_conn_id} has master yarn and deploy-mode "
                f"{mode!r}. Fix: set extra \"deploy-mode\": \"cluster\" (and \"yarn_resourcemanager_webapp_address\") "
                f"in connection {self.spark_conn_id}.")
        return True

    def _rm(self) -> RMClient:
        return YarnResourceManagerHook(self.yarn_conn_id).get_conn()

    # --- ResumableJobMixin, where the mesh differs from the provider -------------------------------
    def submit_job(self, context: Any) -> str:
        """Re-attach to this task instance's application by its YARN tag, else let the provider submit.

        Why: the provider persists the id only after spark-submit returned; a worker lost in
        between leaves a running application the task state store does not know. Its tag does.
        """
        assert self._tag is not None
        store = context.get("task_state_store")
        if store is not None:
            store.set(YARN_CONN_KEY, self.yarn_conn_id)
        existing = self._rm().apps_with_tag(self._tag)
        live = [a for a in existing if a.live]
        if live:
            app = live[0]
            self.log.info("Re-attaching to %s (%s, tag %s) submitted by an earlier try; not submitting again",
                          app.id, app.state, self._tag)
            return app.id
        done = [a for a in existing if a.succeeded]
        if done and self.reuse_succeeded:
            self.log.info("%s already finished successfully for this task instance (tag %s); reuse_succeeded=True, "
                          "so not running it again", done[0].id, self._tag)
            self._reused = done[0]
            return done[0].id
        for a in existing:
            self.log.info("Earlier application %s of this task instance ended %s/%s; submitting a new one",
                          a.id, a.state, a.final_status)
        self._check_queue()
        self._submitting = True
        try:
            app_id = str(super().submit_job(context))
        finally:
            self._submitting = False
        self._app_id = app_id
        self.log.info("Submitted %s to queue %s as %s with tag %s", app_id, self._yarn_queue, self.proxy_user,
                      self._tag)
        return app_id

    def _check_queue(self) -> None:
        """Fail at once, naming the queue and where it came from, if the RM's scheduler has no such queue.

        Why: the real RM accepts the submission and only then fails the application ("submitted by user ... to
        unknown queue"), after a spark-submit JVM started and uploaded the job. A scheduler that does not list
        its queues, or an RM that does not answer, is not a reason to refuse: spark-submit then decides.
        """
        queue = self._yarn_queue
        if not queue:
            return
        try:
            known = self._rm().queues()
        except RMUnavailable as err:
            self.log.warning("Could not list the RM's queues (%s); submitting to %s unchecked", err, queue)
            return
        if known is not None and queue not in known:
            raise AirflowException(
                f"{self.dag_id}.{self.task_id}: YARN queue {queue!r} ({self.yarn_queue_origin}) does not exist on the "
                f"ResourceManager; its queues: {', '.join(sorted(q for q in known if '.' not in q))}. Fix: set "
                f"yarn.queue in teams/{self.team}.yaml (or the task's yarn_queue) to one of them, or create the queue.")

    def get_job_status(self, external_id: Any, context: Any) -> str:
        """The stored application's status through the mesh's RM client (HA), in the provider's vocabulary.

        An id the RM no longer knows (404) is ``NOT_FOUND``, neither active nor succeeded, so the
        provider submits anew (after :meth:`submit_job` looked for a live application by tag). Why:
        the store keeps the id across clears, and an RM forgets finished applications, so raising
        there failed every try of a backfill of an old partition.
        """
        try:
            return _status_of(self._rm().app(str(external_id)))
        except RMAppNotFound:
            self.log.info("The RM no longer knows %s (stored by an earlier try or run); not re-attaching to it",
                          external_id)
            return "NOT_FOUND"

    def is_job_succeeded(self, status: str) -> bool:
        """A stored succeeded application ends the task only with ``reuse_succeeded=True``.

        Why: otherwise clearing a task (a backfill, a fix of bad input) would return "already
        succeeded" and never recompute the partition (apache/airflow#71356).
        """
        return self.reuse_succeeded and super().is_job_succeeded(status)

    def poll_until_complete(self, external_id: Any, context: Any) -> Any:
        """Defer to the triggerer (default), or poll on the worker with the mesh's RM client."""
        app_id = str(external_id)
        self._app_id = app_id
        if self._reused is not None and self._reused.id == app_id:
            return self._finish(self._reused)
        if self.deferrable:
            # The trigger enforces execution_timeout itself (and kills the app), so no defer timeout here.
            self.defer(trigger=YarnApplicationTrigger(app_id=app_id, yarn_conn_id=self.yarn_conn_id,
                                                      poll_interval=self.poll_interval, max_backoff=self.max_backoff,
                                                      deadline=self._deadline(context)),
                       method_name="execute_complete")
        return self._poll_on_worker(app_id)

    def get_job_result(self, external_id: Any, context: Any) -> str:  # type: ignore[override]  # the mixin allows Any
        """The application id is the task's XCom: the job's logs and history are found by it."""
        return str(external_id)

    def _deadline(self, context: Any) -> str | None:
        if not self.execution_timeout:
            return None
        start = context["ti"].start_date or datetime.now(UTC)
        return (start + self.execution_timeout).isoformat()

    def _poll_on_worker(self, app_id: str) -> str:
        """Poll from the worker (``deferrable=False``).

        Why not the provider's loop: it reads one RM address (no HA) and fails the task after
        ten failed polls, so an RM failover of a few minutes would fail a job that is still running.
        """
        rm, failures = self._rm(), 0
        while True:
            try:
                app = rm.app(app_id)
                failures = 0
            except RMUnavailable as err:
                failures += 1
                self.log.warning("ResourceManager unavailable (%s); retrying", err)
                time.sleep(backoff_delay(self.poll_interval, failures, self.max_backoff))
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
        """Success returns the id; anything else raises with YARN's diagnostics, tracking URL and the driver's log.

        Why the driver log: in cluster mode the driver (and a PySpark job's traceback) runs in YARN's AM
        container, so without it the task log says only "User application exited with status 1".
        """
        if app.succeeded:
            self.log.info("YARN application %s finished successfully (%s)", app.id, app.tracking_url)
            return app.id
        tail = driver_log_tail(self._rm(), app.id, app.user or self._app_user(app.id),
                               tail_bytes=self.driver_log_bytes)
        self.log.error("Driver log of %s (tail of the AM container's stdout/stderr):\n%s", app.id, tail)
        raise AirflowException(
            f"YARN application {app.id} ended {app.state}/{app.final_status}. Diagnostics: {app.diagnostics or '-'}. "
            f"Tracking URL: {app.tracking_url or '-'}\nDriver log (tail of stdout/stderr):\n{tail}")

    def _app_user(self, app_id: str) -> str:
        try:
            return self._rm().app(app_id).user
        except RMUnavailable:
            return self.proxy_user or ""

    # --- stopping ------------------------------------------------------------------------------
    def on_kill(self) -> None:
        """Task killed or timed out on the worker: stop spark-submit and the application.

        Why not only the provider's: it kills the application only once spark-submit printed
        its id, through one RM address and without a CLI fallback. Here a kill during submit
        also finds the application by its tag.
        """
        if self._submitting:
            super().on_kill()  # the provider stops the running spark-submit
        ids = [self._app_id] if self._app_id else []
        if not ids and self._tag:
            try:
                ids = [a.id for a in self._rm().apps_with_tag(self._tag) if a.live]
            except RMUnavailable as err:
                self.log.error("Could not look up the application of tag %s to kill it: %s", self._tag, err)
        for app_id in ids:
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
        result = subprocess.run([yarn, "application", "-kill", app_id], capture_output=True, text=True,
                                timeout=120, check=False)
        log.info("RM unavailable (%s); 'yarn application -kill %s' exited %s", err, app_id, result.returncode)
        return result.returncode == 0
