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
from typing import NamedTuple

from airflow_mesh.core.contract import table_grid
from airflow_mesh.core.intervals import (
    Grid,
    IntervalSet,
    Period,
    RunRange,
    as_utc,
    iso,
    run_ranges,
)
from airflow_mesh.core.registry.mesh import Mesh, UnknownTableError
from airflow_mesh.core.registry.models import Table


@dataclass(slots=True)
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
    runs: int = -1  # counted once: given by the planner, else summed from the ranges

    def __post_init__(self) -> None:
        if self.runs < 0:
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


@dataclass(frozen=True)
class _Share:
    """The runs a table re-runs for some affected input time: whole runs of its grid, cuts applied.

    Shared by every table with the same grid, input time and start date (memoised per plan), so
    a mesh where thousands of tables read the same re-run year computes it a handful of times.
    """

    ranges: tuple[RunRange, ...]
    time: IntervalSet  # the periods those runs cover (what the table's readers see as re-run)
    runs: int
    notes: tuple[str, ...]  # what was cut and why, without the table name


class _Affected(NamedTuple):
    share: _Share
    level: int  # wave: one after its latest input's


#: Topological index of a mesh's tables, computed once per Mesh object (the mesh is immutable).
_ORDER: dict[int, tuple[Mesh, dict[str, int]]] = {}


def _topological_index(mesh: Mesh) -> dict[str, int]:
    hit = _ORDER.get(id(mesh))
    if hit is not None and hit[0] is mesh:
        return hit[1]
    if len(_ORDER) >= 8:
        _ORDER.clear()
    index = {name: i for i, name in enumerate(mesh.topological_order())}
    _ORDER[id(mesh)] = (mesh, index)  # holding the mesh keeps its id from being reused
    return index


def _in_order(mesh: Mesh, roots: list[str], downstream: bool, depth: int | None) -> list[str]:
    """The roots and (optionally) every table downstream within ``depth``, inputs before readers."""
    reach = dict.fromkeys(roots)
    frontier, distance = list(roots), 0
    while downstream and frontier and (depth is None or distance < depth):
        distance += 1
        nxt = []
        for name in frontier:
            for reader in mesh.consumers.get(name, ()):
                if reader not in reach:
                    reach[reader] = None
                    nxt.append(reader)
        frontier = nxt
    return sorted(reach, key=_topological_index(mesh).__getitem__)


class _Uniter:
    """Union of input time sets, memoised by the identity of the inputs (and interned by value).

    Thousands of tables read the same few re-run sets; each distinct combination is merged
    once, and equal results are one object, so the per-table memo (keyed by identity) hits.
    """

    def __init__(self) -> None:
        self._by_inputs: dict[tuple[int, ...], tuple[list[IntervalSet], IntervalSet]] = {}
        self._interned: dict[IntervalSet, IntervalSet] = {}

    def __call__(self, sets: list[IntervalSet]) -> IntervalSet:
        if len(sets) == 1:
            return sets[0]
        key = tuple(sorted({id(s) for s in sets}))
        hit = self._by_inputs.get(key)
        if hit is None:
            union = IntervalSet.union_of(sets)
            hit = self._by_inputs[key] = (sets, self._interned.setdefault(union, union))  # holds the inputs: ids stay theirs
        return hit[1]


def _share(t: Table, grid: Grid, wanted: IntervalSet, now: datetime) -> _Share:
    """Widen ``wanted`` to whole runs of ``grid``, then keep the runs ``t`` may have (see :func:`_cut`)."""
    ranges = run_ranges(grid, wanted)
    kept, notes = _cut(t, ranges, _allowed_runs(t, grid, ranges, now), now)
    return _Share(tuple(kept), IntervalSet(tuple(r.period for r in kept)), sum(r.count for r in kept), tuple(notes))


def _allowed_runs(t: Table, grid: Grid, ranges: list[RunRange], now: datetime) -> Period:
    """The period-end ticks a table may run at: whole periods from its start date, ending by ``now``."""
    latest = grid.floor(now)  # a run whose period ends after now has not happened yet
    if t.start_date is not None:
        earliest = grid.next_after(grid.ceil(t.start_date))  # first run whose period starts at/after start_date
    else:
        earliest = ranges[0].first if ranges else latest
    return Period(min(earliest, latest), latest)


def _cut(t: Table, ranges: list[RunRange], allowed: Period, now: datetime) -> tuple[list[RunRange], list[str]]:
    """Keep the runs whose period-end tick lies in ``allowed``; say exactly which runs were cut, and why."""
    kept: list[RunRange] = []
    notes: list[str] = []
    for r in ranges:
        grid = r.grid
        if r.first < allowed.start:
            cut = RunRange(grid, r.first, min(r.last, grid.prev_before(allowed.start)))
            notes.append(f"{cut.count} run(s) covering {cut.period} left out: no data before its start "
                         f"date {iso(t.start_date) if t.start_date else '?'}")
        if r.last > allowed.end:
            cut = RunRange(grid, max(r.first, grid.next_after(allowed.end)), r.last)
            notes.append(f"{cut.count} run(s) covering {cut.period} left out: their periods end after "
                         f"now ({iso(now)}), in the future")
        first, last = max(r.first, allowed.start), min(r.last, allowed.end)
        if first <= last:
            kept.append(r if (first, last) == (r.first, r.last) else RunRange(grid, first, last))
    return kept, notes


def plan_backfill(mesh: Mesh, roots: list[str], period: Period, *, now: datetime,
                  downstream: bool = True, depth: int | None = None,
                  stop_at_teams: frozenset[str] = frozenset()) -> Plan:
    """Plan a backfill of ``roots`` over ``period`` and (optionally) everything downstream.

    Steps: order the reached tables (inputs first); for each, unite the requested range (roots)
    with what its inputs re-run, widen to whole runs of its own grid and cut to its data range
    (memoised: tables with the same grid, input time and start date share one answer); then
    group the tables by producer DAG. Never plans a run whose period starts before its table's
    ``mesh.start_date`` or ends after ``now``; every such cut is reported in
    :attr:`Plan.left_out`, naming the runs. Tables of teams in ``stop_at_teams`` are not
    planned, nor is anything reached only through them.
    """
    now = as_utc(now)
    roots = resolve_roots(mesh, roots)
    root_set = set(roots)
    plan = Plan(roots=roots, period=period)
    requested = IntervalSet.of([period])
    affected: dict[str, _Affected] = {}
    # (grid, input time, start date) -> share. Keyed by identity: the shares' time sets are reused
    # objects, and the memo holds each key's objects, so an id is never reused within one plan.
    memo: dict[tuple[int, int, datetime | None], tuple[Grid, IntervalSet, _Share]] = {}
    tables = mesh.tables
    unite = _Uniter()
    for name in _in_order(mesh, roots, downstream, depth):
        t = tables[name]
        if t.team in stop_at_teams:
            plan.left_out.append(f"{name}: team {t.team} excluded (stop at teams)")
            continue
        sources = [affected[i] for i in t.inputs if i in affected]
        if not sources and name not in root_set:
            continue
        wanted = unite([s.share.time for s in sources] + ([requested] if name in root_set else []))
        grid = table_grid(t)
        key = (id(grid), id(wanted), t.start_date)
        hit = memo.get(key)
        share = hit[2] if hit is not None else _share(t, grid, wanted, now)
        if hit is None:
            memo[key] = (grid, wanted, share)
        if share.notes:
            plan.left_out.extend(f"{name}: {note}" for note in share.notes)
        if share.ranges:
            affected[name] = _Affected(share, 1 + max([s.level for s in sources]) if sources else 0)
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
        if len(tables) == 1:  # the common case, kept cheap: one table, its share as is
            name, a = tables[0], affected[tables[0]]
            plan.dags[dag_id] = DagPlan(
                dag_id=dag_id, team=first.team, schedule=first.schedule, tables=[name], tasks=[first.producer_task],
                ranges=list(a.share.ranges), wave=a.level,
                reads=sorted([i for i in first.inputs if i in affected and i != name]),
                is_root=name in roots, timezone=first.timezone, runs=a.share.runs)
            continue
        ranges = run_ranges(table_grid(first), IntervalSet.union_of(affected[n].share.time for n in tables))
        runs = sum(r.count for r in ranges)
        own = set(tables)
        reads = sorted({i for n in tables for i in mesh.tables[n].inputs if i in affected and i not in own})
        plan.dags[dag_id] = DagPlan(
            dag_id=dag_id, team=first.team, schedule=first.schedule, tables=sorted(tables),
            tasks=sorted({mesh.tables[n].producer_task for n in tables}),
            ranges=ranges, wave=max(affected[n].level for n in tables),
            reads=reads, is_root=not own.isdisjoint(roots), timezone=first.timezone, runs=runs)
