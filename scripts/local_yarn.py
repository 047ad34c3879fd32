"""A real local YARN for tests and ``make demo``: Hadoop's MiniYARNCluster (one ResourceManager, one NodeManager).

Not a simulator: the RM and NM are Hadoop 3.5.0's own (``org.apache.hadoop:hadoop-client-minicluster``, the
Hadoop that pyspark 4.3.0 bundles), resolved by Maven from ``scripts/local_yarn/pom.xml`` (every version pinned)
into the git-ignored ``build/local-yarn/lib`` once, and started by the tiny ``LocalYarn.java`` main::

    with LocalYarn() as yarn:
        yarn.rm_url            # http://127.0.0.1:<port>, the RM REST API and UI
        yarn.env()             # HADOOP_CONF_DIR, YARN_CONF_DIR, PYSPARK_ARCHIVES_PATH for spark-submit
        yarn.spark_connection()  # the mesh_spark connection (master yarn, cluster mode, this cluster's conf)

What it sets up, and why:

* loopback only: the RM and NM bind 127.0.0.1 on ports the OS picks (no port race between runs);
* the CapacityScheduler with one queue per team (``yarn.queue`` of ``teams/*.yaml``) besides ``default``;
* ``hadoop.proxyuser.<this user>.hosts/groups=*``: spark-submit ``--proxy-user`` (each team's ``proxy_user``) is
  accepted (no Kerberos: ``simple`` auth, the README's limit);
* log aggregation on, and the NM keeps its local container logs ``debug-delay`` seconds, so the driver's log
  can be read back through the NM REST API after the application ended;
* ``yarn.resourcemanager.max-completed-applications`` small, so the RM forgets finished applications soon
  (the "forgotten application" path of ``SparkYarnOperator``);
* small containers (the machine is shared): NM 4 GB, containers from 128 MB; :meth:`spark_conf` gives the
  Spark settings that fit (512 MB driver/executor, one executor) and ``spark.yarn.jars=local:<pyspark>/jars/*``
  so no jar is uploaded per submit; a pip-installed pyspark need not have ``python/lib/pyspark.zip``, so the
  launcher zips the installed pyspark and py4j once into ``build/local-yarn/python`` for
  ``PYSPARK_ARCHIVES_PATH``.

Start-up is bounded (``start_timeout``) and fails with what is missing (java, javac, mvn, a hostname that is
not loopback, the JVM's own last log lines). :meth:`stop` ends the JVM (its shutdown hook stops the NM, which
kills its containers), then kills its process group, then any container process still running in this
cluster's own directory (by pid): no orphan JVM.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
SOURCES = REPO / "scripts" / "local_yarn"
BUILD = REPO / "build" / "local-yarn"
DEFAULT_QUEUE = "default"


RM_ADDRESS_KEYS = ("yarn.resourcemanager.address", "yarn.resourcemanager.scheduler.address",
                   "yarn.resourcemanager.resource-tracker.address", "yarn.resourcemanager.admin.address",
                   "yarn.resourcemanager.webapp.address")


def _free_ports(n: int) -> list[int]:
    """``n`` distinct ports free on 127.0.0.1 right now (held open together, so they differ)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class LocalYarnError(RuntimeError):
    """The local YARN could not be built or started; the message says what is missing."""


def team_queues(teams_dir: Path) -> dict[str, str]:
    """``{queue: team file}`` of every team with a ``yarn.queue`` in ``teams_dir``."""
    queues: dict[str, str] = {}
    for path in sorted(teams_dir.glob("*.yaml")):
        queue = ((yaml.safe_load(path.read_text()) or {}).get("yarn") or {}).get("queue")
        if queue:
            queues[str(queue)] = path.name
    return queues


def _need(tool: str, package: str) -> str:
    found = shutil.which(tool)
    if found is None:
        raise LocalYarnError(f"the local YARN needs '{tool}', which is not on PATH. Fix: apt-get install {package}")
    return found


def _digest(*paths: Path) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def build(build_dir: Path = BUILD, timeout: float = 900.0) -> Path:
    """Resolve the pinned jars (Maven) and compile ``LocalYarn.java`` once; cached by the sources' digest."""
    pom, main = SOURCES / "pom.xml", SOURCES / "src" / "main" / "java" / "LocalYarn.java"
    stamp = build_dir / "built.stamp"
    digest = _digest(pom, main)
    if stamp.exists() and stamp.read_text() == digest:
        return build_dir
    _need("java", "default-jdk-headless")
    javac = _need("javac", "default-jdk-headless")
    mvn = _need("mvn", "maven")
    lib, classes = build_dir / "lib", build_dir / "classes"
    shutil.rmtree(lib, ignore_errors=True)
    run = subprocess.run([mvn, "-B", "-q", "-f", str(pom), "package", f"-Dlib.dir={lib}"], capture_output=True,
                         text=True, timeout=timeout, check=False)
    if run.returncode != 0:
        raise LocalYarnError(f"mvn could not resolve the local YARN's jars (Maven Central reachable?):\n"
                             f"{(run.stdout + run.stderr)[-3000:]}")
    classes.mkdir(parents=True, exist_ok=True)
    run = subprocess.run([javac, "-d", str(classes), "-cp", f"{lib}/*", str(main)], capture_output=True, text=True,
                         timeout=300, check=False)
    if run.returncode != 0:
        raise LocalYarnError(f"javac failed on {main}:\n{run.stderr[-3000:]}")
    stamp.write_text(digest)
    return build_dir


def _spark_jars_version(jars: Path) -> str:
    """The Spark version of the JVM side: ``spark-core_<scala>-<version>.jar``."""
    found = sorted(jars.glob("spark-core_*.jar"))
    if not found:
        raise LocalYarnError(f"no spark-core jar in {jars}: is pyspark installed?")
    return found[0].stem.rsplit("-", 1)[1]


def _zip_version(archive: Path) -> str:
    with zipfile.ZipFile(archive) as z:
        text = z.read("pyspark/version.py").decode()
    return text.split("=", 1)[1].strip().strip("'\"")


def _zip_package(root: Path, target: Path, skip: set[str]) -> None:
    tmp = target.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(root.rglob("*")):
            rel = f.relative_to(root)
            if f.is_file() and rel.parts[0] not in skip and "__pycache__" not in rel.parts and f.suffix != ".pyc":
                z.write(f, Path(root.name) / rel)
    tmp.replace(target)


def pyspark_archives(build_dir: Path = BUILD) -> list[Path]:
    """``pyspark.zip`` and ``py4j-src.zip`` for ``PYSPARK_ARCHIVES_PATH``, copied (or zipped) once into ``build_dir``.

    The Python side must be the version of the jars: the wheel's own ``python/lib/pyspark.zip`` is used when it
    ships one (pyspark 4.3.0's does), else the installed package is zipped. Why not always the installed files:
    here the provider's ``pyspark-client`` 4.2.0 (installed after pyspark 4.3.0) overwrote pyspark's ``.py`` files,
    and an executor running 4.2.0's worker against 4.3.0's JVM fails with ``UnicodeDecodeError`` in
    ``check_python_version``. The version is checked, so a mismatch fails here and not inside a container.
    """
    import py4j
    import pyspark

    home = Path(pyspark.__file__).parent
    jars_version = _spark_jars_version(home / "jars")
    out = build_dir / "python"
    out.mkdir(parents=True, exist_ok=True)
    zips = [out / "pyspark.zip", out / "py4j-src.zip"]
    shipped = home / "python" / "lib" / "pyspark.zip"
    if not zips[0].exists() or _zip_version(zips[0]) != jars_version:
        if shipped.exists():
            shutil.copyfile(shipped, zips[0])
        else:
            _zip_package(home, zips[0], {"jars", "bin", "sbin", "python", "examples", "data", "licenses"})
    if not zips[1].exists():
        py4j_shipped = sorted((home / "python" / "lib").glob("py4j-*-src.zip"))
        if py4j_shipped:
            shutil.copyfile(py4j_shipped[0], zips[1])
        else:
            _zip_package(Path(py4j.__file__).parent, zips[1], set())
    if _zip_version(zips[0]) != jars_version:
        raise LocalYarnError(f"{zips[0]} holds pyspark {_zip_version(zips[0])} but the jars are Spark {jars_version}:"
                             f" executors would fail. Fix: pip install --force-reinstall --no-deps pyspark=="
                             f"{jars_version}")
    return zips


def _loopback_hostname() -> str:
    """MiniYARNCluster advertises this host's name; the daemons bind 127.0.0.1, so the name must resolve there."""
    name = socket.gethostname()
    try:
        addr = socket.gethostbyname(name)
    except OSError as err:
        raise LocalYarnError(f"this host's name {name!r} does not resolve ({err}). Fix: add '127.0.0.1 {name}' "
                             f"to /etc/hosts") from err
    if not addr.startswith("127."):
        raise LocalYarnError(f"this host's name {name!r} resolves to {addr}, not loopback; the local YARN binds "
                             f"127.0.0.1 only. Fix: add '127.0.0.1 {name}' to /etc/hosts")
    return name


class LocalYarn:
    """One local YARN cluster (RM + 1 NM) in one JVM; use as a context manager, or :meth:`start`/:meth:`stop`."""

    def __init__(self, teams_dir: Path = REPO / "teams", work_dir: Path | None = None, *,
                 max_completed_applications: int = 3, nm_memory_mb: int = 4096, start_timeout: float = 120.0,
                 log_debug_delay_seconds: int = 3600, build_dir: Path = BUILD, keep_files: bool = False) -> None:
        self.teams_dir = teams_dir
        self.build_dir = build_dir
        self.work_dir = work_dir
        self.max_completed_applications = max_completed_applications
        self.nm_memory_mb = nm_memory_mb
        self.start_timeout = start_timeout
        self.log_debug_delay_seconds = log_debug_delay_seconds
        self.keep_files = keep_files  # keep the cluster's directory (logs, staging) after stop
        self.queues = team_queues(teams_dir)
        self.proc: subprocess.Popen[bytes] | None = None
        self.rm_url = ""
        self.cluster_dir: Path | None = None

    # --- configuration -----------------------------------------------------------------------------
    def settings(self) -> dict[str, str]:
        """The YARN/Hadoop settings the JVM applies over Hadoop's defaults."""
        user = getpass.getuser()
        queues = [DEFAULT_QUEUE, *sorted(q for q in self.queues if q != DEFAULT_QUEUE)]
        share = 100.0 / len(queues)
        cs = "yarn.scheduler.capacity.root"
        s = {
            "fs.defaultFS": "file:///",
            f"hadoop.proxyuser.{user}.hosts": "*",
            f"hadoop.proxyuser.{user}.groups": "*",
            "yarn.resourcemanager.bind-host": "127.0.0.1",
            # Fixed RM ports (free ones, picked here): with port 0 the RM computes its proxy (tracking) URL
            # before it binds, and every application's trackingUrl would read http://host:0/proxy/...
            "yarn.minicluster.fixed.ports": "true",
            **{key: f"127.0.0.1:{port}" for key, port in zip(RM_ADDRESS_KEYS, _free_ports(len(RM_ADDRESS_KEYS)),
                                                            strict=True)},
            "yarn.nodemanager.bind-host": "127.0.0.1",
            "yarn.resourcemanager.scheduler.class":
                "org.apache.hadoop.yarn.server.resourcemanager.scheduler.capacity.CapacityScheduler",
            "yarn.resourcemanager.max-completed-applications": str(self.max_completed_applications),
            "yarn.scheduler.minimum-allocation-mb": "128",
            "yarn.scheduler.maximum-allocation-mb": str(self.nm_memory_mb),
            "yarn.nodemanager.resource.memory-mb": str(self.nm_memory_mb),
            "yarn.nodemanager.disk-health-checker.max-disk-utilization-per-disk-percentage": "100.0",
            "yarn.log-aggregation-enable": "true",
            "yarn.nodemanager.delete.debug-delay-sec": str(self.log_debug_delay_seconds),
            "yarn.nodemanager.log-aggregation.roll-monitoring-interval-seconds": "-1",
            # hadoop-client-minicluster has no capacity-scheduler.xml (Spark's BaseYarnClusterSuite does the same)
            f"{cs}.queues": ",".join(queues),
            "yarn.scheduler.capacity.maximum-am-resource-percent": "0.8",
            "yarn.scheduler.capacity.node-locality-delay": "-1",
        }
        for i, q in enumerate(queues):
            # the shares must add up to exactly 100: the last queue takes the rounding
            cap = 100.0 - round(share, 2) * (len(queues) - 1) if i == len(queues) - 1 else round(share, 2)
            s.update({f"{cs}.{q}.capacity": f"{cap:.2f}", f"{cs}.{q}.maximum-capacity": "100",
                      f"{cs}.{q}.user-limit-factor": "100", f"{cs}.{q}.state": "RUNNING",
                      f"{cs}.{q}.acl_submit_applications": "*", f"{cs}.{q}.acl_administer_queue": "*"})
        return s

    @property
    def conf_dir(self) -> Path:
        assert self.cluster_dir is not None, "the local YARN is not started"
        return self.cluster_dir / "hadoop-conf"

    def env(self) -> dict[str, str]:
        """What spark-submit and ``yarn`` (the worker) need to reach this cluster; PATH gains this cluster's ``yarn``."""
        return {"HADOOP_CONF_DIR": str(self.conf_dir), "YARN_CONF_DIR": str(self.conf_dir),
                "PYSPARK_ARCHIVES_PATH": ",".join(str(z) for z in pyspark_archives(self.build_dir)),
                "PATH": f"{self._yarn_cli()}{os.pathsep}{os.environ.get('PATH', '')}"}

    def _yarn_cli(self) -> Path:
        """A ``yarn`` command for ``yarn logs`` and ``yarn application``: Hadoop's own client classes (the
        minicluster's jars; pyspark's lack the shaded jettison ``LogsCLI`` needs), like Hadoop's ``bin/yarn``."""
        assert self.cluster_dir is not None
        bin_dir = self.cluster_dir / "bin"
        bin_dir.mkdir(exist_ok=True)
        cp = f"{self.conf_dir}{os.pathsep}{self.build_dir / 'lib'}/*"
        java = shutil.which("java") or "java"
        (bin_dir / "yarn").write_text(
            "#!/bin/sh\n# yarn CLI of this local YARN (scripts/local_yarn.py): Hadoop's LogsCLI / ApplicationCLI\n"
            "sub=$1; shift\ncase $sub in\n"
            "  logs) cls=org.apache.hadoop.yarn.client.cli.LogsCLI ;;\n"
            "  application|applicationattempt|container) cls=org.apache.hadoop.yarn.client.cli.ApplicationCLI; "
            "set -- \"$sub\" \"$@\" ;;\n"
            "  *) echo \"local yarn: unsupported command $sub\" >&2; exit 2 ;;\nesac\n"
            f"exec {java} -Xmx256m -Dorg.slf4j.simpleLogger.defaultLogLevel=error -cp '{cp}' \"$cls\" \"$@\"\n")
        (bin_dir / "yarn").chmod(0o755)
        return bin_dir

    def spark_conf(self) -> dict[str, str]:
        """Spark settings that fit this cluster; they override a team's (e.g. risk's 8g executors)."""
        import pyspark

        jars = Path(pyspark.__file__).parent / "jars"
        return {
            "spark.yarn.jars": f"local:{jars}/*",
            "spark.yarn.stagingDir": str(self.cluster_dir / "staging"),
            "spark.pyspark.python": sys.executable,
            "spark.pyspark.driver.python": sys.executable,
            "spark.driver.memory": "512m", "spark.driver.minMemoryOverhead": "256m",
            "spark.executor.memory": "512m", "spark.executor.minMemoryOverhead": "256m",
            "spark.executor.instances": "1", "spark.executor.cores": "1",
            "spark.dynamicAllocation.enabled": "false",
            "spark.yarn.submit.file.replication": "1",
        }

    def spark_connection(self) -> dict[str, Any]:
        """The ``mesh_spark`` connection for this cluster (as JSON for ``AIRFLOW_CONN_MESH_SPARK``)."""
        return {"conn_type": "spark", "host": "yarn", "extra": {
            "deploy-mode": "cluster", "yarn_resourcemanager_webapp_address": self.rm_url,
            "spark_conf_overrides": self.spark_conf()}}

    def rm_connection(self) -> dict[str, Any]:
        host, port = self.rm_url.removeprefix("http://").rsplit(":", 1)
        return {"conn_type": "yarn_rm", "host": host, "port": int(port)}

    # --- lifecycle -----------------------------------------------------------------------------------
    def __enter__(self) -> LocalYarn:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self, attempts: int = 3) -> LocalYarn:
        """Start the cluster; a port taken between picking and binding it (another process won the race) is
        retried on new ports, up to ``attempts`` times."""
        for attempt in range(1, attempts + 1):
            try:
                return self._start_once()
            except LocalYarnError as err:
                if attempt == attempts or not any(s in str(err) for s in ("BindException", "Address already in use")):
                    raise
        raise AssertionError("unreachable")

    def _start_once(self) -> LocalYarn:
        java = _need("java", "default-jdk-headless")
        _loopback_hostname()
        build_dir = build(self.build_dir)
        base = self.work_dir or build_dir / "clusters"
        base.mkdir(parents=True, exist_ok=True)
        self.cluster_dir = Path(tempfile.mkdtemp(prefix="yarn-", dir=base))
        self.conf_dir.mkdir()
        props = self.cluster_dir / "settings.properties"
        props.write_text("".join(f"{k}={v}\n" for k, v in self.settings().items()))
        self.log_path = self.cluster_dir / "local-yarn.log"
        env = {k: v for k, v in os.environ.items() if k not in ("HADOOP_CONF_DIR", "YARN_CONF_DIR")}
        env.setdefault("JAVA_HOME", str(Path(os.path.realpath(java)).parents[1]))  # the NM's containers need it
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [java, "-Xmx768m", "-XX:+UseSerialGC", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                 "-cp", f"{build_dir / 'classes'}{os.pathsep}{build_dir / 'lib'}/*", "LocalYarn", str(props),
                 str(self.conf_dir)],
                cwd=self.cluster_dir, env=env, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        try:
            self._await_ready()
        except BaseException:
            self.keep_files = True  # the log the error names stays readable
            self.stop()
            raise
        return self

    def _await_ready(self) -> None:
        assert self.proc is not None
        ready = self.conf_dir / "ready.properties"
        deadline = time.monotonic() + self.start_timeout
        while not ready.exists():
            if time.monotonic() > deadline:
                raise LocalYarnError(f"the local YARN did not start within {self.start_timeout:.0f} s; its log "
                                     f"({self.log_path}) ends:\n{self._log_tail()}")
            try:
                code = self.proc.wait(timeout=0.2)  # the tick of the bounded wait; ends at once if the JVM dies
            except subprocess.TimeoutExpired:
                continue
            raise LocalYarnError(f"the local YARN's JVM exited with {code} before it was ready; its log "
                                 f"({self.log_path}) ends:\n{self._log_tail()}")
        values = dict(line.split("=", 1) for line in ready.read_text().splitlines()
                      if "=" in line and not line.startswith("#"))
        self.rm_url = "http://" + values["rm.webapp"].replace("\\:", ":")
        self.yarn_work_dir = Path(values["work.dir"].replace("\\:", ":"))

    def _log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = 60.0) -> list[int]:
        """Stop the cluster; returns the pids of container processes that had to be killed by hand."""
        proc, self.proc = self.proc, None
        if proc is None:
            return []
        if proc.poll() is None:
            assert proc.stdin is not None
            try:
                proc.stdin.close()  # LocalYarn.java exits; its shutdown hook stops the NM and its containers
            except OSError:
                pass
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    self._signal_group(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=15)
        self._signal_group(proc.pid, signal.SIGKILL)  # anything left in the JVM's own process group
        killed = self._reap_containers()
        if not self.keep_files and self.cluster_dir is not None:
            shutil.rmtree(self.cluster_dir, ignore_errors=True)
        return killed

    @staticmethod
    def _signal_group(pgid: int, sig: signal.Signals) -> None:
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def _reap_containers(self) -> list[int]:
        """Kill (by pid) processes still working in this cluster's directory: container JVMs run in their own
        sessions (the NM launches them with setsid), so a JVM that died hard would leave them behind."""
        if self.cluster_dir is None:
            return []
        root = str(self.cluster_dir.resolve())
        killed = []
        for pid in self.processes_in(root):
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except ProcessLookupError:
                pass
        return killed

    @staticmethod
    def processes_in(root: str) -> list[int]:
        """Pids of processes whose working directory is inside ``root`` (Linux ``/proc``)."""
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cwd = os.readlink(entry / "cwd")
            except OSError:
                continue
            if cwd == root or cwd.startswith(root + os.sep):
                pids.append(int(entry.name))
        return pids


def main(argv: list[str]) -> int:
    """``python scripts/local_yarn.py [--env-file F]``: start, write the worker's environment (shell ``export``
    lines, connections included) to F or stdout, run until SIGINT/SIGTERM, then stop cleanly."""
    import argparse
    import json
    import shlex
    import threading

    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--env-file", type=Path, help="write the export lines here (atomically) once ready")
    args = parser.parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with LocalYarn() as cluster:
        env = {**cluster.env(), "AIRFLOW_CONN_MESH_SPARK": json.dumps(cluster.spark_connection()),
               "AIRFLOW_CONN_YARN_RM_DEFAULT": json.dumps(cluster.rm_connection())}
        lines = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items())
        if args.env_file:
            tmp = args.env_file.with_suffix(".tmp")
            tmp.write_text(lines)
            tmp.replace(args.env_file)
        else:
            sys.stdout.write(lines)
        print(f"local YARN ResourceManager: {cluster.rm_url} (stop: Ctrl-C)", file=sys.stderr, flush=True)
        while not stop.wait(1.0):
            if cluster.proc is None or cluster.proc.poll() is not None:
                print(f"the local YARN's JVM ended; its log: {cluster.log_path}", file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
