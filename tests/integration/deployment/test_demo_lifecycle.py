"""``make demo`` as a user runs it (on a free port, its own SQLite home): it listens on
loopback only, starts the scheduler only once the API server answers, and TERM or Ctrl-C stops every process
it started, task processes included."""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import ROOT
from local_yarn import LocalYarn

# the demo seeds a month of history and starts its components on 2 cores; a first local YARN also builds its
# launcher with Maven (the jars come from Maven Central once, then from ~/.m2)
START_S, STOP_S = 600, 90

pytestmark = pytest.mark.skipif(os.environ.get("AIRFLOW_MESH_TEST_DB") == "postgresql",
                                reason="the demo has its own SQLite DB: runs in the SQLite run only")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def processes() -> dict[int, tuple[int, int, str]]:
    """Every live process: pid → (parent pid, session id, command line). Zombies have stopped and are left out."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:   # gone meanwhile
            continue
        fields = stat[stat.rindex(")") + 2:].split()   # after "pid (comm) ": state, ppid, pgrp, session, ...
        if fields[0] != "Z":
            found[int(entry.name)] = (int(fields[1]), int(fields[3]), cmdline)
    return found


def of_demo(sessions: set[int]) -> dict[int, str]:
    """Live processes in the demo's sessions: demo.sh's own and each component's (it starts each with setsid;
    task processes get process groups of their own but stay in their component's session)."""
    return {pid: cmd for pid, (_, sid, cmd) in processes().items() if sid in sessions}


def component_running(make: int, word: str) -> bool:
    """Whether a component whose command line holds ``word`` runs as a child of demo.sh, make's child."""
    procs = processes()
    scripts = {pid for pid, (ppid, _, cmd) in procs.items() if ppid == make and "demo.sh" in cmd}
    return any(ppid in scripts and word in cmd for ppid, _, cmd in procs.values())


def listening_addresses(port: int) -> set[str]:
    """Local addresses of TCP sockets listening on ``port`` (from /proc/net/tcp and tcp6, hex as the kernel gives)."""
    out = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:
                out.add(address)
    return out


def stop_as(demo: subprocess.Popen, how: str) -> None:
    if how == "TERM to make":
        demo.send_signal(signal.SIGTERM)   # to make alone, as `kill <pid>` or a service manager would
    else:
        os.killpg(demo.pid, signal.SIGINT)   # Ctrl-C: the terminal signals the foreground process group


@pytest.mark.parametrize(("how", "spark"), [("TERM to make", "yarn"), ("Ctrl-C", "local")])
def test_demo_listens_on_loopback_starts_the_scheduler_after_the_api_and_stops_everything(tmp_path, how, spark) -> None:
    """With the local YARN (the default) its JVM is a component too, and must stop with the others."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(PORT=str(port), AIRFLOW_HOME=str(tmp_path / "home"), DEMO_VENV=sys.prefix, DEMO_SPARK=spark)
    log = open(tmp_path / "demo.log", "w")
    # `make demo` as a user runs it; -o: the shared venv (DEMO_VENV) stands in for the repository's .venv
    demo = subprocess.Popen(["make", "-o", ".venv/.installed", "demo"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    pids = tmp_path / "home" / "demo.pids"
    sessions = {demo.pid}
    try:
        deadline = time.monotonic() + START_S
        with httpx.Client(timeout=5) as client:
            while not pids.exists():   # written once all four components are started
                assert time.monotonic() < deadline and demo.poll() is None, (tmp_path / "demo.log").read_text()[-3000:]
                # In this order: a scheduler seen here was started after the API server answered, so it answers now.
                scheduler = component_running(demo.pid, "scheduler")
                try:
                    healthy = client.get(f"http://127.0.0.1:{port}/api/v2/monitor/health").status_code == 200
                except httpx.TransportError:
                    healthy = False
                assert healthy or not scheduler, "the scheduler started before the API server answered"
                time.sleep(0.5)   # bounded polling: the deadline above
        components = [int(p) for p in pids.read_text().split()]
        sessions.update(components)
        words = ("api", "scheduler", "dag", "triggerer") + (("local_yarn",) if spark == "yarn" else ())
        assert len(components) == len(words) and all(component_running(demo.pid, word) for word in words)
        assert listening_addresses(port) == {"0100007F"}   # 127.0.0.1 only, not 0.0.0.0
        yarn_dir = None
        if spark == "yarn":   # the cluster's JVM and containers run in sessions of their own, in its folder
            env_file = (tmp_path / "home" / "local-yarn.env").read_text()
            conf_dir = Path(shlex.split(env_file.split("HADOOP_CONF_DIR=", 1)[1].splitlines()[0])[0])
            yarn_dir = str(conf_dir.parent)
            assert LocalYarn.processes_in(yarn_dir), "the local YARN is not running in its folder"

        stop_as(demo, how)
        demo.wait(STOP_S)
        deadline = time.monotonic() + 10   # reparented stragglers are gone within moments of demo.sh's exit
        while of_demo(sessions) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert of_demo(sessions) == {}
        assert not pids.exists()
        if yarn_dir is not None:
            assert LocalYarn.processes_in(yarn_dir) == [], "the local YARN outlived the demo"
    finally:
        if pids.exists():
            sessions.update(int(p) for p in pids.read_text().split())
        for pid in of_demo(sessions):   # never leave a demo behind, whatever failed above
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if demo.poll() is None:
            demo.kill()
            demo.wait(30)
        log.close()
