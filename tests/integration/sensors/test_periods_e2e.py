"""Issue #11 end to end on the real metadata DB: an Amsterdam-daily consumer of an hourly UTC table, and a
CronDataIntervalTimetable producer, with real DAG runs (``dag.test()``) through the real Execution API.

The module uses its own registry (the example's plus team ``tz`` with tables ``tz.*``, so the example DAGs
still parse) and its own DAG ids (``tz_*``) in a DAG bundle of its own, so its runs never meet other
modules' runs in the shared DB.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from datetime import datetime, timedelta

import pytest
from conftest import ROOT, table_ddl

from airflow_mesh.core.intervals import UTC, Period, TimetableKind

pytestmark = pytest.mark.usefixtures("airflow_db")

REPO = ROOT
TEAM = "name: tz\ncontacts:\n  - name: Zoe Tz\n    email: zoe@example.com\nyarn:\n  queue: tz\n"
TABLES = {
    "events": {"mesh.schedule": "@hourly"},
    "daily_ams": {"mesh.schedule": "@daily", "mesh.timezone": "Europe/Amsterdam", "mesh.inputs": "tz.events"},
    "di_daily": {"mesh.schedule": "@daily", "mesh.timetable": "data_interval"},
}
DAG_FILES = {
    "tz_events.py": """
        from datetime import datetime
        from airflow.sdk import DAG
        from airflow_mesh.operators.produce import ProduceTableOperator
        from _example.warehouse import write_partition
        with DAG(dag_id="tz_events", schedule="@hourly", start_date=datetime(2026, 1, 1), catchup=False):
            ProduceTableOperator(task_id="build", table="tz.events", python_callable=write_partition, retries=0)
    """,
    "tz_daily_ams.py": """
        import pendulum
        from airflow.sdk import DAG
        from airflow_mesh.operators.produce import ProduceTableOperator
        from _example.warehouse import write_partition
        from airflow_mesh.sensors import TableSensor
        with DAG(dag_id="tz_daily_ams", schedule="@daily", catchup=False,
                 start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Amsterdam")):
            wait = TableSensor(task_id="wait", table="tz.events", timeout=0, mode="poke", retries=0)
            wait >> ProduceTableOperator(task_id="build", table="tz.daily_ams", python_callable=write_partition, retries=0)
    """,
    "tz_di_daily.py": """
        from datetime import datetime
        from airflow.sdk import DAG
        from airflow.sdk.definitions.timetables.interval import CronDataIntervalTimetable
        from airflow_mesh.operators.produce import ProduceTableOperator
        from _example.warehouse import write_partition
        with DAG(dag_id="tz_di_daily", schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
                 start_date=datetime(2026, 1, 1), catchup=False):
            ProduceTableOperator(task_id="build", table="tz.di_daily", python_callable=write_partition, retries=0)
    """,
    "tz_di_reader.py": """
        from datetime import datetime
        from airflow.sdk import DAG
        from airflow_mesh.sensors import TableSensor
        with DAG(dag_id="tz_di_reader", schedule="@daily", start_date=datetime(2026, 1, 1), catchup=False):
            TableSensor(task_id="wait", table="tz.di_daily", timeout=0, mode="poke", retries=0)
    """,
}


def d(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def ddl(name: str, props: dict[str, str]) -> str:
    return table_ddl(f"tz.{name}", {"mesh.producer": f"tz_{name}.build", "mesh.access": "public",
                                    "mesh.start_date": "2026-01-01", **props})


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory):
    """The example registry plus three ``tz`` tables, and a DAG bundle ``tz-e2e``: for this module only."""
    root = tmp_path_factory.mktemp("tz_mesh")
    shutil.copytree(REPO / "teams", root / "teams")
    shutil.copytree(REPO / "ddl", root / "ddl")
    (root / "teams" / "tz.yaml").write_text(TEAM)
    (root / "ddl" / "tz").mkdir()
    for name, props in TABLES.items():
        (root / "ddl" / "tz" / f"{name}.sql").write_text(ddl(name, props))
    (root / "dags" / "tz").mkdir(parents=True)
    for name, source in DAG_FILES.items():
        (root / "dags" / "tz" / name).write_text(textwrap.dedent(source).lstrip())
    local = "airflow.dag_processing.bundles.local.LocalDagBundle"
    env = {
        "AIRFLOW__MESH__ROOT": str(root),
        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps([
            {"name": "dags-folder", "classpath": local, "kwargs": {}},
            {"name": "tz-e2e", "classpath": local, "kwargs": {"path": str(root / "dags")}}]),
    }
    with pytest.MonkeyPatch.context() as patch:  # restored when the fixture ends
        for key, value in env.items():
            patch.setenv(key, value)
        from airflow.dag_processing.dagbag import DagBag

        from airflow_mesh.settings import configured_mesh

        bag = DagBag(str(root / "dags"))
        assert not bag.import_errors, bag.import_errors
        yield configured_mesh(), bag.dags


def states(dr) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in dr.get_task_instances()}


def seed_di_runs(dag_id: str, starts: list[datetime]) -> None:
    """Scheduled runs of a data-interval DAG as the scheduler makes them (logical date = interval start)."""
    from airflow.models.serialized_dag import SerializedDagModel
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, TaskInstanceState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType

    with create_session() as session:
        dag = SerializedDagModel.get_dag(dag_id, session=session)
        for start in starts:
            interval = dag.timetable.infer_manual_data_interval(run_after=start + timedelta(days=1))
            assert interval.start == start
            dr = dag.create_dagrun(
                run_id=f"scheduled__{start.isoformat()}", logical_date=start, data_interval=interval,
                run_after=interval.end, run_type=DagRunType.SCHEDULED, triggered_by=DagRunTriggeredByType.TIMETABLE,
                state=DagRunState.SUCCESS, session=session)
            for ti in dr.get_task_instances(session=session):
                ti.state, ti.try_number = TaskInstanceState.SUCCESS, 1
        session.commit()


def test_amsterdam_daily_consumer_waits_for_the_23_hourly_runs_of_its_local_day(registry, capfd) -> None:
    from _example.warehouse import partition_path
    from seed import seed_runs

    _, dags = registry
    hourly, ams = dags["tz_events"], dags["tz_daily_ams"]
    assert hourly.test(logical_date=d(2026, 3, 29, 0)).state == "success"  # syncs the DAG; local 29 March's first hour
    # The whole *UTC* day 28 March (what the sensor used to check) is there: not enough for local 29 March.
    seed_runs("tz_events", [d(2026, 3, 28, 1) + timedelta(hours=h) for h in range(23)])
    tick = d(2026, 3, 29, 22)  # local midnight 30 March (CEST): the run covering local 29 March, 23 hours
    capfd.readouterr()
    dr = ams.test(logical_date=tick)
    out = "".join(capfd.readouterr())
    assert states(dr) == {"wait": "failed", "build": "upstream_failed"}
    assert "22 of 23 hourly runs of tz_events.build not done for period [2026-03-28T23:00, 2026-03-29T22:00)" in out

    seed_runs("tz_events", [d(2026, 3, 29, 1) + timedelta(hours=h) for h in range(21)])  # 01:00Z .. 21:00Z
    dr = ams.test(logical_date=tick + timedelta(minutes=1))
    assert states(dr) == {"wait": "failed", "build": "upstream_failed"}  # 22:00Z (local 23:00-24:00) still missing
    seed_runs("tz_events", [d(2026, 3, 29, 22)])
    dr = ams.test(logical_date=tick + timedelta(minutes=2))
    assert states(dr) == {"wait": "success", "build": "success"}
    # The consumer's partition is named after its *local* day.
    assert (partition_path("tz.daily_ams", "2026-03-29") / "part-00000.json").exists()
    assert not partition_path("tz.daily_ams", "2026-03-30").exists()


def test_data_interval_producer_reruns_the_run_whose_interval_is_the_backfilled_day(registry, capfd) -> None:
    from _example.warehouse import partition_path
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    from airflow_mesh.core.planner import plan_backfill

    mesh, dags = registry
    assert dags["tz_di_daily"].test(logical_date=d(2026, 4, 3)).state == "success"  # syncs the DAG
    seed_di_runs("tz_di_daily", [d(2026, 4, 5), d(2026, 4, 6)])

    # Backfill the day 04-05: the planner's run maps to logical date 04-05, whose interval is that day.
    plan = plan_backfill(mesh, ["tz.di_daily"], Period(d(2026, 4, 5), d(2026, 4, 6)), now=d(2026, 11, 1))
    [runs] = plan.dags["tz_di_daily"].ranges
    logical_dates = list(runs.logical_dates(TimetableKind.DATA_INTERVAL))
    assert logical_dates == [d(2026, 4, 5)]
    with create_session() as session:
        [run] = session.query(DagRun).filter(DagRun.dag_id == "tz_di_daily",
                                             DagRun.logical_date == logical_dates[0]).all()
        assert (run.data_interval_start, run.data_interval_end) == (d(2026, 4, 5), d(2026, 4, 6))

    # Re-running that run for real writes the day 04-05 (its interval), not 04-06.
    assert not partition_path("tz.di_daily", "2026-04-05").exists()
    dr = dags["tz_di_daily"].test(logical_date=logical_dates[0])
    assert dr.state == "success"
    assert (partition_path("tz.di_daily", "2026-04-05") / "part-00000.json").exists()
    assert not partition_path("tz.di_daily", "2026-04-06").exists()

    # A UTC-daily reader of the day 04-06 needs the run with logical date 04-06 (interval [04-06, 04-07)).
    reader = dags["tz_di_reader"]
    dr = reader.test(logical_date=d(2026, 4, 7))
    assert states(dr) == {"wait": "success"}
    # For the day 04-07 the run with logical date 04-07 does not exist: the 04-06 run does not fool it.
    capfd.readouterr()
    dr = reader.test(logical_date=d(2026, 4, 8))
    assert states(dr) == {"wait": "failed"}
    assert ("1 of 1 daily run of tz_di_daily.build not done for period [2026-04-07T00:00, 2026-04-08T00:00)"
            in "".join(capfd.readouterr()))
