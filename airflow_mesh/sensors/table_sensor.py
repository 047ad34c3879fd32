"""Wait for tables, not task ids: the cross-team sensor of the mesh.

``TableSensor(table="payments.transactions")`` looks up the table's producer task
and schedule in the registry, works out which producer runs cover this run's
period (24 hourly runs for a daily consumer, 23 on an Amsterdam spring day, the
covering daily run for an hourly one, ...; see :mod:`airflow_mesh.core.intervals`)
and succeeds when all succeeded.
It fails at once when one of them failed, naming the owning team and its contact.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from airflow.sdk.bases.sensor import BaseSensorOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout, AirflowSkipException

from airflow_mesh.core.coverage import (
    DEFAULT_FAILED_STATES,
    DataUnavailable,
    Requirement,
    check_on_unavailable,
    evaluate,
    requirements_for,
)
from airflow_mesh.core.ownership import owning_team
from airflow_mesh.core.registry.access import read_error
from airflow_mesh.settings import configured_mesh, default_deferrable
from airflow_mesh.triggers.state_reader import fetch_task_states
from airflow_mesh.triggers.table_trigger import TableCoverageTrigger
from airflow_mesh.utils.assets import table_asset
from airflow_mesh.utils.run_period import run_period


class PrivateTableError(ValueError):
    """A DAG reads another team's private table (raised while the DAG file is parsed)."""


class TableSensor(BaseSensorOperator):
    """Wait until the producer runs of one or more mesh tables that cover this run's period succeeded.

    :param table: one table, ``db.table``; or ``tables=[...]`` for several in one task.
    :param failed_states: producer task states that fail this sensor at once.
    :param on_unavailable: when a table's ``mesh.start_date`` is after this period's start:
        ``fail`` (default), ``skip``, or ``partial`` (wait only for the runs that can exist).
    :param period_schedule: cron of this DAG's periods, if not its own schedule (evaluated in the time
        zone of the DAG's timetable; see docs/intervals.md).
    :param deferrable: wait in the triggerer, holding no worker slot (default: Airflow's
        ``[operators] default_deferrable``).
    """

    template_fields: Sequence[str] = ("tables",)
    ui_color = "#e8f4ea"

    def __init__(self, *, table: str | None = None, tables: Sequence[str] | None = None,
                 failed_states: Sequence[str] = DEFAULT_FAILED_STATES, on_unavailable: str = "fail",
                 period_schedule: str | None = None, deferrable: bool | None = None, **kwargs: Any) -> None:
        if bool(table) == bool(tables):
            raise ValueError("TableSensor needs exactly one of table='db.table' or tables=[...]")
        check_on_unavailable(on_unavailable)
        names = [table] if table else list(tables or [])
        mesh = configured_mesh()
        resolved = [mesh.table(n) for n in names]  # unknown table: error at parse time
        kwargs.setdefault("inlets", [table_asset(t) for t in resolved])
        super().__init__(**kwargs)
        self.tables = [t.name for t in resolved]
        self.failed_states = list(failed_states)
        self.on_unavailable = on_unavailable
        self.period_schedule = period_schedule
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self._last_status = ""
        if self.has_dag():
            self._check_access(mesh, resolved)

    def _check_access(self, mesh, resolved) -> None:
        """Rule 3 of :mod:`airflow_mesh.core.rules`, at parse time."""
        dag = self.dag
        team = owning_team(mesh, dag.dag_id, dag.fileloc, dag.tags)
        for t in resolved:
            error = read_error(f"{dag.dag_id}.{self.task_id}", team, t, mesh.teams.get(t.team),
                               file=dag.fileloc or "", line=1, reads="waits for")
            if error:
                raise PrivateTableError(error.explained)

    def _requirements(self, context: Any) -> list[Requirement]:
        period = run_period(context, self.period_schedule)
        try:
            return requirements_for(configured_mesh(), self.tables, period, self.on_unavailable)
        except DataUnavailable as err:
            if self.on_unavailable == "skip":
                raise AirflowSkipException(str(err)) from err
            raise AirflowFailException(str(err)) from err

    def _judge(self, reqs: list[Requirement]) -> bool:
        status, message, _ = evaluate(reqs, fetch_task_states, self.failed_states)
        if status == "failed":
            raise AirflowFailException(message)
        self._last_status = message
        self.log.info("%s", message)
        return status == "success"

    def poke(self, context: Any) -> bool:
        return self._judge(self._requirements(context))

    def execute(self, context: Any) -> Any:
        if not self.deferrable:
            try:
                return super().execute(context)
            except AirflowSensorTimeout as err:
                # Airflow's message says only that time ran out; say what is still missing, and whose it is.
                raise AirflowSensorTimeout(f"{err} {self._last_status}") from err
        reqs = self._requirements(context)
        if self._judge(reqs):
            return None
        self.defer(
            trigger=TableCoverageTrigger([r.to_json() for r in reqs], self.poke_interval, self.failed_states),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout) if self.timeout else None,
        )

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> None:
        if not event or event.get("status") != "success":
            raise AirflowFailException((event or {}).get("message", "table sensor trigger ended without an event"))
        self.log.info("%s", event["message"])
