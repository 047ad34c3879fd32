"""The backfill planner's whole observable output on the benchmark's synthetic meshes, as plain data.

Issue #15 made the planner faster with the promise that no answer changes. This module is the
guard's two halves: :func:`cases` plans a fixed set of backfills (both mesh shapes, small N, grids
in several zones, start-date and future cuts, depth, no downstream, stopped teams, several roots,
DAG ids as roots) and :func:`observe` turns each plan into JSON data: every DAG plan's fields in
dict order, each range's grid/first/last/count, waves, runs, runs by team, left-out notes.

``python tests/unit/core/planner_snapshot.py`` wrote ``planner_snapshot.json`` once, from the code
*before* the optimisation (commit named in the file); ``test_planner_snapshot.py`` compares the
current planner with it. The one-year backfills of the N=60 meshes are stored in full (a failure
shows the difference); every other case as a SHA-256 of its canonical JSON plus a summary, to keep
the file small.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file())  # the repository
sys.path.insert(0, str(ROOT / "bench"))
from synthetic_mesh import generate  # noqa: E402

from airflow_mesh.core.intervals import UTC, Period  # noqa: E402
from airflow_mesh.core.planner import Plan, plan_backfill  # noqa: E402
from airflow_mesh.core.registry import load_mesh  # noqa: E402
from airflow_mesh.core.registry.mesh import Mesh  # noqa: E402

SNAPSHOT = Path(__file__).with_name("planner_snapshot.json")
STORED_IN_FULL = {f"{mesh}/year" for mesh in ("all_downstream-60", "all_downstream-zoned-60", "teams-60")}
ZONES = ("UTC", "Europe/Amsterdam", "America/New_York", "Asia/Kolkata")
MESHES = [  # (label, shape, N, time zones)
    ("all_downstream-60", "all_downstream", 60, ()),
    ("all_downstream-300", "all_downstream", 300, ()),
    ("all_downstream-zoned-60", "all_downstream", 60, ZONES),
    ("all_downstream-zoned-300", "all_downstream", 300, ZONES),
    ("teams-60", "teams", 60, ()),
    ("teams-300", "teams", 300, ()),
]
NOW = datetime(2026, 11, 23, tzinfo=UTC)


def d(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


YEAR = Period(d(2025, 1, 1), d(2026, 1, 1))


def _root(mesh: Mesh, shape: str) -> str:
    """The benchmark's root: ``t00000`` (all_downstream), else the hourly table reaching the most."""
    hourly = sorted(t.name for t in mesh.tables.values() if t.schedule == "@hourly")
    if shape == "all_downstream":
        return min(n for n in hourly if n.endswith("t00000"))
    return max(hourly, key=lambda n: len(mesh.closure(n)))


def _requests(mesh: Mesh, shape: str) -> Iterator[tuple[str, list[str], Period, dict[str, Any]]]:
    """(label, roots, period, keyword arguments) of every backfill planned on one mesh."""
    root = _root(mesh, shape)
    names = sorted(mesh.tables)
    daily = next(n for n in names if mesh.tables[n].schedule == "@daily" and n != root)
    weekly_dag = mesh.tables[next(n for n in names if mesh.tables[n].schedule == "@weekly")].producer_dag
    yield "year", [root], YEAR, {"now": NOW}
    yield "start-date-cut", [root], Period(d(2024, 12, 20), d(2025, 1, 10, 7)), {"now": NOW}
    yield "future-cut", [root], YEAR, {"now": d(2025, 6, 15, 12, 30)}
    yield "depth-2", [root], YEAR, {"now": NOW, "depth": 2}
    yield "no-downstream", [root], YEAR, {"now": NOW, "downstream": False}
    yield "stop-at-teams", [root], YEAR, {"now": NOW, "stop_at_teams": frozenset({"team03", "team07"})}
    yield "several-roots", [root, daily, weekly_dag], Period(d(2025, 2, 3, 5, 17), d(2025, 4, 9)), {"now": NOW}
    yield "dst-spring", [root], Period(d(2025, 3, 8, 22), d(2025, 3, 31, 6)), {"now": NOW}
    yield "dst-autumn", [root], Period(d(2025, 10, 26, 1, 17), d(2025, 11, 2, 5, 45)), {"now": NOW}
    yield "short-now-inside", [root, daily], Period(d(2025, 7, 30), d(2025, 8, 2)), {"now": d(2025, 8, 1, 9, 40)}


def _grid(g: Any) -> str:
    return f"{type(g).__name__}({g.expression!r}, {g.tz})"


def observe(plan: Plan) -> dict[str, Any]:
    """Everything a caller can read from ``plan``, as JSON data (dicts keep the plan's own order)."""
    return {
        "roots": plan.roots,
        "period": [plan.period.start.isoformat(), plan.period.end.isoformat()],
        "runs": plan.runs,
        "runs_by_team": plan.runs_by_team(),
        "waves": plan.waves,
        "left_out": plan.left_out,
        "dags": [[dag_id, p.dag_id, p.team, p.schedule, p.timezone, p.tables, p.tasks, p.reads, p.is_root,
                  p.wave, p.runs,
                  [[_grid(r.grid), r.first.isoformat(), r.last.isoformat(), r.count, r.grid.count(r.first, r.last),
                    str(r.period)] for r in p.ranges]]
                 for dag_id, p in plan.dags.items()],
    }


def canonical(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), sort_keys=False)


def digest(data: Any) -> str:
    return hashlib.sha256(canonical(data).encode()).hexdigest()


def summary(data: dict[str, Any]) -> dict[str, int]:
    """A few figures shown beside a digest, so a mismatch says roughly what moved."""
    return {"dags": len(data["dags"]), "waves": len(data["waves"]), "runs": data["runs"],
            "left_out": len(data["left_out"]), "ranges": sum(len(row[-1]) for row in data["dags"])}


def cases() -> Iterator[tuple[str, dict[str, Any]]]:
    """(case label, observed plan) for every mesh and request."""
    with tempfile.TemporaryDirectory() as tmp:
        for label, shape, n, zones in MESHES:
            mesh = load_mesh(generate(Path(tmp) / label, n, shape=shape, timezones=zones))
            for request, roots, period, kwargs in _requests(mesh, shape):
                yield f"{label}/{request}", observe(plan_backfill(mesh, roots, period, **kwargs))


def stored(data: dict[str, Any], label: str) -> dict[str, Any]:
    """What the snapshot keeps of one case: all of it (:data:`STORED_IN_FULL`), else a digest and summary."""
    if label in STORED_IN_FULL:
        return {"full": data}
    return {"sha256": digest(data), "summary": summary(data)}


def main() -> None:
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    out = {"generated_from": commit, "cases": {label: stored(data, label) for label, data in cases()}}
    SNAPSHOT.write_text(json.dumps(out, separators=(",", ":")) + "\n")
    print(f"wrote {len(out['cases'])} cases to {SNAPSHOT} ({SNAPSHOT.stat().st_size:,} bytes) from {commit}")


if __name__ == "__main__":
    main()
