"""Registry load cost: cold parse of a 5,000-table registry, warm loads, and lookups.

Run: .venv/bin/python bench/registry_load.py [--tables 5000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic_mesh import generate  # noqa: E402


def timed(fn, repeat: int = 1) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--tables", type=int, default=5000)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        import functools

        from airflow_mesh.core.registry.loader import clear_memory_cache, load_mesh, validate_root

        cache = Path(tmp) / "cache"
        load_mesh = functools.partial(load_mesh, cache_dir=cache)

        root = generate(Path(tmp) / "mesh", args.tables)
        cold, (mesh, errors) = timed(lambda: validate_root(root))
        assert not errors, errors[:3]
        clear_memory_cache()
        first, _ = timed(lambda: load_mesh(root))  # parse + write disk cache
        clear_memory_cache()

        def from_disk():
            clear_memory_cache()
            return load_mesh(root)

        disk, _ = timed(from_disk, repeat=5)
        warm, mesh = timed(lambda: load_mesh(root, recheck_seconds=0), repeat=20)
        load_mesh(root)
        within, _ = timed(lambda: load_mesh(root), repeat=100)
        names = list(mesh.tables)
        lookup, _ = timed(lambda: [mesh.table(n) for n in names], repeat=5)
        closure, _ = timed(lambda: mesh.closure(names[0]), repeat=5)
        print(f"registry: {len(mesh.tables)} tables, {len(mesh.teams)} teams")
        print(f"  cold parse + validate (sqlglot, pydantic) : {cold * 1000:9.1f} ms  ({cold / len(names) * 1e6:.0f} us/table)")
        print(f"  first load_mesh (parse + write cache)     : {first * 1000:9.1f} ms")
        print(f"  new process, disk cache hit               : {disk * 1000:9.1f} ms")
        print(f"  same process, re-check (stat every file)  : {warm * 1000:9.1f} ms")
        print(f"  same process, within recheck window (5 s) : {within * 1e6:9.1f} us")
        print(f"  table lookup                              : {lookup / len(names) * 1e9:9.0f} ns")
        print(f"  downstream closure of a root table        : {closure * 1000:9.3f} ms")


if __name__ == "__main__":
    main()
