"""The background materializer each mesh app starts: a daemon thread that claims work through the DB.

Safe with several API servers: a job is claimed with a lease in the DB (see
:mod:`airflow_mesh.backfill.materialize`); this process keeps no state a second one needs.
``[mesh] backfill_materializer = false`` turns the thread's work off (checked every tick), e.g. when
dedicated ``airflow-mesh backfill materialize`` processes do it instead.
"""

from __future__ import annotations

import logging
import threading

from airflow_mesh.settings import setting

log = logging.getLogger(__name__)
_wake = threading.Event()
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
    from airflow.utils.session import create_session

    from airflow_mesh.backfill.materialize import materialize_next
    from airflow_mesh.backfill.steering import settle_active

    while materialize_next() is not None:
        pass
    with create_session() as session:
        settle_active(session)


def _loop() -> None:
    while True:
        _wake.wait(poll_seconds())
        _wake.clear()
        if not enabled():
            continue
        from airflow import settings

        if settings.Session is None:  # the interpreter is shutting down (or Airflow's ORM was disposed)
            return
        try:
            tick()
        except Exception:  # a DB hiccup must not end the thread; the next tick retries
            log.exception("mesh backfill materializer tick failed")


def start() -> None:
    """Start this process's materializer thread once."""
    global _thread
    with _started:
        if _thread is None:
            _thread = threading.Thread(target=_loop, name="mesh-backfill-materializer", daemon=True)
            _thread.start()
