"""The cross-DAG backfill planner's pure core: which runs of which DAGs a backfill touches.

Given root tables and a time range, walk the registry's table graph downstream in
topological order. Each table's affected time is an :class:`IntervalSet` (merged
ranges), widened to whole runs of its own schedule (in its own time zone). A table is
affected wherever an input is; a root is affected over the requested range *and*
wherever its inputs are (a root downstream of another root re-reads the re-run data).
A table's wave follows its inputs'. The plan holds each DAG's runs as
:class:`RunRange` s, never one object per run: a one-year hourly backfill with
everything downstream is a few ranges per DAG.

No Airflow import: the Airflow layer (``airflow_mesh.backfill``) maps the ranges to
DAG runs only to show a page or to execute.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from airflow_mesh.core.intervals import (
    Grid,
    IntervalSet,
    Period,
    RunRange,
    as_utc,
    grid_for,
    iso,
    run_ranges,
)
from airflow_mesh.core.registry.mesh import Mesh, UnknownTableError
from airflow_mesh.core.registry.models import Table


@dataclass
class DagPlan:
    """The affected runs of one DAG. ``runs`` is counted once, when the plan is built."""

    dag_id: str
    team: str
    schedule: str
    tables: list[str]
    tasks: list[str]  # producer tasks of the affected tables (the Airflow layer adds their readers and downstream)
    ranges: list[RunRange]
    wave: int
    reads: list[str] = field(default_factory=list)  # affected tables it reads: its tasks reading them re-run
    is_root: bool = False  # holds a root table: if it reads no affected table, its sensors need not re-run
    timezone: str = "UTC"
    runs: int = 0

    def __post_init__(self) -> None:
        self.runs = sum(r.count for r in self.ranges)


@dataclass
class Plan:
    roots: list[str]
    period: Period
    dags: dict[str, DagPlan] = field(default_factory=dict)
    left_out: list[str] = field(default_factory=list)
    runs: int = 0  # total, set once by plan_backfill

    @property
    def waves(self) -> list[list[str]]:
        out: dict[int, list[str]] = defaultdict(list)
        for d in self.dags.values():
            out[d.wave].append(d.dag_id)
        return [sorted(out[w]) for w in sorted(out)]

    def runs_by_team(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for d in self.dags.values():
            out[d.team] += d.runs
        return dict(sorted(out.items()))


class UnknownRootError(UnknownTableError):
    """A root that is neither a table nor a producing DAG or task of the registry."""


def resolve_roots(mesh: Mesh, roots: list[str]) -> list[str]:
    """Roots as tables: ``db.table``, or ``dag_id`` / ``dag_id.task_id`` (the tables they produce)."""
    out: list[str] = []
    for root in roots:
        if root in mesh.tables:
            out.append(root)
            continue
        produced = [t.name for t in mesh.tables.values() if root in (t.producer_dag, t.producer)]
        if not produced:
            raise UnknownRootError(
                f"{root!r} is neither a table of the registry nor a DAG or task that produces one; "
                "use db.table, dag_id or dag_id.task_id (see 'airflow-mesh show')")
        out.extend(sorted(produced))
    return list(dict.fromkeys(out))


def table_grid(t: Table) -> Grid:
    """A table's schedule grid, in its own time zone (cached by :func:`grid_for`)."""
    return grid_for(t.schedule, t.timezone)


@dataclass
class _Affected:
    """One table's share of the plan: its runs (whole runs of its grid) and the time they cover."""

    ranges: list[RunRange]
    time: IntervalSet
    level: int


def _reach(mesh: Mesh, roots: list[str], downstream: bool, depth: int | None) -> set[str]:
    reach: set[str] = set()
    for r in roots:
        reach.update(mesh.closure(r, "down", depth) if downstream else (r,))
    return reach


def _allowed_runs(t: Table, grid: Grid, ranges: list[RunRange], now: datetime) -> Period:
    """The period-end ticks a table may run at: whole periods from its start date, ending by ``now``."""
    latest = grid.floor(now)  # a run whose period ends after now has not happened yet
    if t.start_date is not None:
        earliest = grid.next_after(grid.ceil(t.start_date))  # first run whose period starts at/after start_date
    else:
        earliest = ranges[0].first if ranges else latest
    return Period(min(earliest, latest), latest)


def _cut(name: str, t: Table, ranges: list[RunRange], allowed: Period,
         now: datetime) -> tuple[list[RunRange], list[str]]:
    """Keep the runs whose period-end tick lies in ``allowed``; say exactly which runs were cut, and why."""
    kept: list[RunRange] = []
    notes: list[str] = []
    for r in ranges:
        grid = r.grid
        if r.first < allowed.start:
            last = min(r.last, grid.prev_before(allowed.start))
            cut = RunRange(grid, r.first, last)
            notes.append(f"{name}: {cut.count} run(s) covering {cut.period} left out: no data before its start "
                         f"date {iso(t.start_date) if t.start_date else '?'}")
        if r.last > allowed.end:
            first = max(r.first, grid.next_after(allowed.end))
            cut = RunRange(grid, first, r.last)
            notes.append(f"{name}: {cut.count} run(s) covering {cut.period} left out: their periods end after "
                         f"now ({iso(now)}), in the future")
        first, last = max(r.first, allowed.start), min(r.last, allowed.end)
        if first <= last:
            kept.append(r if (first, last) == (r.first, r.last) else RunRange(grid, first, last))
    return kept, notes


def plan_backfill(mesh: Mesh, roots: list[str], period: Period, *, now: datetime,
                  downstream: bool = True, depth: int | None = None,
                  stop_at_teams: frozenset[str] = frozenset()) -> Plan:
    """Plan a backfill of ``roots`` over ``period`` and (optionally) everything downstream.

    Never plans a run whose period starts before its table's ``mesh.start_date`` or ends
    after ``now``; every such cut is reported in :attr:`Plan.left_out`, naming the runs.
    Tables of teams in ``stop_at_teams`` are not planned, nor is anything reached only
    through them.
    """
    now = as_utc(now)
    roots = resolve_roots(mesh, roots)
    root_set = set(roots)
    plan = Plan(roots=roots, period=period)
    requested = IntervalSet.of([period])
    affected: dict[str, _Affected] = {}
    for name in mesh.topological_order(_reach(mesh, roots, downstream, depth)):
        t = mesh.tables[name]
        if t.team in stop_at_teams:
            plan.left_out.append(f"{name}: team {t.team} excluded (stop at teams)")
            continue
        sources = [affected[i] for i in t.inputs if i in affected]
        if not sources and name not in root_set:
            continue
        wanted = IntervalSet.union_of([s.time for s in sources] + ([requested] if name in root_set else []))
        grid = table_grid(t)
        ranges = run_ranges(grid, wanted)
        ranges, notes = _cut(name, t, ranges, _allowed_runs(t, grid, ranges, now), now)
        plan.left_out.extend(notes)
        if ranges:
            level = 1 + max((s.level for s in sources), default=-1)
            affected[name] = _Affected(ranges, IntervalSet(tuple(r.period for r in ranges)), level)
    _group_by_dag(mesh, plan, affected, root_set)
    plan.runs = sum(d.runs for d in plan.dags.values())
    return plan


def _group_by_dag(mesh: Mesh, plan: Plan, affected: dict[str, _Affected], roots: set[str]) -> None:
    """One :class:`DagPlan` per producer DAG: the union of its tables' runs, in the wave after its inputs."""
    by_dag: dict[str, list[str]] = defaultdict(list)
    for name in affected:
        by_dag[mesh.tables[name].producer_dag].append(name)
    for dag_id, tables in by_dag.items():
        first = mesh.tables[tables[0]]
        if len(tables) == 1:
            ranges = affected[tables[0]].ranges
        else:
            ranges = run_ranges(table_grid(first), IntervalSet.union_of(affected[n].time for n in tables))
        reads = sorted({i for n in tables for i in mesh.tables[n].inputs if i in affected} - set(tables))
        plan.dags[dag_id] = DagPlan(
            dag_id=dag_id, team=first.team, schedule=first.schedule, tables=sorted(tables),
            tasks=sorted({mesh.tables[n].producer_task for n in tables}),
            ranges=ranges, wave=max(affected[n].level for n in tables),
            reads=reads, is_root=any(n in roots for n in tables), timezone=first.timezone)
