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


STOP_PROBE = """
import threading
from airflow_mesh.backfill import worker

entered, release, finished = threading.Event(), threading.Event(), threading.Event()

def tick():
    entered.set()
    release.wait(30)  # a query in flight
    finished.set()

worker.tick = tick
worker.start()
worker.wake()
assert entered.wait(30), "the materializer never ticked"
stopper = threading.Thread(target=worker.stop)
stopper.start()
stopper.join(0.5)
print("WAITED" if stopper.is_alive() and not finished.is_set() else "DID NOT WAIT")
release.set()
stopper.join(30)
print("TICK DONE" if finished.is_set() and not stopper.is_alive() and not worker._thread.is_alive() else "NOT DONE")
"""


def test_stop_waits_for_the_tick_in_flight_before_airflow_closes_its_orm() -> None:
    out = subprocess.run([sys.executable, "-c", STOP_PROBE], capture_output=True, text=True, timeout=120,
                         env={**__import__("os").environ, "AIRFLOW__MESH__BACKFILL_POLL_SECONDS": "0.05"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-2:] == ["WAITED", "TICK DONE"]
