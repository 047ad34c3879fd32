"""Oracle: the interval model against Airflow's own timetables and a brute-force enumeration.

For every schedule shape (hourly, daily, weekly, monthly, an offset cron, a data-interval
timetable) in UTC, Europe/Amsterdam, America/New_York and Asia/Kolkata, over windows that
span both DST transitions of 2026, Airflow's serialized DAG (``iter_dagrun_infos_between``)
gives the runs; the model must give the same logical dates and periods. For every pair of
schedules, the producer runs covering each consumer period must be exactly the runs a
brute-force overlap test over Airflow's runs finds, and the planner must plan exactly the
consumer runs that read a re-run producer period. No DB: timetables are pure.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest
from airflow.sdk import DAG
from airflow.sdk.definitions.timetables.interval import CronDataIntervalTimetable
from airflow.sdk.definitions.timetables.trigger import CronTriggerTimetable
from airflow.serialization.serialized_objects import DagSerialization
from conftest import table_ddl

from airflow_mesh.core.intervals import (
    UTC,
    Period,
    TimetableKind,
    grid_for,
    logical_date_of,
    period_of_logical_date,
    runs_overlapping,
)

ZONES = ["UTC", "Europe/Amsterdam", "America/New_York", "Asia/Kolkata"]
#: name -> (cron, timetable kind)
SHAPES = {
    "hourly": ("@hourly", TimetableKind.TRIGGER),
    "daily": ("@daily", TimetableKind.TRIGGER),
    "weekly": ("@weekly", TimetableKind.TRIGGER),
    "monthly": ("@monthly", TimetableKind.TRIGGER),
    "offset": ("30 2 * * *", TimetableKind.TRIGGER),  # 02:30 does not exist / happens twice on DST days
    "data_interval": ("0 */6 * * *", TimetableKind.DATA_INTERVAL),
}
#: Windows around both 2026 transitions (EU: 03-29 / 10-25, US: 03-08 / 11-01).
#: Airflow's runs are taken this far around each window, so every period overlapping the window is known.
MARGIN = timedelta(days=62)
WINDOWS = [(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 6, tzinfo=UTC)),
           (datetime(2026, 10, 18, tzinfo=UTC), datetime(2026, 11, 8, tzinfo=UTC))]


def airflow_runs(cron: str, tz: str, kind: TimetableKind, start: datetime, end: datetime) -> list[tuple[datetime, Period]]:
    """(logical date, period) of every run Airflow's serialized DAG makes with a logical date in [start, end]."""
    timetable = (CronDataIntervalTimetable(cron, timezone=tz) if kind is TimetableKind.DATA_INTERVAL
                 else CronTriggerTimetable(cron, timezone=tz))
    dag = DAG(f"oracle_{abs(hash((cron, tz, kind)))}", schedule=timetable, start_date=datetime(2025, 6, 1, tzinfo=UTC))
    serialized = DagSerialization.from_dict(DagSerialization.to_dict(dag))
    out = []
    for info in serialized.iter_dagrun_infos_between(start, end):
        ld = info.logical_date.astimezone(UTC)
        if kind is TimetableKind.DATA_INTERVAL:
            period = Period(info.data_interval.start.astimezone(UTC), info.data_interval.end.astimezone(UTC))
        else:  # the mesh's rule for trigger timetables: [previous tick, tick)
            period = None
        out.append((ld, period))
    if kind is TimetableKind.TRIGGER:  # previous tick from Airflow's own sequence
        out = [(ld, Period(prev, ld)) for (prev, _), (ld, _) in zip(out, out[1:], strict=False)]
    return out


@pytest.fixture(scope="module")
def truth() -> dict[tuple[str, str, int], list[tuple[datetime, Period]]]:
    return {(name, tz, w): airflow_runs(cron, tz, kind, WINDOWS[w][0] - MARGIN, WINDOWS[w][1] + MARGIN)
            for (name, (cron, kind)), tz, w in itertools.product(SHAPES.items(), ZONES, range(len(WINDOWS)))}


@pytest.mark.parametrize("tz", ZONES)
@pytest.mark.parametrize("name", list(SHAPES))
def test_periods_and_logical_dates_match_airflow(truth, name, tz):
    cron, kind = SHAPES[name]
    grid = grid_for(cron, tz)
    for w in range(len(WINDOWS)):
        runs = truth[(name, tz, w)]
        assert runs, f"Airflow made no run for {cron} in {tz}"
        for ld, period in runs:
            assert period_of_logical_date(grid, ld, kind) == period, (cron, tz, ld)
            assert logical_date_of(period, kind) == ld
        # The grid's own tick sequence and counts are Airflow's.
        ends = [p.end for _, p in runs]
        assert list(grid.iter_ticks(ends[0], ends[-1])) == ends
        assert grid.count(ends[0], ends[-1]) == len(ends)


@pytest.mark.parametrize("tz_c", ZONES)
@pytest.mark.parametrize("consumer,producer", list(itertools.product(SHAPES, repeat=2)))
def test_covering_runs_match_brute_force(truth, consumer, producer, tz_c):
    """Every consumer period (in tz_c) needs exactly the producer runs (every zone) that overlap it."""
    for tz_p in ZONES:
        pcron, pkind = SHAPES[producer]
        pgrid = grid_for(pcron, tz_p)
        for w in range(len(WINDOWS)):
            lo, hi = WINDOWS[w]
            prod = truth[(producer, tz_p, w)]
            for _, period in truth[(consumer, tz_c, w)]:
                if not (lo <= period.end and period.start <= hi):
                    continue
                expected = [ld for ld, p in prod if p.overlaps(period)]
                runs = runs_overlapping(pgrid, period)
                got = list(runs.logical_dates(pkind)) if runs else []
                assert got == expected, (consumer, tz_c, producer, tz_p, period)
                assert (runs.count if runs else 0) == len(expected)


def test_amsterdam_day_needs_23_or_25_utc_hours(truth):
    """The issue's case: the Amsterdam day 29 March has 23 hours, 25 October 25 hours."""
    day, hour = grid_for("@daily", "Europe/Amsterdam"), grid_for("@hourly", "UTC")
    spring = period_of_logical_date(day, datetime(2026, 3, 29, 22, tzinfo=UTC), TimetableKind.TRIGGER)
    autumn = period_of_logical_date(day, datetime(2026, 10, 25, 23, tzinfo=UTC), TimetableKind.TRIGGER)
    assert spring == Period(datetime(2026, 3, 28, 23, tzinfo=UTC), datetime(2026, 3, 29, 22, tzinfo=UTC))
    assert runs_overlapping(hour, spring).count == 23
    assert runs_overlapping(hour, autumn).count == 25


#: Ragged backfill ranges across the spring (EU) and autumn (EU and US) transitions.
BACKFILLS = [Period(datetime(2026, 3, 27, 5, tzinfo=UTC), datetime(2026, 3, 30, 17, tzinfo=UTC)),
             Period(datetime(2026, 10, 24, 5, tzinfo=UTC), datetime(2026, 11, 2, 17, tzinfo=UTC))]


def write_pair(root, up: tuple[str, str], down: tuple[str, str]):
    """A registry of two tables: ``up`` (shape, zone) read by ``down`` (shape, zone); one DAG each."""
    (root / "teams").mkdir()
    (root / "teams" / "data.yaml").write_text(
        "name: data\ncontacts:\n  - name: Lead\n    email: lead@example.com\nyarn:\n  queue: data\n")
    (root / "ddl" / "data").mkdir(parents=True)
    for name, (shape, tz), inputs in (("up", up, ""), ("down", down, "db.up")):
        cron, kind = SHAPES[shape]
        props = {"mesh.producer": f"dag_{name}.build", "mesh.schedule": cron, "mesh.access": "public",
                 "mesh.start_date": "2025-06-01", "mesh.timezone": tz, "mesh.timetable": kind.value}
        props |= {"mesh.inputs": inputs} if inputs else {}
        (root / "ddl" / "data" / f"{name}.sql").write_text(table_ddl(f"db.{name}", props))
    return root


@pytest.mark.parametrize("tz", ZONES)
@pytest.mark.parametrize("up,down", list(itertools.product(SHAPES, repeat=2)))
def test_planned_runs_match_brute_force(truth, tmp_path, up, down, tz):
    """The planner re-runs exactly the consumer runs (Airflow's logical dates) that read a re-run producer period."""
    from airflow_mesh.core.planner import plan_backfill
    from airflow_mesh.core.registry.loader import load_mesh

    down_tz = ZONES[(ZONES.index(tz) + 1) % len(ZONES)]  # consumers in another zone than their producer
    mesh = load_mesh(write_pair(tmp_path, (up, tz), (down, down_tz)))
    for w, backfill in enumerate(BACKFILLS):
        plan = plan_backfill(mesh, ["db.up"], backfill, now=datetime(2027, 6, 1, tzinfo=UTC))
        prod = [p for _, p in truth[(up, tz, w)] if p.overlaps(backfill)]
        want_up = [ld for ld, p in truth[(up, tz, w)] if p.overlaps(backfill)]
        want_down = [ld for ld, p in truth[(down, down_tz, w)] if any(p.overlaps(q) for q in prod)]
        got_up = [ld for r in plan.dags["dag_up"].ranges for ld in r.logical_dates(SHAPES[up][1])]
        got_down = [ld for r in plan.dags["dag_down"].ranges for ld in r.logical_dates(SHAPES[down][1])]
        assert got_up == want_up, (up, tz, backfill)
        assert got_down == want_down, (up, tz, down, down_tz, backfill)
        assert plan.dags["dag_down"].runs == len(want_down)


@pytest.mark.parametrize("tz", ZONES)
@pytest.mark.parametrize("cron", ["0,20 * * * *", "*/15 * * * *", "30 */2 * * *", "0 9 * * 1-5"])
def test_irregular_and_sub_hourly_crons_tick_as_airflow_does(cron, tz):
    """Crons outside the six shapes (Airflow's fold-hour rule, weekday lists) across both transitions."""
    grid = grid_for(cron, tz)
    for start, end in WINDOWS:
        runs = airflow_runs(cron, tz, TimetableKind.TRIGGER, start, end)
        ends = [p.end for _, p in runs]
        assert list(grid.iter_ticks(ends[0], ends[-1])) == ends, (cron, tz)
        assert grid.count(ends[0], ends[-1]) == len(ends)
        for ld, period in runs[:: max(1, len(runs) // 50)]:
            assert period_of_logical_date(grid, ld, TimetableKind.TRIGGER) == period
