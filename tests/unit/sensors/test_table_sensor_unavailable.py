"""``TableSensor(on_unavailable=...)`` when its period starts before the producer's first data: fail at
once (the default) or skip, each saying why; ``partial`` waits only for the runs that can exist."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from airflow.sdk import DAG
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from airflow_mesh.sensors import TableSensor
from airflow_mesh.settings import configured_mesh

UTC = UTC


def sensor(on_unavailable: str) -> TableSensor:
    # A noon-to-noon daily consumer of risk: its run at noon on the producer's first day straddles it.
    with DAG(dag_id=f"unavailable_{on_unavailable}", schedule="0 12 * * *", start_date=datetime(2025, 1, 1),
             tags=["team:risk"]):
        return TableSensor(task_id="wait", table="payments.transactions", on_unavailable=on_unavailable)


def context_of(task: TableSensor) -> dict:
    start = configured_mesh().table("payments.transactions").start_date
    return {"dag": task.dag, "logical_date": start + timedelta(hours=12)}


@pytest.mark.parametrize(("on_unavailable", "raised"), [("fail", AirflowFailException), ("skip", AirflowSkipException)])
def test_fail_or_skip_at_once_saying_why(on_unavailable: str, raised: type[Exception]) -> None:
    task = sensor(on_unavailable)
    with pytest.raises(raised, match=r"payments\.transactions \(team payments, contact Ana Souza .*has data only from"):
        task._requirements(context_of(task))


def test_partial_waits_for_the_runs_from_the_start_date_on() -> None:
    task = sensor("partial")
    [req] = task._requirements(context_of(task))
    assert req.expected == 12 and req.period.end - req.period.start == timedelta(days=1)
