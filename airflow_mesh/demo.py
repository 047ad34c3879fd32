"""Seed the demo: put the example mesh's DAGs in the metadata DB and give them a few days of history.

``make demo`` calls ``python -m airflow_mesh.demo``. History is created through
Airflow's own run creation (:mod:`airflow_mesh.seed`) at each DAG's real
schedule ticks, so the grid view, the table sensors and the backfill planner
see the same runs the scheduler would have made.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow_mesh.intervals import UTC, as_utc, grid_for
from airflow_mesh.registry import load_mesh
from airflow_mesh.seed import seed_runs, sync_dags_to_db


def seed_history(now: datetime, days: int = 3) -> dict[str, int]:
    """Successful runs of every mesh DAG for the ``days`` complete days before ``now`` (and the last week/month)."""
    mesh = load_mesh()
    end = as_utc(now).replace(hour=0, minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days)
    counts: dict[str, int] = {}
    for dag_id, tables in mesh.tables_by_dag.items():
        grid = grid_for(mesh.tables[tables[0]].schedule)
        first = grid.next_after(start)
        if first > end:  # weekly/monthly: the last run before now
            first = grid.floor(end)
        ticks = list(grid.iter_ticks(first, grid.floor(end)))
        counts[dag_id] = len(seed_runs(dag_id, ticks))
    return counts


def main() -> None:
    dags = sync_dags_to_db()
    counts = seed_history(datetime.now(UTC))
    print(f"Loaded {len(dags)} mesh DAGs; seeded runs: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))


if __name__ == "__main__":
    main()
