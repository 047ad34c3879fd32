"""The light jobs of the example mesh: write a partition of a table to a local warehouse folder.

Deterministic rows derived from the table and the period, written atomically to
``<warehouse>/<db>/<table>/<partition column>=<value>/part-00000.json``, so a rerun
overwrites its own partition and nothing else. The warehouse is ``MESH_EXAMPLE_WAREHOUSE``
(default ``$AIRFLOW_HOME/mesh-warehouse``).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from airflow_mesh.core.intervals import Period
from airflow_mesh.settings import configured_mesh


def warehouse() -> Path:
    """The example's local warehouse folder."""
    if folder := os.environ.get("MESH_EXAMPLE_WAREHOUSE"):
        return Path(folder)
    return Path(os.environ.get("AIRFLOW_HOME", "~/airflow")).expanduser() / "mesh-warehouse"


def partition_path(table: str, partition: str) -> Path:
    t = configured_mesh().table(table)
    db, name = t.name.split(".")
    column = t.partitioned_by[0] if t.partitioned_by else "partition"
    return warehouse() / db / name / f"{column}={partition}"


def write_partition(table: str, period: Period, partition: str, inputs: list[str]) -> dict:
    """Write the partition; return a summary (pushed to XCom)."""
    t = configured_mesh().table(table)
    seed = int(hashlib.sha256(f"{table}/{partition}".encode()).hexdigest()[:8], 16)
    rows = [{c.name: (partition if c.partition else f"{c.name}-{(seed + i) % 997}") for c in t.columns}
            for i in range(3 + seed % 5)]
    target = partition_path(table, partition)
    target.mkdir(parents=True, exist_ok=True)
    tmp = target / ".part-00000.json.tmp"
    tmp.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    os.replace(tmp, target / "part-00000.json")
    return {"table": table, "partition": partition, "period": str(period), "rows": len(rows), "inputs": inputs}
