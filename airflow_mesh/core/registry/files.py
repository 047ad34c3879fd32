"""Finding and reading registry files as hostile input: bounded, never following a path out of the root.

The loader runs on every DAG parse and every page, so one odd file must neither hang it (a FIFO,
a symlink to ``/dev/zero``), nor exhaust memory (a huge file), nor crash it with a traceback (bytes
that are not UTF-8, a dangling symlink, a directory named ``x.sql``), nor read outside the registry
(a symlink to ``/etc``). Each case becomes a located :class:`MeshError`, reported together with
every other file's errors.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from airflow_mesh.core.registry.models import MeshError

MAX_TEAM_FILE_BYTES = 64 * 1024  # a team file is a few hundred bytes
MAX_DDL_FILE_BYTES = 512 * 1024  # a CREATE TABLE with a thousand documented columns is ~100 KiB
TEAM_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class RegistryFile:
    """One file of the registry: how messages name it, and its bytes (``None`` if unreadable).

    Plain strings, not ``Path`` objects: every new parsing process reads (and hashes) every file,
    and pathlib's parsing would cost more than the reads."""

    display: str  # path relative to the root, as error messages name it: "ddl/<team>/<name>.sql"
    data: bytes | None
    error: MeshError | None = None

    @property
    def stem(self) -> str:
        return os.path.splitext(os.path.basename(self.display))[0]

    @property
    def folder(self) -> str:
        """The folder the file is in (for a DDL file: its team)."""
        return os.path.basename(os.path.dirname(self.display))


def team_paths(root: Path) -> list[str]:
    """``teams/*.yaml`` and ``teams/*.yml`` relative to ``root``, sorted by team so a duplicate's files sit together."""
    names = [n for n in _names(os.path.join(root, "teams")) if os.path.splitext(n)[1] in TEAM_SUFFIXES]
    return [f"teams/{n}" for n in sorted(names, key=os.path.splitext)]


def ddl_paths(root: Path) -> list[str]:
    """``ddl/<team>/*.sql`` relative to ``root`` (whatever they are: the reader reports what is not a regular file)."""
    out = []
    ddl = os.path.join(root, "ddl")
    for team in _names(ddl):
        if os.path.isdir(os.path.join(ddl, team)):
            out += [f"ddl/{team}/{n}" for n in _names(os.path.join(ddl, team)) if n.endswith(".sql")]
    return sorted(out)


def _names(folder: str) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:
        return []


def read_file(display: str, root: Path, max_bytes: int, inside: dict[str, bool] | None = None) -> RegistryFile:
    """Read ``display`` (relative to ``root``) if it is a regular file inside the root of at most ``max_bytes``.

    Opened non-blocking so a FIFO cannot hang the loader; the type is checked on the open
    descriptor (``fstat``), so a file swapped between check and read cannot slip through.
    ``inside`` memoizes, per load, whether a folder resolves inside the root (realpath costs
    a system call per path component; 5,000 files share a few dozen folders).
    """
    path = os.path.join(root, display)

    def refuse(message: str, fix: str) -> RegistryFile:
        return RegistryFile(display, None, MeshError(file=display, line=1, message=message, fix=fix))

    inside = {} if inside is None else inside
    folder = os.path.dirname(path)
    if folder not in inside:
        inside[folder] = _within(os.path.realpath(folder), root)
    if not inside[folder] or (os.path.islink(path) and not _within(os.path.realpath(path), root)):
        return refuse(f"symlink to {os.path.realpath(path)}, outside the registry root",
                      "replace the symlink with the file itself")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return refuse("dangling symlink: its target does not exist", "point it at an existing file or delete it")
    except OSError as err:
        return refuse(f"cannot be read: {err.strerror}", "make it a readable regular file")
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            return refuse(f"is {kind}", "registry entries must be regular files; rename or remove it")
        if st.st_size > max_bytes:
            return refuse(f"is {st.st_size} bytes, over the {max_bytes}-byte limit",
                          "split it, or check that it is the file you meant")
        chunks, size = [], 0
        while size <= max_bytes:
            chunk = os.read(fd, max_bytes + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as err:
        return refuse(f"cannot be read: {err.strerror}", "make it a readable regular file")
    finally:
        os.close(fd)
    if size > max_bytes:  # grew after fstat
        return refuse(f"is over the {max_bytes}-byte limit", "split it, or check that it is the file you meant")
    return RegistryFile(display, b"".join(chunks))


def _within(real: str, root: Path) -> bool:
    return real == str(root) or real.startswith(str(root) + os.sep)


def decode(file: RegistryFile) -> tuple[str | None, MeshError | None]:
    """The file's text, or a located error for bytes that are not UTF-8."""
    assert file.data is not None
    try:
        return file.data.decode("utf-8"), None
    except UnicodeDecodeError as err:
        line = file.data.count(b"\n", 0, err.start) + 1
        return None, MeshError(file=file.display, line=line,
                               message=f"is not UTF-8 text (byte 0x{file.data[err.start]:02x} at offset {err.start})",
                               fix="save the file as UTF-8")
