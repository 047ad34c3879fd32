"""The API server's materializer thread at shutdown: when Airflow disposes its ORM under a tick in flight
(Airflow's own atexit), the thread ends quietly instead of logging a failure into closed streams."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import threading
import airflow.settings as airflow_settings
from airflow_mesh.backfill import worker

entered = threading.Event()

def tick():
    entered.set()
    airflow_settings.dispose_orm()  # what Airflow's atexit does while this tick runs
    raise RuntimeError("Session must be set before!")

worker.tick = tick
worker.start()
worker.wake()
assert entered.wait(30), "the materializer never ticked"
worker._thread.join(30)
print("ALIVE" if worker._thread.is_alive() else "ENDED")
"""


def test_a_tick_interrupted_by_the_orm_going_away_ends_the_thread_quietly() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120,
                         env={**__import__("os").environ, "AIRFLOW__MESH__BACKFILL_POLL_SECONDS": "0.05"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "ENDED"
    assert "materializer tick failed" not in out.stdout + out.stderr
