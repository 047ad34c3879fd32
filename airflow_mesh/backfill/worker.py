"""The background materializer each mesh app starts: a daemon thread that claims work through the DB.

Safe with several API servers: a job is claimed with a lease in the DB (see
:mod:`airflow_mesh.backfill.materialize`); this process keeps no state a second one needs.
``[mesh] backfill_materializer = false`` turns the thread's work off (checked every tick), e.g. when
dedicated ``airflow-mesh backfill materialize`` processes do it instead.
"""

from __future__ import annotations

import atexit
import logging
import threading

from airflow_mesh.settings import setting

log = logging.getLogger(__name__)
_wake = threading.Event()
_stop = threading.Event()
_started = threading.Lock()
_thread: threading.Thread | None = None


def enabled() -> bool:
    return bool(setting("backfill_materializer"))


def poll_seconds() -> float:
    return setting("backfill_poll_seconds")


def wake() -> None:
    """Look for work now (an execute or resume just queued a job)."""
    _wake.set()


def tick() -> None:
    """One round: sweep stopped materializations, materialize queued jobs, store final statuses."""
    from airflow_mesh.backfill.materialize import materialize_next
    from airflow_mesh.backfill.steering import settle_active

    while not _stop.is_set() and materialize_next() is not None:
        pass
    if _stop.is_set():
        return
    settle_active()


STOP_WAIT_SECONDS = 10.0


def stop() -> None:
    """End the thread and wait (at most :data:`STOP_WAIT_SECONDS`) for the tick in flight to finish.

    Registered with :mod:`atexit` when the thread starts, so it runs before Airflow's own
    ``dispose_orm``: the ORM is not closed under a query in flight, and nothing is logged into closed
    streams. A tick checks the flag between jobs; a claimed job left mid-way is left to its lease, and
    another replica resumes it.
    """
    _stop.set()
    _wake.set()
    thread = _thread
    if thread is not None and thread is not threading.current_thread():
        thread.join(STOP_WAIT_SECONDS)


def _shutting_down() -> bool:
    from airflow import settings

    return _stop.is_set() or settings.Session is None  # Session is None once Airflow disposed its ORM


def _loop() -> None:
    while not _stop.is_set():
        _wake.wait(poll_seconds())
        _wake.clear()
        if _shutting_down():
            return
        if not enabled():
            continue
        try:
            tick()
        except Exception:
            if _shutting_down():  # the ORM went away under this tick: the process is exiting
                return
            log.exception("mesh backfill materializer tick failed")  # a DB hiccup: the next tick retries


def start() -> None:
    """Start this process's materializer thread once."""
    global _thread
    with _started:
        if _thread is None:
            _thread = threading.Thread(target=_loop, name="mesh-backfill-materializer", daemon=True)
            _thread.start()
            atexit.register(stop)
