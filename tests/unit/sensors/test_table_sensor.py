"""TableSensor's defaults follow Airflow's own configuration, as the providers' operators do."""

from __future__ import annotations

import pytest

from airflow_mesh.sensors import TableSensor


@pytest.mark.parametrize(("configured", "expected"), [(None, False), ("True", True), ("False", False)])
def test_deferrable_defaults_to_airflows_default_deferrable(monkeypatch, configured, expected) -> None:
    if configured is None:
        monkeypatch.delenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", raising=False)
    else:
        monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", configured)
    assert TableSensor(task_id="w", table="payments.transactions").deferrable is expected
    assert TableSensor(task_id="w", table="payments.transactions", deferrable=not expected).deferrable is (not expected)
