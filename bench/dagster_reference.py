"""Dagster reference for the planner benchmark (target: the mesh planner >= 20x faster than Dagster).

The same graphs as bench/planner.py: the synthetic meshes of bench/synthetic_mesh.py (``all_downstream``
and ``teams``, N=500 and N=5,000 tables), loaded by the pure core, and the same backfill: the root that
bench/planner.py picks (:func:`planner.bench_root`), over 2025 (8,760 hourly partitions), everything
downstream, ``now`` 2026-11-23. Each table becomes one materializable Dagster asset (a one-spec
``multi_asset``) with the time-window partitions of its ``mesh.schedule`` (Hourly/Daily/Weekly/Monthly
``PartitionsDefinition``, UTC, start 2025-01-01, as ``mesh.start_date``) and its ``mesh.inputs`` as deps,
so Dagster's default ``TimeWindowPartitionMapping`` maps partitions between schedules.

What is timed, on Dagster's side: what a "materialize with downstream" backfill launched from the UI
computes before the daemon's first iteration, i.e. resolving the asset selection
(``AssetSelection.assets(root).downstream().resolve(graph)``) and
``dagster._core.execution.asset_backfill.AssetBackfillData.from_asset_partitions(asset_graph,
partition_names, asset_selection, ..., all_partitions=False)``, which ``PartitionBackfill.from_asset_partitions``
(the launch-backfill path) calls; it walks the graph with ``BaseAssetGraph.bfs_filter_subsets`` and each
edge's ``PartitionMapping.get_downstream_partitions_for_partitions``. The graph is the one the webserver and
daemon use, a ``RemoteWorkspaceAssetGraph`` (built from a ``RepositorySnap`` with Dagster's own
``mock_workspace_from_repos`` test helper); the in-process ``AssetGraph`` of the ``Definitions`` is timed too.
Not timed: building either graph, and the 8,760 root partition keys (the request's input, as the mesh's
``Period`` is). Timing is CPU time (``time.process_time``), the median of ``--repeats`` on the same graph, as
bench/planner.py times the mesh planner; ``first`` is the first repeat (it fills Dagster's per-graph caches).
The mesh planner is timed in this same process (its pure core needs no Airflow), before Dagster is imported.

Counts: the mesh plans DAG runs (a DAG writing several tables runs once per period for all of them);
Dagster targets asset-partitions. Both are printed, and Dagster's target is also counted as DAG runs (the
union of each DAG's tables' partitions), which is what must equal the mesh's ``runs``. A second count applies
Dagster's own partition mappings in topological order (every parent before its children): it checks that
the graph and mappings are the same as the mesh's, and shows what Dagster's breadth-first walk leaves out
(``bfs_filter_subsets`` takes a child's subset when the child is dequeued; a parent reached by a longer path
is dequeued later and its partitions never reach the child: e.g. a monthly table reading the hourly root
directly and a weekly table three steps down misses January 2026, which the last week of 2025 reaches).
Which tables lose partitions can vary between processes: it follows set order (hash seeds).

Run (Dagster is never installed into the project's venv): ``make bench-dagster-reference``, or
``PYTHONPATH=. .venv-dagster/bin/python bench/dagster_reference.py [--sizes 500 5000] [--repeats 9]``.
"""

from __future__ import annotations

import argparse
import functools
import operator
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from planner import bench_root  # noqa: E402
from synthetic_mesh import generate  # noqa: E402

from airflow_mesh.core.intervals import UTC, Period  # noqa: E402
from airflow_mesh.core.planner import plan_backfill  # noqa: E402
from airflow_mesh.core.registry.loader import load_mesh  # noqa: E402
from airflow_mesh.core.registry.mesh import Mesh  # noqa: E402

NOW = datetime(2026, 11, 23, tzinfo=UTC)
YEAR = Period(datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
ISSUE_RATIO = 20  # the target: the mesh planner at least 20x faster than Dagster's targeting


@dataclass
class Case:
    shape: str
    n: int
    mesh: Mesh
    root: str
    mesh_samples: list[float]
    mesh_runs: int
    mesh_dags: int


def cpu_samples(fn: Callable[[], Any], repeats: int) -> tuple[list[float], Any]:
    """CPU seconds of ``repeats`` calls of ``fn`` (the machine is shared: wall time is noise), and the last result."""
    samples, result = [], None
    for _ in range(repeats):
        t = time.process_time()
        result = fn()
        samples.append(time.process_time() - t)
    return samples, result


def ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:7.1f} ms"


def time_mesh(shape: str, n: int, tmp: Path, repeats: int) -> Case:
    mesh = load_mesh(generate(tmp / f"{shape}{n}", n, shape=shape))
    root = bench_root(mesh, shape).name
    samples, plan = cpu_samples(lambda: plan_backfill(mesh, [root], YEAR, now=NOW), repeats)
    return Case(shape, n, mesh, root, samples, plan.runs, len(plan.dags))


class DagsterSide:
    """The mesh as Dagster assets, and Dagster's targeting of the same backfill. Imports Dagster lazily."""

    def __init__(self) -> None:
        import dagster as dg

        self.dg = dg
        self.partitions = {  # UTC, start = mesh.start_date of every synthetic table
            "@hourly": dg.HourlyPartitionsDefinition(start_date="2025-01-01-00:00"),
            "@daily": dg.DailyPartitionsDefinition(start_date="2025-01-01"),
            "@weekly": dg.WeeklyPartitionsDefinition(start_date="2025-01-01"),  # Sundays, as Airflow's @weekly
            "@monthly": dg.MonthlyPartitionsDefinition(start_date="2025-01-01"),
        }

    def key(self, table: str) -> Any:
        return self.dg.AssetKey(table.split("."))

    def graphs(self, mesh: Mesh) -> dict[str, Any]:
        """The in-process ``AssetGraph`` and the ``RemoteWorkspaceAssetGraph`` the webserver/daemon use."""
        from dagster._core.definitions.assets.graph.remote_asset_graph import RemoteWorkspaceAssetGraph
        from dagster._core.test_utils import mock_workspace_from_repos

        dg = self.dg
        unknown = sorted({t.schedule for t in mesh.tables.values()} - set(self.partitions))
        if unknown or any(t.timezone != "UTC" for t in mesh.tables.values()):
            raise SystemExit(f"dagster_reference: schedules {unknown} or non-UTC tables have no Dagster mapping here. "
                             "Fix: add their PartitionsDefinition to DagsterSide.partitions")
        assets = [
            dg.multi_asset(
                name="build_" + t.name.replace(".", "__"),
                specs=[dg.AssetSpec(self.key(t.name), deps=[self.key(i) for i in t.inputs],
                                    partitions_def=self.partitions[t.schedule])],
            )(lambda context: None)
            for t in mesh.tables.values()
        ]
        defs = dg.Definitions(assets=assets)
        return {"remote workspace graph": RemoteWorkspaceAssetGraph.build(
                    mock_workspace_from_repos([defs.get_repository_def()])),
                "in-process AssetGraph": defs.resolve_asset_graph()}

    def root_keys(self) -> list[str]:
        hourly = self.partitions["@hourly"]
        first = hourly.get_partition_key_for_timestamp(YEAR.start.timestamp())
        last = hourly.get_partition_key_for_timestamp(YEAR.end.timestamp() - 1)
        return list(hourly.get_partition_keys_in_range(self.dg.PartitionKeyRange(first, last)))

    def target(self, graph: Any, root: str, names: list[str]) -> Any:
        """What a launched "root and everything downstream" backfill targets (the timed call)."""
        from dagster._core.execution.asset_backfill import AssetBackfillData

        selection = self.dg.AssetSelection.assets(self.key(root)).downstream().resolve(graph)
        return AssetBackfillData.from_asset_partitions(
            asset_graph=graph, partition_names=names, asset_selection=list(selection),
            dynamic_partitions_store=None, backfill_start_timestamp=NOW.timestamp(), all_partitions=False,
        ).target_subset

    def topological(self, graph: Any, mesh: Mesh, root: str, names: list[str]) -> dict[str, Any]:
        """Dagster's partition mappings applied parents-first (the check; not Dagster's code path)."""
        reached = set(mesh.closure(root))
        subsets: dict[str, Any] = {root: self.partitions["@hourly"].subset_with_partition_keys(names)}
        for name in mesh.topological_order(reached):
            child_def = self.partitions[mesh.tables[name].schedule]
            parts = [subsets[name]] if name in subsets else []
            for parent in mesh.tables[name].inputs:
                if parent in subsets:
                    mapping = graph.get_partition_mapping(self.key(name), self.key(parent))
                    parts.append(mapping.get_downstream_partitions_for_partitions(
                        subsets[parent], self.partitions[mesh.tables[parent].schedule],
                        downstream_partitions_def=child_def))
            if parts:
                subsets[name] = functools.reduce(operator.or_, parts)
        return subsets

    @staticmethod
    def counts(mesh: Mesh, subsets: dict[str, Any]) -> tuple[int, int]:
        """(asset-partitions, DAG runs): a DAG's runs are the union of its tables' partitions."""
        by_dag: dict[str, list[Any]] = {}
        for name, subset in subsets.items():
            by_dag.setdefault(mesh.tables[name].producer_dag, []).append(subset)
        runs = sum(len(s[0]) if len(s) == 1 else len(functools.reduce(operator.or_, s)) for s in by_dag.values())
        return sum(len(s) for s in subsets.values()), runs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[500, 5000])
    p.add_argument("--shapes", nargs="+", choices=("all_downstream", "teams"), default=["all_downstream", "teams"])
    p.add_argument("--repeats", type=int, default=9)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cases = [time_mesh(shape, n, Path(tmp), a.repeats) for shape in a.shapes for n in a.sizes]
    t = time.process_time()
    side = DagsterSide()
    import dagster

    print(f"Dagster {dagster.__version__} (imported in {time.process_time() - t:.1f} s CPU); "
          f"backfill of the root over {YEAR} with everything downstream, CPU medians of {a.repeats} repeats")
    names = side.root_keys()
    for c in cases:
        t = time.process_time()
        graphs = side.graphs(c.mesh)
        built = time.process_time() - t
        print(f"\n{c.shape} N={c.n:,}: root {c.root}, {len(names):,} root partitions; Dagster graphs built in "
              f"{built:.1f} s CPU (not timed)")
        print(f"  mesh planner plan_backfill          : median {ms(c.mesh_samples)}, first {c.mesh_samples[0] * 1000:7.1f} ms"
              f" | {c.mesh_runs:,} runs of {c.mesh_dags} DAGs")
        check = side.topological(graphs["remote workspace graph"], c.mesh, c.root, names)
        parts_topo, runs_topo = side.counts(c.mesh, check)
        headline = None
        for label, graph in graphs.items():
            samples, target = cpu_samples(lambda: side.target(graph, c.root, names), a.repeats)  # noqa: B023
            subsets = {".".join(k.path): s for k, s in target.partitions_subsets_by_asset_key.items()}
            parts, runs = side.counts(c.mesh, subsets)
            ratio = statistics.median(samples) / statistics.median(c.mesh_samples)
            headline = headline or ratio
            print(f"  Dagster targeting, {label:<22}: median {ms(samples)}, first {samples[0] * 1000:7.1f} ms"
                  f" | {parts:,} asset-partitions = {runs:,} DAG runs over {len(subsets)} assets"
                  f" | Dagster / mesh = {ratio:,.0f}x (first: {samples[0] / c.mesh_samples[0]:,.0f}x)")
            if runs != runs_topo:
                missed = sorted(n for n, s in check.items() if len(s) != len(subsets.get(n, ())))
                print(f"    it targets {runs_topo - runs:,} DAG run(s) fewer than the check below, in {len(missed)} "
                      f"table(s) (first: {', '.join(missed[:3])}): its breadth-first walk visits a parent reached by "
                      "a longer path after its child, so that parent's partitions never reach the child")
        same = "equal to" if runs_topo == c.mesh_runs else "DIFFERENT from"
        print(f"  check: Dagster's partition mappings applied parents-first give {parts_topo:,} asset-partitions = "
              f"{runs_topo:,} DAG runs, {same} the mesh plan's {c.mesh_runs:,} runs")
        print(f"  target (Dagster / mesh >= {ISSUE_RATIO}x, remote workspace graph): "
              f"{'met' if headline and headline >= ISSUE_RATIO else 'NOT met'}")


if __name__ == "__main__":
    main()
