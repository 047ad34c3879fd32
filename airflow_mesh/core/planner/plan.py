"""The cross-DAG backfill planner's pure core: which runs of which DAGs a backfill touches.

Given root tables and a time range, walk the registry's table graph downstream.
Each table's affected time is an :class:`IntervalSet` (merged ranges), widened to
whole runs of its own schedule; a consumer is affected wherever an input is. The
plan holds each DAG's runs as :class:`RunRange` s, never one object per run:
a one-year hourly backfill with everything downstream is a few ranges per DAG.

No Airflow import: the Airflow layer turns ranges into runs only to show a page
or to execute (that layer, the API and the UI are not built yet; see README).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from airflow_mesh.core.intervals import IntervalSet, Period, RunRange, as_utc, grid_for, iso
from airflow_mesh.core.registry.mesh import Mesh, UnknownTableError


@dataclass
class DagPlan:
    """The affected runs of one DAG."""

    dag_id: str
    team: str
    schedule: str
    tables: list[str]
    tasks: list[str]  # producer tasks of the affected tables (the Airflow layer adds their readers and downstream)
    ranges: list[RunRange]
    wave: int
    reads: list[str] = field(default_factory=list)  # affected tables it reads: its tasks reading them re-run
    is_root: bool = False  # holds a root table: its inputs did not change, so its sensors need not re-run

    @property
    def runs(self) -> int:
        return sum(r.count for r in self.ranges)


@dataclass
class Plan:
    roots: list[str]
    period: Period
    dags: dict[str, DagPlan] = field(default_factory=dict)
    left_out: list[str] = field(default_factory=list)

    @property
    def waves(self) -> list[list[str]]:
        out: dict[int, list[str]] = defaultdict(list)
        for d in self.dags.values():
            out[d.wave].append(d.dag_id)
        return [sorted(out[w]) for w in sorted(out)]

    @property
    def runs(self) -> int:
        return sum(d.runs for d in self.dags.values())

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


def plan_backfill(mesh: Mesh, roots: list[str], period: Period, *, now: datetime,
                  downstream: bool = True, depth: int | None = None,
                  stop_at_teams: frozenset[str] = frozenset()) -> Plan:
    """Plan a backfill of ``roots`` over ``period`` and (optionally) everything downstream.

    Never plans a run before its table's ``mesh.start_date`` or whose period ends after
    ``now``; every such cut is reported in :attr:`Plan.left_out`. Tables of teams in
    ``stop_at_teams`` are not planned, nor is anything reached only through them.
    """
    now = as_utc(now)
    roots = resolve_roots(mesh, roots)
    plan = Plan(roots=roots, period=period)
    reach: dict[str, int] = {}
    for r in roots:
        for name, dist in (mesh.closure(r, "down", depth) if downstream else {r: 0}).items():
            reach[name] = min(dist, reach.get(name, dist))
    affected: dict[str, IntervalSet] = {}
    level: dict[str, int] = {}
    for name in mesh.topological_order(set(reach)):
        t = mesh.tables[name]
        if t.team in stop_at_teams:
            plan.left_out.append(f"{name}: team {t.team} excluded (stop at teams)")
            continue
        grid = grid_for(t.schedule)
        if name in roots:
            wanted = IntervalSet.of([period])
            level[name] = 0
        else:
            sources = [i for i in t.inputs if i in affected]
            if not sources:
                continue
            wanted = IntervalSet.of(p for i in sources for p in affected[i].periods)
            level[name] = 1 + max(level[i] for i in sources)
        snapped = wanted.snap_outward(grid)
        # Whole runs only: a run whose period ends after now has not happened yet.
        latest_end = grid.floor(now)
        if t.start_date is not None:
            earliest = t.start_date
        else:
            earliest = snapped.periods[0].start if snapped else latest_end
        bounds = Period(min(earliest, latest_end), latest_end)
        clipped = snapped.clip(bounds)
        if clipped.total < snapped.total:
            cut = []
            if snapped.periods and snapped.periods[-1].end > latest_end:
                cut.append(f"runs after {iso(latest_end)} are in the future")
            if t.start_date and snapped.periods and snapped.periods[0].start < t.start_date:
                cut.append(f"no data before its start date {iso(t.start_date)}")
            plan.left_out.append(f"{name}: " + "; ".join(cut or ["outside its data range"]))
        if clipped:
            affected[name] = clipped
    by_dag: dict[str, list[str]] = defaultdict(list)
    for name in affected:
        by_dag[mesh.tables[name].producer_dag].append(name)
    for dag_id, tables in by_dag.items():
        first = mesh.tables[tables[0]]
        grid = grid_for(first.schedule)
        union = IntervalSet.of(p for n in tables for p in affected[n].periods)
        reads = sorted({i for n in tables for i in mesh.tables[n].inputs if i in affected} - set(tables))
        plan.dags[dag_id] = DagPlan(
            dag_id=dag_id, team=first.team, schedule=first.schedule, tables=sorted(tables),
            tasks=sorted({mesh.tables[n].producer_task for n in tables}),
            ranges=union.run_ranges(grid), wave=max(level[n] for n in tables),
            reads=reads, is_root=any(n in roots for n in tables))
    return plan
