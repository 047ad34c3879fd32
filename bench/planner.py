"""Planning time of a one-year backfill of an hourly root with everything downstream.

Two shapes of synthetic mesh (bench/synthetic_mesh.py), N=500 (Adyen scale) and N=5,000 tables:

* ``teams``: one DAG per team and schedule, the root reaches part of the mesh;
* ``all_downstream`` (the worst case): every table is downstream of the root and
  each table has its own DAG, so every per-table cost shows.

Targets: ``teams`` N=500 < 50 ms, N=5,000 < 100 ms; ``all_downstream`` N=500 < 10 ms,
N=5,000 < 50 ms. The median is of 9 plans on the same mesh; ``first`` is the first of them, which also
builds the planner's per-mesh index (topological order, per-table facts) once per Mesh object.
Run: PYTHONPATH=. .venv/bin/python bench/planner.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic_mesh import generate  # noqa: E402

if TYPE_CHECKING:
    from airflow_mesh.core.registry.mesh import Mesh
    from airflow_mesh.core.registry.models import Table

TARGET_MS = {("teams", 500): 50, ("teams", 5000): 100, ("all_downstream", 500): 10, ("all_downstream", 5000): 50}


def bench_root(mesh: Mesh, shape: str) -> Table:
    """The benchmarked root: table 0 (``all_downstream``), else the hourly table reaching the most tables.
    Shared with bench/dagster_reference.py, so the Dagster reference backfills the same root."""
    hourly = [t for t in mesh.tables.values() if t.schedule == "@hourly"]
    if shape == "all_downstream":
        return mesh.tables[min(t.name for t in hourly if t.name.endswith("t00000"))]
    return max(hourly, key=lambda t: len(mesh.closure(t.name)))


def main() -> None:
    from airflow_mesh.core.intervals import UTC, Period
    from airflow_mesh.core.planner import plan_backfill
    from airflow_mesh.core.registry.loader import load_mesh

    now = datetime(2026, 11, 23, tzinfo=UTC)
    year = Period(datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
    with tempfile.TemporaryDirectory() as tmp:
        for shape in ("teams", "all_downstream"):
            for n in (500, 5000):
                mesh = load_mesh(generate(Path(tmp) / f"{shape}{n}", n, shape=shape))
                root = bench_root(mesh, shape)
                samples = []
                for _ in range(9):
                    t = time.process_time()  # CPU time: the machine is shared, wall time is noise
                    plan = plan_backfill(mesh, [root.name], year, now=now)
                    samples.append(time.process_time() - t)
                ranges = sum(len(d.ranges) for d in plan.dags.values())
                median = statistics.median(samples) * 1000
                target = TARGET_MS[(shape, n)]
                print(f"{shape:>14} N={n:5d}: CPU median {median:6.1f} ms, best {min(samples) * 1000:6.1f} ms "
                      f"(target < {target} ms: {'met' if median < target else 'NOT met'}), first {samples[0] * 1000:6.1f} ms | "
                      f"{sum(len(d.tables) for d in plan.dags.values())} tables in {len(plan.dags)} DAGs, "
                      f"{len(plan.waves)} waves, {plan.runs:,} runs held as {ranges} ranges")


if __name__ == "__main__":
    main()
