"""A producer DAG is checked against its tables' contracts at parse time (``airflow-mesh check``, and the
cluster policy in the dag processor's DagBag): timetable kind, time zone, periods, start date, mapped tasks."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import table_ddl

from airflow_mesh.core.registry.loader import load_mesh
from airflow_mesh.core.registry.models import MeshValidationError

BIN = Path(sys.executable).parent
TEAM = "name: data\ncontacts:\n  - name: Lead\n    email: lead@example.com\nyarn:\n  queue: data\n"
HEAD = """
    from datetime import datetime
    import pendulum
    from airflow.sdk import DAG
    from airflow.sdk.definitions.timetables.interval import CronDataIntervalTimetable
    from airflow.sdk.definitions.timetables.trigger import CronTriggerTimetable
    from airflow_mesh.operators.produce import ProduceTableOperator
    write_partition = lambda table, period, partition, inputs: {}  # noqa: E731 (parsed, never run)
"""
#: name -> (extra TBLPROPERTIES, DAG file body after HEAD)
CASES = {
    # DDL says hourly, DAG runs daily: readers would wait for 23 runs that never come.
    "hourly_vs_daily": ({"mesh.schedule": "@hourly"}, """
        with DAG(dag_id="dag_hourly_vs_daily", schedule="@daily", start_date=datetime(2026, 1, 1)):
            ProduceTableOperator(task_id="build", table="db.hourly_vs_daily", python_callable=write_partition)
    """),
    # Amsterdam day in the contract, UTC day in the DAG.
    "ams_vs_utc": ({"mesh.schedule": "@daily", "mesh.timezone": "Europe/Amsterdam"}, """
        with DAG(dag_id="dag_ams_vs_utc", schedule="@daily", start_date=datetime(2026, 1, 1)):
            ProduceTableOperator(task_id="build", table="db.ams_vs_utc", python_callable=write_partition)
    """),
    # The same contract, met two ways: explicit timetable, and a start_date in the zone.
    "ams_ok": ({"mesh.schedule": "@daily", "mesh.timezone": "Europe/Amsterdam"}, """
        with DAG(dag_id="dag_ams_ok", schedule=CronTriggerTimetable("0 0 * * *", timezone="Europe/Amsterdam"),
                 start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Amsterdam")):
            ProduceTableOperator(task_id="build", table="db.ams_ok", python_callable=write_partition)
    """),
    "ams_ok_start": ({"mesh.schedule": "@daily", "mesh.timezone": "Europe/Amsterdam"}, """
        with DAG(dag_id="dag_ams_ok_start", schedule="@daily", start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Amsterdam")):
            ProduceTableOperator(task_id="build", table="db.ams_ok_start", python_callable=write_partition)
    """),
    # Data-interval timetable but the contract did not say so: logical dates would be one period off.
    "di_unsaid": ({"mesh.schedule": "@daily"}, """
        with DAG(dag_id="dag_di_unsaid", schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
                 start_date=datetime(2026, 1, 1)):
            ProduceTableOperator(task_id="build", table="db.di_unsaid", python_callable=write_partition)
    """),
    "di_ok": ({"mesh.schedule": "@daily", "mesh.timetable": "data_interval"}, """
        with DAG(dag_id="dag_di_ok", schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
                 start_date=datetime(2026, 1, 1)):
            ProduceTableOperator(task_id="build", table="db.di_ok", python_callable=write_partition)
    """),
    # Asset-triggered producer: no periods.
    "asset_sched": ({"mesh.schedule": "@daily"}, """
        from airflow.sdk import Asset
        with DAG(dag_id="dag_asset_sched", schedule=[Asset("s3://bucket/x")], start_date=datetime(2026, 1, 1)):
            ProduceTableOperator(task_id="build", table="db.asset_sched", python_callable=write_partition)
    """),
    # Starts a month after the contract's start date: January's readers would wait forever.
    "late_start": ({"mesh.schedule": "@daily"}, """
        with DAG(dag_id="dag_late_start", schedule="@daily", start_date=datetime(2026, 2, 1)):
            ProduceTableOperator(task_id="build", table="db.late_start", python_callable=write_partition)
    """),
    # A mapped producer task: refused.
    "mapped": ({"mesh.schedule": "@daily"}, """
        from airflow.sdk import task
        from airflow_mesh.utils.assets import table_asset
        from airflow_mesh.settings import configured_mesh
        with DAG(dag_id="dag_mapped", schedule="@daily", start_date=datetime(2026, 1, 1)):
            @task(outlets=[table_asset(configured_mesh().table("db.mapped"))])
            def build(shard: int) -> None:
                pass
            build.expand(shard=[1, 2, 3])
    """),
}


def ddl(name: str, props: dict[str, str]) -> str:
    return table_ddl(f"db.{name}", {"mesh.producer": f"dag_{name}.build", "mesh.access": "public",
                                    "mesh.start_date": "2026-01-01", **props})


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """Run ``airflow-mesh check`` once over all cases; findings per case (by DAG file name)."""
    root = tmp_path_factory.mktemp("contract_mesh")
    (root / "teams").mkdir()
    (root / "teams" / "data.yaml").write_text(TEAM)
    (root / "ddl" / "data").mkdir(parents=True)
    (root / "dags" / "data").mkdir(parents=True)
    for name, (props, body) in CASES.items():
        (root / "ddl" / "data" / f"{name}.sql").write_text(ddl(name, props))
        (root / "dags" / "data" / f"{name}.py").write_text(textwrap.dedent(HEAD).lstrip() + textwrap.dedent(body))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
    env["HOME"] = str(root / "home")
    result = subprocess.run(["airflow-mesh", "check", str(root / "dags"), "--root", str(root)], env=env,
                            capture_output=True, text=True, timeout=600)
    out: dict[str, list[str]] = {name: [] for name in CASES}
    for line in (result.stdout + result.stderr).splitlines():
        for name in CASES:
            if f"/dags/data/{name}.py:" in line:
                out[name].append(line)
    out["_all"] = [result.stdout + result.stderr]
    out["_root"] = [str(root)]
    return out


def test_cluster_policy_fails_the_import_of_a_mismatched_producer(findings, tmp_path: Path) -> None:
    """The dag processor's DagBag (policy strict) refuses the DAG; the matching one imports."""
    root = Path(findings["_root"][0])
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(AIRFLOW_HOME=str(tmp_path / "home"), AIRFLOW__MESH__ROOT=str(root), AIRFLOW__MESH__ENFORCE="strict",
               AIRFLOW__CORE__LOAD_EXAMPLES="False")
    script = ("import json, sys\nfrom airflow.dag_processing.dagbag import DagBag\n"
              "bag = DagBag(sys.argv[1], safe_mode=False)\n"
              "print(json.dumps({'dags': sorted(bag.dags), 'errors': bag.import_errors}))")
    result = subprocess.run([sys.executable, "-c", script, str(root / "dags" / "data")], env=env,
                            capture_output=True, text=True, timeout=600)
    import json

    bag = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"dag_ams_ok", "dag_ams_ok_start", "dag_di_ok"} <= set(bag["dags"])
    assert "dag_ams_vs_utc" not in bag["dags"]
    [error] = [e for f, e in bag["errors"].items() if f.endswith("ams_vs_utc.py")]
    assert "[contract] db.ams_vs_utc" in error and "Fix:" in error


def test_matching_producers_pass(findings) -> None:
    assert "6 violation(s)" in findings["_all"][0] and "(9 DAG(s) imported)" in findings["_all"][0]
    for name in ("ams_ok", "ams_ok_start", "di_ok"):
        assert findings[name] == [], findings["_all"]


def test_schedule_mismatch_is_refused_with_line_and_fix(findings) -> None:
    [line] = findings["hourly_vs_daily"]
    assert "hourly_vs_daily.py:10: [contract] db.hourly_vs_daily (ddl/data/hourly_vs_daily.sql)" in line  # the task's line
    assert ("run at logical date 2026-01-02T00:00Z (0 0 * * * in UTC) covers [2026-01-01T00:00, 2026-01-02T00:00), "
            "but mesh.schedule '@hourly' in mesh.timezone 'UTC' says that run covers [2026-01-01T23:00, 2026-01-02T00:00)"
            ) in line
    assert "Fix: make the DAG's schedule and time zone match the contract" in line


def test_time_zone_mismatch_is_refused(findings) -> None:
    [line] = findings["ams_vs_utc"]
    assert "mesh.timezone 'Europe/Amsterdam'" in line and "0 0 * * * in UTC" in line
    assert "covers [2026-01-01T00:00, 2026-01-02T00:00)" in line
    assert "says that run covers [2025-12-31T23:00, 2026-01-01T23:00)" in line


def test_data_interval_timetable_must_be_declared(findings) -> None:
    [line] = findings["di_unsaid"]
    assert "the DAG uses CronDataIntervalTimetable, whose logical date is the period start" in line
    assert "Fix: set 'mesh.timetable' = 'data_interval'" in line


def test_asset_scheduled_producer_is_refused(findings) -> None:
    [line] = findings["asset_sched"]
    assert "has no periods the mesh can map" in line and "AssetTriggeredTimetable" in line


def test_producer_starting_after_the_contract_is_refused(findings) -> None:
    [line] = findings["late_start"]
    assert "promises data from 2026-01-01T00:00Z (mesh.start_date)" in line
    assert "set the DAG's start_date to 2026-01-01T00:00Z or earlier" in line


def test_mapped_producer_is_refused(findings) -> None:
    [line] = findings["mapped"]
    assert "producer task build is dynamically mapped" in line


def test_schedule_that_never_fires_is_a_validate_error(tmp_path: Path) -> None:
    (tmp_path / "teams").mkdir()
    (tmp_path / "teams" / "data.yaml").write_text(TEAM)
    (tmp_path / "ddl" / "data").mkdir(parents=True)
    (tmp_path / "ddl" / "data" / "never.sql").write_text(ddl("never", {"mesh.schedule": "0 0 31 2 *"}))
    with pytest.raises(MeshValidationError) as err:
        load_mesh(tmp_path)
    assert "never.sql:" in str(err.value) and "'0 0 31 2 *' never fires" in str(err.value)
