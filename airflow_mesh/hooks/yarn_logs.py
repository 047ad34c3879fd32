"""The bounded tail of a YARN application's driver log (the AM container's stdout/stderr), for the task log.

In cluster mode the driver runs in YARN's AM container, so a failed job's Python traceback is only there. Once
the application ended, the NodeManager stops serving the container's logs over REST (the real NM answered 404
for a finished container) and YARN keeps them as *aggregated logs* (a binary TFile per node), which
``yarn logs`` reads. So this runs ``yarn logs -am 1`` (the worker's ``yarn`` CLI, as the kill fallback does)
after waiting a bounded time for the RM to report the log aggregation done. Every failure to get the log is a short explanation instead:
the task fails with YARN's diagnostics either way.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from airflow_mesh.hooks.yarn_rm import RMClient, RMUnavailable

AGGREGATION_PENDING = ("NOT_START", "RUNNING", "RUNNING_WITH_FAILURE")


def logs_command(app_id: str, user: str, tail_bytes: int) -> list[str] | None:
    """``yarn logs`` for the AM container's stdout/stderr (the driver in cluster mode); None without a ``yarn`` CLI."""
    yarn = shutil.which("yarn")
    if yarn is None:
        return None
    args = ["-applicationId", app_id, "-am", "1", "-log_files", "stdout,stderr", "-size", str(-tail_bytes)]
    return [yarn, "logs", *args, *(["-appOwner", user] if user else [])]


def wait_for_aggregation(rm: RMClient, app_id: str, timeout: float) -> str:
    """The application's ``logAggregationStatus`` once it is no longer pending, or the last one seen at timeout."""
    deadline = time.monotonic() + timeout
    status = ""
    while True:
        try:
            status = rm.app(app_id).log_aggregation
        except RMUnavailable:
            status = status or "UNKNOWN"
        if status not in AGGREGATION_PENDING or time.monotonic() >= deadline:
            return status
        time.sleep(1.0)  # the RM updates the status with the NM's heartbeat (about every second)


def driver_log_tail(rm: RMClient, app_id: str, user: str, tail_bytes: int = 8192, timeout: float = 60.0) -> str:
    """The last ``tail_bytes`` of the driver's stdout and stderr, or why they could not be read."""
    cmd = logs_command(app_id, user, tail_bytes)
    if cmd is None:
        return "(driver log not read: no 'yarn' CLI on this worker's PATH)"
    status = wait_for_aggregation(rm, app_id, timeout)
    try:
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False,
                             errors="replace")
    except subprocess.TimeoutExpired:
        return f"(driver log not read: '{Path(cmd[0]).name} logs' took more than {timeout:.0f} s)"
    text = run.stdout.strip()
    if run.returncode != 0 or not text:
        return (f"(driver log not read: exit {run.returncode}, log aggregation {status or 'unknown'}: "
                f"{run.stderr.strip()[-500:]})")
    # Two files of tail_bytes each, plus YARN's headers: bound the whole.
    return text[-(2 * tail_bytes + 2000):]
