"""A throw-away PostgreSQL server for the test suite: Debian's server binaries, a temporary data folder,
a free loopback port, trust authentication, stopped and deleted afterwards.

``tests/conftest.py`` starts one when ``AIRFLOW_MESH_TEST_DB=postgresql`` (``make test`` runs the suite on
SQLite, then this way). By hand: ``python scripts/throwaway_postgres.py`` starts one, prints its
SQLAlchemy URL and stops it on Enter or Ctrl-C.

PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` OS user that
Debian's package creates; as any other user it runs as that user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

DB_NAME = "airflow"
DB_USER = "airflow"


class PostgresUnavailable(RuntimeError):
    """The server binaries or the ``postgres`` OS user are missing, or the server would not start."""


def server_bin_dir() -> Path:
    """Newest Debian PostgreSQL server ``bin`` folder (``initdb`` and ``pg_ctl`` are not on PATH there)."""
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if found:
        return Path(max(found, key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise PostgresUnavailable("PostgreSQL's server binaries are missing. Fix: apt-get install postgresql "
                              "(make test installs it)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThrowawayPostgres:
    """``start()`` returns the SQLAlchemy URL of a fresh, empty database; ``stop()`` removes everything."""

    def __init__(self) -> None:
        self.bin = server_bin_dir()
        self.folder = Path(tempfile.mkdtemp(prefix="airflow-mesh-pg-"))
        self.data = self.folder / "data"
        self.port = 0
        self._owner: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                self._owner = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable("running as root, and there is no 'postgres' OS user to run PostgreSQL "
                                          "as. Fix: apt-get install postgresql (it creates the user)") from None
            os.chown(self.folder, self._owner.pw_uid, self._owner.pw_gid)

    def _run(self, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess:
        cmd = [str(self.bin / argv[0]), *argv[1:]]
        if self._owner is not None:
            cmd = ["runuser", "-u", self._owner.pw_name, "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.folder)
        if proc.returncode != 0:
            raise PostgresUnavailable(f"{' '.join(argv[:2])} failed ({proc.returncode}): {proc.stderr.strip()}"
                                      f"{self._log_tail()}")
        return proc

    def _log_tail(self) -> str:
        log = self.folder / "server.log"
        return ("\nserver log:\n" + "\n".join(log.read_text().splitlines()[-15:])) if log.exists() else ""

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://{DB_USER}@127.0.0.1:{self.port}/{DB_NAME}"

    def start(self) -> str:
        # Durability is pointless for a database deleted after the run: no fsync makes the suite faster.
        self._run("initdb", "-D", str(self.data), "-U", DB_USER, "-A", "trust", "-E", "UTF8", "--no-sync")
        for attempt in range(3):  # another process may take the free port between the check and the start
            self.port = _free_port()
            options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} -c fsync=off "
                       "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
            try:
                self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-w", "-t", "60",
                          "-o", options, "start")
                break
            except PostgresUnavailable:
                if attempt == 2:
                    raise
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", DB_USER, DB_NAME)
        return self.url

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "60", "stop")
            except PostgresUnavailable:
                pass  # already stopped: the folder goes anyway
        shutil.rmtree(self.folder, ignore_errors=True)


if __name__ == "__main__":
    server = ThrowawayPostgres()
    try:
        print(server.start(), flush=True)
        input("PostgreSQL is running; press Enter to stop it and delete its data. ")
    except (KeyboardInterrupt, EOFError):
        pass
    finally:
        server.stop()
