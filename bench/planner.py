"""Planning time of a one-year backfill of an hourly root with everything downstream.

Synthetic meshes (bench/synthetic_mesh.py) of N=500 (Adyen scale) and N=5,000 tables.
Targets: under 50 ms and under 100 ms. Run: .venv/bin/python bench/planner.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic_mesh import generate  # noqa: E402


def main() -> None:
    from airflow_mesh.core.intervals import UTC, Period
    from airflow_mesh.core.planner import plan_backfill
    from airflow_mesh.core.registry.loader import load_mesh

    now = datetime(2026, 11, 23, tzinfo=UTC)
    year = Period(datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["AIRFLOW__MESH__CACHE_DIR"] = str(Path(tmp) / "cache")
        for n in (500, 5000):
            mesh = load_mesh(generate(Path(tmp) / f"mesh{n}", n))
            root = max((t for t in mesh.tables.values() if t.schedule == "@hourly"),
                       key=lambda t: len(mesh.closure(t.name)))
            samples = []
            for _ in range(7):
                t = time.perf_counter()
                plan = plan_backfill(mesh, [root.name], year, now=now)
                samples.append(time.perf_counter() - t)
            ranges = sum(len(d.ranges) for d in plan.dags.values())
            print(f"N={n:5d}: plan {root.name} for 1 year + downstream: median {statistics.median(samples) * 1000:6.1f} ms, "
                  f"best {min(samples) * 1000:6.1f} ms | {sum(len(d.tables) for d in plan.dags.values())} tables in {len(plan.dags)} DAGs, {len(plan.waves)} waves, "
                  f"{plan.runs:,} runs held as {ranges} ranges")


if __name__ == "__main__":
    main()
