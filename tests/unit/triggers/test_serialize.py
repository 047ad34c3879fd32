"""Every trigger survives what the triggerer does to it: serialize, store (Airflow's encrypted kwargs), rebuild."""

from __future__ import annotations

import inspect

import airflow.sdk  # noqa: F401  (Airflow first: its start-up loads the mesh policy)
import pytest
from airflow.models.trigger import Trigger
from airflow.sdk.module_loading import import_string

from airflow_mesh.triggers.table_trigger import TableCoverageTrigger
from airflow_mesh.triggers.yarn_trigger import YarnApplicationTrigger

REQUIREMENT = {"table": "payments.transactions", "team": "payments", "contact": "Ana Souza <ana.souza@example.com>",
               "dag_id": "payments_hourly", "task_id": "load_transactions", "schedule": "@hourly",
               "period_start": "2026-10-01T00:00:00+00:00", "period_end": "2026-10-02T00:00:00+00:00",
               "first": "2026-10-01T01:00:00+00:00", "last": "2026-10-02T00:00:00+00:00"}


@pytest.mark.parametrize("trigger", [
    TableCoverageTrigger([REQUIREMENT], poke_interval=30.0, failed_states=["failed"]),
    YarnApplicationTrigger(app_id="application_1_0001", yarn_conn_id="yarn_rm_default", poll_interval=15.0,
                           max_backoff=120.0, deadline="2026-10-02T06:00:00+00:00"),
    YarnApplicationTrigger(app_id="application_1_0002", yarn_conn_id="mesh_spark"),
], ids=["table", "yarn", "yarn-defaults"])
def test_serialize_round_trip_through_the_trigger_table(trigger) -> None:
    classpath, kwargs = trigger.serialize()
    stored = Trigger._decrypt_kwargs(Trigger.encrypt_kwargs(kwargs))   # what the triggerer reads back
    rebuilt = import_string(classpath)(**stored)
    assert type(rebuilt) is type(trigger)
    assert rebuilt.serialize() == (classpath, kwargs)
    # every constructor argument is carried, not left to its default on the other side
    params = [p for p in inspect.signature(type(trigger).__init__).parameters if p != "self"]
    assert sorted(kwargs) == sorted(params)
    assert {p: getattr(rebuilt, p) for p in params} == {p: getattr(trigger, p) for p in params}
