"""Execution time and DB statements of a ~10,000-run mesh backfill on a real (SQLite) metadata DB.

Plans payments.transactions with everything downstream on the example mesh over a range
sized to about 10,000 runs, then executes it twice: first every run is created, then (the
same plan again, idempotent) every run exists and is cleared. Statements are counted with a
SQLAlchemy ``before_cursor_execute`` listener on Airflow's engine.
Run: .venv/bin/python bench/backfill_execute.py
"""

from __future__ import annotations

import sys
from pathlib import Path as _Path

sys.path.insert(0, str(_Path(__file__).resolve().parents[1] / "scripts"))  # seed.py: demo/test tooling, not in the wheel

import os
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

HOME = Path(tempfile.mkdtemp(prefix="bench-backfill-"))
os.environ.update({
    "AIRFLOW_HOME": str(HOME), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__DAGS_FOLDER": str(Path(__file__).resolve().parents[1] / "dags"),
    "AIRFLOW__MESH__ROOT": str(Path(__file__).resolve().parents[1]),
    "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR", "AIRFLOW__MESH__CACHE_DIR": str(HOME / "cache"),
})


def main() -> None:
    from sqlalchemy import event

    from airflow import settings
    from airflow.utils.db import resetdb

    from airflow_mesh.backfill.execute import execute
    from airflow_mesh.backfill.request import BackfillRequest
    from airflow_mesh.core.intervals import UTC
    from airflow_mesh.settings import configured_mesh
    from seed import sync_dags_to_db

    resetdb()
    sync_dags_to_db()
    now = datetime(2026, 11, 23, tzinfo=UTC)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    days = 60
    while True:  # grow the range until the plan has about 10,000 runs
        req = BackfillRequest(roots=["payments.transactions"], start=start, end=start + timedelta(days=days))
        plan = req.plan(configured_mesh(), now)
        if plan.runs >= 10_000:
            break
        days += 5
    statements = [0]
    event.listen(settings.engine, "before_cursor_execute", lambda *a, **k: statements.__setitem__(0, statements[0] + 1))
    print(f"plan: {plan.runs:,} runs in {len(plan.dags)} DAGs ({days} days of payments.transactions + downstream)")
    for label in ("create all runs", "clear all runs (same plan again)"):
        statements[0] = 0
        t = time.perf_counter()
        execute(plan, req, user="bench")
        elapsed = time.perf_counter() - t
        print(f"  {label:<34} {elapsed:7.1f} s  {statements[0]:>8,} statements  "
              f"({elapsed / plan.runs * 1000:.2f} ms and {statements[0] / plan.runs:.1f} statements per run)")


if __name__ == "__main__":
    main()
