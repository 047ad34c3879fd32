"""Seed the demo: put the example mesh's DAGs in the metadata DB and give them history since the start of last month.

``make demo`` calls ``python scripts/demo.py``. History is created through
Airflow's own run creation (``scripts/seed.py``) at each DAG's real
schedule ticks, so the grid view, the table sensors and the backfill planner
see the same runs the scheduler would have made.
"""

from __future__ import annotations

import sys
from pathlib import Path as _Path

sys.path.insert(0, str(_Path(__file__).resolve().parents[1] / "scripts"))  # seed.py: demo/test tooling, not in the wheel

from datetime import datetime, timedelta

from seed import seed_runs, sync_dags_to_db

from airflow_mesh.core.intervals import UTC, as_utc, grid_for
from airflow_mesh.settings import configured_mesh


def history_start(now: datetime) -> datetime:
    """The first day of the previous month: enough history that a backfill of any recent week finds
    every input its downstream monthly, weekly and daily runs wait for."""
    first_of_month = as_utc(now).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (first_of_month - timedelta(days=1)).replace(day=1)


def seed_history(now: datetime, start: datetime | None = None) -> dict[str, int]:
    """Successful runs of every mesh DAG from ``start`` (default :func:`history_start`) to the last complete day."""
    mesh = configured_mesh()
    end = as_utc(now).replace(hour=0, minute=0, second=0, microsecond=0)
    start = start or history_start(now)
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
