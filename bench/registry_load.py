"""Registry load cost: cold parse of a 5,000-table registry, warm loads, and lookups.

Each figure is the best of a few runs, as wall time and as this process's CPU time (the CPU
figure is the one to trust on a shared machine), beside its reference.

Run: .venv/bin/python bench/registry_load.py [--tables 5000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic_mesh import generate


def timed(fn, repeat: int = 1) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


def timed_cpu(fn, repeat: int = 1) -> tuple[float, float, object]:
    """(best wall seconds, best CPU seconds, result)."""
    wall, cpu, result = float("inf"), float("inf"), None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        result = fn()
        wall, cpu = min(wall, time.perf_counter() - t), min(cpu, time.process_time() - c)
    return wall, cpu, result


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--tables", type=int, default=5000)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        import functools

        from airflow_mesh.core.registry.loader import (
            clear_memory_cache,
            load_mesh,
            validate_root,
        )

        cache = Path(tmp) / "cache"
        load_mesh = functools.partial(load_mesh, cache_dir=cache)

        root = generate(Path(tmp) / "mesh", args.tables)
        cold, cold_cpu, (mesh, errors) = timed_cpu(lambda: validate_root(root), repeat=3)
        assert not errors, errors[:3]
        clear_memory_cache()
        first, first_cpu, _ = timed_cpu(lambda: load_mesh(root))  # read + parse + write disk cache

        def from_disk():
            clear_memory_cache()
            return load_mesh(root)

        disk, disk_cpu, _ = timed_cpu(from_disk, repeat=5)
        warm, warm_cpu, mesh = timed_cpu(lambda: load_mesh(root, recheck_seconds=0), repeat=10)
        load_mesh(root)
        within, _ = timed(lambda: load_mesh(root), repeat=100)
        names = list(mesh.tables)
        lookup, _ = timed(lambda: [mesh.table(n) for n in names], repeat=5)
        closure, _ = timed(lambda: mesh.closure(names[0]), repeat=5)
        n = len(names)
        print(f"registry: {n} tables, {len(mesh.teams)} teams                    wall        CPU   reference")
        print(f"  cold parse + validate (no cache)           : {cold * 1000:8.1f} ms {cold_cpu * 1000:8.1f} ms   < 1000 ms"
              f"  ({cold_cpu / n * 1e6:.0f} us/table CPU)")
        print(f"  first load_mesh (read, parse, write cache) : {first * 1000:8.1f} ms {first_cpu * 1000:8.1f} ms")
        print(f"  new process, disk cache hit                : {disk * 1000:8.1f} ms {disk_cpu * 1000:8.1f} ms"
              f"   (content key + JSON validation)")
        print(f"  same process, re-check (read + hash files) : {warm * 1000:8.1f} ms {warm_cpu * 1000:8.1f} ms"
              f"   every recheck_seconds at most")
        print(f"  same process, within recheck window (5 s)  : {within * 1e6:8.1f} us              no file I/O")
        print(f"  table lookup                               : {lookup / n * 1e9:8.0f} ns")
        print(f"  downstream closure of a root table         : {closure * 1000:8.3f} ms")

if __name__ == "__main__":
    main()
