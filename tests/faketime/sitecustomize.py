"""Put on PYTHONPATH only by the faketime runs of the unit suite (``make test-faketime``).

Debian 12's libfaketime 0.9.10 with ``FAKETIME_DONT_FAKE_MONOTONIC=1`` (the wall clock faked, the monotonic clock
real) answers EINVAL to an *absolute* ``clock_nanosleep`` on ``CLOCK_MONOTONIC``, which is exactly how Python
3.11's ``time.sleep`` sleeps, so every sleep (and every ``subprocess`` wait) raises ``OSError``. Relative waits are
unaffected, so ``time.sleep`` waits with ``select`` on the same real monotonic clock instead. Nothing else changes.
"""

import os
import select
import time

if os.environ.get("FAKETIME") and os.environ.get("FAKETIME_DONT_FAKE_MONOTONIC") == "1":

    def _sleep(seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            select.select([], [], [], left)

    time.sleep = _sleep
