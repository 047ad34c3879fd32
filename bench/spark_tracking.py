"""Cost of tracking N running Spark jobs: spark-submit waiting, provider polling, and the mesh's deferred path.

``SparkSubmitOperator`` on YARN keeps, per running job, a worker slot and a spark-submit
JVM (``waitAppCompletion=true``, its default), or with ``yarn_track_via_rm_api=True`` a
worker slot and a polling task process. We measure a real
spark-submit JVM: ``spark-submit --master local[1]`` of a job that idles, sampling its
process tree's RSS once the JVM is up (a YARN-client JVM loads the same launcher and
Hadoop client classes; the local job adds the driver, so this is an upper-bound-ish
figure: see README). The deferred path costs one ``YarnApplicationTrigger`` coroutine
per job in the triggerer and no worker slot: we run N real triggers against the YARN RM
simulator and measure the triggerer-side heap and RSS growth.

Usage: python bench/spark_tracking.py [N]
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import tracemalloc
from pathlib import Path

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="bench-spark-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "ERROR")


def rss_kib(pid: int) -> int:
    """RSS of a process and all its descendants, from /proc."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
            todo += [int(c) for c in children]
        except (FileNotFoundError, StopIteration, ProcessLookupError):
            pass
    return total


def spark_submit_jvm_rss() -> int:
    """Peak RSS (KiB) of one real spark-submit JVM while its application runs."""
    job = Path(tempfile.mkdtemp()) / "idle.py"
    ready = job.parent / "ready"
    job.write_text(textwrap.dedent(f"""
        import time, pathlib
        from pyspark.sql import SparkSession
        s = SparkSession.builder.master("local[1]").getOrCreate()
        s.range(10).count()
        pathlib.Path({str(ready)!r}).write_text("up")
        time.sleep(8)
        s.stop()
    """))
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable)
    spark_submit = Path(sys.executable).parent / "spark-submit"
    proc = subprocess.Popen([str(spark_submit), "--master", "local[1]", str(job)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    while proc.poll() is None:
        if ready.exists():
            peak = max(peak, rss_kib(proc.pid))
        time.sleep(0.5)  # sampling interval of a measurement, not synchronization
    return peak


async def deferred_cost(n: int) -> tuple[float, int]:
    from airflow_mesh.testing.yarn_rm_simulator import YarnRMSimulator
    from airflow_mesh.triggers.yarn_trigger import YarnApplicationTrigger

    with YarnRMSimulator() as rm:
        port = int(rm.url.rsplit(":", 1)[1])
        os.environ["AIRFLOW_CONN_YARN_RM_DEFAULT"] = json.dumps({"conn_type": "yarn_rm", "host": "127.0.0.1", "port": port})
        ids = []
        for _ in range(n):
            app_id = rm._new_id()
            rm.apps[app_id] = {"id": app_id, "name": "bench", "queue": "q", "user": "u", "type": "SPARK", "tags": [],
                               "command": "", "script": [["RUNNING", "UNDEFINED"]], "step": 0, "diagnostics": "",
                               "started": 0}
            ids.append(app_id)
        gc.collect()
        rss0 = rss_kib(os.getpid())
        tracemalloc.start()
        triggers = [YarnApplicationTrigger(app_id=a, yarn_conn_id="yarn_rm_default", poll_interval=2.0) for a in ids]
        tasks = [asyncio.create_task(anext(t.run())) for t in triggers]
        deadline = time.monotonic() + 60
        while sum(1 for a in ids if rm.polls(a) > 0) < n and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        heap = tracemalloc.get_traced_memory()[0]
        rss1 = rss_kib(os.getpid())
        polled = sum(1 for a in ids if rm.polls(a) > 0)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        tracemalloc.stop()
    print(f"  {polled}/{n} applications polled at least once")
    return heap / n / 1024, rss1 - rss0


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    jvm = spark_submit_jvm_rss()
    print(f"spark-submit waiting (provider default): one real spark-submit JVM (local[1], job running): "
          f"{jvm / 1024:.0f} MiB RSS and 1 worker slot per job")
    print("provider yarn_track_via_rm_api=True: no JVM, but 1 worker slot (a task process polling) per job")
    heap_per_job, rss_growth = asyncio.run(deferred_cost(n))
    per_job_rss = rss_growth / n
    print(f"deferred path: {n} YarnApplicationTriggers polling the RM simulator: {heap_per_job:.1f} KiB Python heap per job, "
          f"triggerer RSS +{rss_growth / 1024:.1f} MiB ({per_job_rss:.1f} KiB per job), 0 worker slots")
    print(f"N={n}: spark-submit waiting {n * jvm / 1024 / 1024:.1f} GiB and {n} slots; provider polling {n} slots; "
          f"mesh deferred {rss_growth / 1024:.1f} MiB and 0 slots")


if __name__ == "__main__":
    main()
