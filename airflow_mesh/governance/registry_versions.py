"""Two versions of a registry to compare (``airflow-mesh diff``): folders, or git refs of a repository.

A ref is checked out with ``git archive`` into a temporary folder (its ``teams/`` and ``ddl/`` only), so the
working tree is never touched and nothing from the repository runs.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

GIT_SECONDS = 60


class RegistryVersionError(ValueError):
    """A version names neither a folder nor a commit of the repository."""


@contextlib.contextmanager
def registry_at(version: str | None, repo: Path, subdir: str = ".") -> Iterator[Path]:
    """The registry root of ``version``: ``None`` is the working tree, an existing folder is itself,
    anything else a git ref of ``repo`` (``subdir`` is where ``teams/`` and ``ddl/`` live in it)."""
    if version is None:
        yield (repo / subdir).resolve()
        return
    if Path(version).is_dir():
        yield Path(version).resolve()
        return
    commit = _git(repo, "rev-parse", "--verify", "--quiet", f"{version}^{{commit}}")
    if commit is None:
        raise RegistryVersionError(f"'{version}' is neither a folder nor a commit of the git repository {repo}. "
                                   "Fix: give a branch, tag or commit (e.g. origin/main), or a folder")
    prefix = "" if subdir in (".", "") else subdir.strip("/") + "/"
    with tempfile.TemporaryDirectory(prefix="airflow-mesh-diff-") as tmp:
        archive = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", commit.decode().strip(), "--",
                                  f"{prefix}teams", f"{prefix}ddl"], capture_output=True, timeout=GIT_SECONDS)
        if archive.returncode != 0:
            raise RegistryVersionError(f"{version} has no {prefix}teams/ and {prefix}ddl/ in {repo}: "
                                       f"{archive.stderr.decode(errors='replace').strip()}. Fix: pass --path")
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(tmp, filter="data")  # regular files and folders only, inside tmp
        yield Path(tmp) / prefix


def _git(repo: Path, *args: str) -> bytes | None:
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, timeout=GIT_SECONDS)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None
