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

import itertools
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


class _Facts(NamedTuple):
    """What the planner reads of one table, gathered once per mesh (attribute reads on the frozen
    pydantic ``Table`` cost several times a tuple's unpacking, and a plan reads ten of them for every
    reached table)."""

    inputs: tuple[str, ...]  # sorted, without the table itself: the order ``DagPlan.reads`` is given in
    grid: Grid
    share_key: int  # the same for tables with the same grid and start date: their shares are equal
    start_date: datetime | None
    team: str
    dag_id: str
    dag_tables: int  # tables the producer DAG writes in the whole mesh (1: its DagPlan is built at once)
    schedule: str
    timezone: str
    task: str


class _FactsOf(dict[str, _Facts]):
    """The facts of a mesh's tables, each gathered the first time a plan reaches the table (a plan of a
    few tables in a large mesh does not pay for the rest)."""

    def __init__(self, mesh: Mesh) -> None:
        super().__init__()
        self._mesh = mesh
        self._share_keys: dict[tuple[int, datetime | None], int] = {}
        self._numbers = itertools.count()
        self._grids: list[Grid] = []  # holds the grids: share keys use their ids

    def __missing__(self, name: str) -> _Facts:
        mesh = self._mesh
        t = mesh.tables[name]
        grid = table_grid(t)
        self._grids.append(grid)
        # Safe with threads (API servers plan in a thread pool): next() and dict.setdefault on these keys
        # are each one step, so two pairs can never get one number; a lost race only costs a memo hit.
        share_key = self._share_keys.setdefault((id(grid), t.start_date), next(self._numbers))
        facts = self[name] = _Facts(
            inputs=tuple(sorted(i for i in t.inputs if i != name)), grid=grid, share_key=share_key,
            start_date=t.start_date, team=t.team, dag_id=t.producer_dag,
            dag_tables=len(mesh.tables_by_dag[t.producer_dag]), schedule=t.schedule, timezone=t.timezone,
            task=t.producer_task)
        return facts


class _MeshIndex:
    """A mesh's topological order and its tables' facts, kept per Mesh object (it is immutable)."""

    __slots__ = ("facts", "order", "position")

    def __init__(self, mesh: Mesh) -> None:
        self.order: list[str] = mesh.topological_order()
        self.position = {name: i for i, name in enumerate(self.order)}
        self.facts = _FactsOf(mesh)


_INDEXES: dict[int, tuple[Mesh, _MeshIndex]] = {}


def _index_of(mesh: Mesh) -> _MeshIndex:
    hit = _INDEXES.get(id(mesh))
    if hit is not None and hit[0] is mesh:
        return hit[1]
    if len(_INDEXES) >= 8:
        _INDEXES.clear()
    index = _MeshIndex(mesh)
    _INDEXES[id(mesh)] = (mesh, index)  # holding the mesh keeps its id from being reused
    return index


def _in_order(mesh: Mesh, index: _MeshIndex, roots: list[str], downstream: bool, depth: int | None) -> list[str]:
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
    if 8 * len(reach) > len(index.order):  # most of the mesh: one pass over its order beats sorting
        ordered = [name for name in index.order if name in reach]
        if len(ordered) == len(reach):
            return ordered
    return sorted(reach, key=index.position.__getitem__)  # (a table outside the order fails here, by name)


class _Uniter:
    """Union of input time sets, memoised by the identity of the inputs; every set interned by value.

    Thousands of tables read the same few re-run sets; each distinct combination is merged
    once, and equal sets (a year of hourly runs and a year of daily runs cover the same time)
    are one object, so most unions are of one object with itself and the per-table memo
    (keyed by identity) hits.
    """

    def __init__(self) -> None:
        self._by_inputs: dict[frozenset[int], tuple[list[IntervalSet], IntervalSet]] = {}
        self._interned: dict[IntervalSet, IntervalSet] = {}

    def intern(self, time: IntervalSet) -> IntervalSet:
        """The one object equal to ``time`` (the first seen)."""
        return self._interned.setdefault(time, time)

    def __call__(self, sets: list[IntervalSet]) -> IntervalSet:
        first = sets[0]
        for s in sets:
            if s is not first:
                break
        else:
            return first
        key = frozenset(map(id, sets))
        hit = self._by_inputs.get(key)
        if hit is None:
            hit = self._by_inputs[key] = (sets, self.intern(IntervalSet.union_of(sets)))  # holds the inputs: ids stay theirs
        return hit[1]


def _share(start_date: datetime | None, grid: Grid, wanted: IntervalSet, now: datetime, unite: _Uniter) -> _Share:
    """Widen ``wanted`` to whole runs of ``grid``, then keep the runs a table starting at ``start_date``
    may have (see :func:`_cut`). The time they cover is interned by ``unite``."""
    ranges = run_ranges(grid, wanted)
    kept, notes = _cut(start_date, ranges, _allowed_runs(start_date, grid, ranges, now), now)
    time = unite.intern(IntervalSet(tuple(r.period for r in kept)))
    return _Share(tuple(kept), time, sum(r.count for r in kept), tuple(notes))


def _allowed_runs(start_date: datetime | None, grid: Grid, ranges: list[RunRange], now: datetime) -> Period:
    """The period-end ticks a table may run at: whole periods from its start date, ending by ``now``."""
    latest = grid.floor(now)  # a run whose period ends after now has not happened yet
    if start_date is not None:
        earliest = grid.next_after(grid.ceil(start_date))  # first run whose period starts at/after start_date
    else:
        earliest = ranges[0].first if ranges else latest
    return Period(min(earliest, latest), latest)


def _cut(start_date: datetime | None, ranges: list[RunRange], allowed: Period,
         now: datetime) -> tuple[list[RunRange], list[str]]:
    """Keep the runs whose period-end tick lies in ``allowed``; say exactly which runs were cut, and why."""
    kept: list[RunRange] = []
    notes: list[str] = []
    for r in ranges:
        grid = r.grid
        if r.first < allowed.start:
            cut = RunRange(grid, r.first, min(r.last, grid.prev_before(allowed.start)))
            notes.append(f"{cut.count} run(s) covering {cut.period} left out: no data before its start "
                         f"date {iso(start_date) if start_date else '?'}")
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

    Cost: one pass over the reached tables with a handful of dict reads each; a DAG that writes
    one table of the mesh gets its :class:`DagPlan` in that pass, the others are grouped after it.
    """
    now = as_utc(now)
    roots = resolve_roots(mesh, roots)
    root_set = set(roots)
    plan = Plan(roots=roots, period=period)
    dags, left_out = plan.dags, plan.left_out
    unite = _Uniter()
    requested = unite.intern(IntervalSet.of([period]))
    index = _index_of(mesh)
    facts = index.facts
    # What readers need of an affected table: its share (the time its runs cover) and its wave. Two dicts,
    # not a dict of pairs: a pair per table is one more object for the garbage collector to walk.
    affected: dict[str, _Share] = {}
    waves: dict[str, int] = {}
    # (share key, id of input time) -> (input time, share). The memo holds each input time, so an id
    # is never reused within one plan.
    memo: dict[tuple[int, int], tuple[IntervalSet, _Share]] = {}
    several: dict[str, list[str]] = {}  # DAGs writing several tables of the mesh: their affected tables
    for name in _in_order(mesh, index, roots, downstream, depth):
        inputs, grid, share_key, start_date, team, dag_id, dag_tables, schedule, timezone, task = facts[name]
        if team in stop_at_teams:
            left_out.append(f"{name}: team {team} excluded (stop at teams)")
            continue
        reads = [i for i in inputs if i in affected]  # sorted, as inputs are
        is_root = name in root_set
        if not reads and not is_root:
            continue
        wanted, level = _wanted(reads, affected, waves, requested if is_root else None, unite)
        hit = memo.get((share_key, id(wanted)))
        if hit is None:
            hit = memo[share_key, id(wanted)] = (wanted, _share(start_date, grid, wanted, now, unite))
        share = hit[1]
        if share.notes:
            left_out.extend(f"{name}: {note}" for note in share.notes)
        if not share.ranges:
            continue
        affected[name], waves[name] = share, level
        if dag_tables == 1:  # the common case, kept cheap: one table, its share as is
            dags[dag_id] = DagPlan(dag_id, team, schedule, [name], [task], list(share.ranges), level, reads, is_root,
                                   timezone, share.runs)
        elif dag_id in several:
            several[dag_id].append(name)
        else:
            several[dag_id] = [name]
            dags[dag_id] = None  # type: ignore[assignment]  # holds the DAG's place in the order; set below
    for dag_id, tables in several.items():
        dags[dag_id] = _dag_plan(facts, dag_id, tables, affected, waves, root_set)
    plan.runs = sum(d.runs for d in dags.values())
    return plan


def _wanted(reads: list[str], affected: dict[str, _Share], waves: dict[str, int], root: IntervalSet | None,
            unite: _Uniter) -> tuple[IntervalSet, int]:
    """The time a table must re-run for (what its affected inputs re-run, and ``root``, the requested
    range, if it is a root), and its wave (one after its latest input's).

    Most tables read inputs that re-run the same interned set: that case is one identity test per input.
    """
    wanted, level, mixed = root, -1, False
    for i in reads:
        time, wave = affected[i].time, waves[i]
        if wanted is None:
            wanted = time
        elif time is not wanted:
            mixed = True
        if wave > level:
            level = wave
    if mixed:
        wanted = unite([affected[i].time for i in reads] + ([root] if root is not None else []))
    assert wanted is not None  # a table with neither affected inputs nor a requested range is skipped
    return wanted, level + 1


def _dag_plan(facts: dict[str, _Facts], dag_id: str, tables: list[str], affected: dict[str, _Share],
              waves: dict[str, int], roots: set[str]) -> DagPlan:
    """The :class:`DagPlan` of a DAG writing several tables: the union of its affected tables' runs,
    in the wave after its inputs."""
    first = facts[tables[0]]
    if len(tables) == 1:  # only one of its tables is affected: its share as is
        name = tables[0]
        share = affected[name]
        return DagPlan(dag_id, first.team, first.schedule, [name], [first.task], list(share.ranges), waves[name],
                       [i for i in first.inputs if i in affected], name in roots, first.timezone, share.runs)
    ranges = run_ranges(first.grid, IntervalSet.union_of(affected[n].time for n in tables))
    own = set(tables)
    return DagPlan(
        dag_id=dag_id, team=first.team, schedule=first.schedule, tables=sorted(tables),
        tasks=sorted({facts[n].task for n in tables}), ranges=ranges, wave=max(waves[n] for n in tables),
        reads=sorted({i for n in tables for i in facts[n].inputs if i in affected and i not in own}),
        is_root=not own.isdisjoint(roots), timezone=first.timezone, runs=sum(r.count for r in ranges))
