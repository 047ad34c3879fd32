"""Loads a registry root (``teams/`` + ``ddl/``), all-or-nothing, cached.

DAG files are parsed again and again, so loading must be cheap when nothing changed. Both
caches are keyed by the *content* of the registry: a SHA-256 over every file's path and bytes
(reading and hashing 5,000 small files costs a fraction of parsing them), so an edit that keeps
a file's size and mtime is still seen:

* in process: the same :class:`Mesh` object is returned while the content is unchanged;
* on disk (``cache_dir``; the glue passes ``[mesh] cache_dir``): the validated mesh as JSON of
  its pydantic models, validated again on read, so each fresh DAG-parsing process skips the DDL
  parse. JSON cannot execute code, whoever wrote the file (a pickle could).

Within one process the files are re-read at most every ``recheck_seconds`` (the glue passes
``[mesh] recheck_seconds``, default 5): inside that window a load does no file I/O at all.

This module is pure: it reads no Airflow setting and no environment variable. Airflow
glue calls :func:`airflow_mesh.settings.configured_mesh`, which passes the settings.

A registry with errors is never cached and never half-loaded: :func:`load_mesh`
raises :class:`MeshValidationError` with *every* error.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from airflow_mesh.core.registry.ddl_files import declared_name, parse_ddl_text
from airflow_mesh.core.registry.files import (
    MAX_DDL_FILE_BYTES,
    MAX_TEAM_FILE_BYTES,
    RegistryFile,
    ddl_paths,
    decode,
    read_file,
    team_paths,
)
from airflow_mesh.core.registry.mesh import Mesh, build_mesh
from airflow_mesh.core.registry.models import (
    MeshError,
    MeshValidationError,
    Table,
    Team,
)
from airflow_mesh.core.registry.team_files import load_team_text

CACHE_FORMAT = 2  # 1 was a pickle keyed by (path, size, mtime)
_lock = threading.Lock()
_memory: dict[str, tuple[str, Mesh]] = {}  # root -> (content key, mesh)
_checked_at: dict[str, float] = {}


class RegistryFiles:
    """Every team and DDL file of a root, read once: hashed for the cache key, parsed on a miss."""

    def __init__(self, root: Path) -> None:
        self.root = root
        inside: dict[str, bool] = {}
        self.teams = [read_file(p, root, MAX_TEAM_FILE_BYTES, inside) for p in team_paths(root)]
        self.ddl = [read_file(p, root, MAX_DDL_FILE_BYTES, inside) for p in ddl_paths(root)]

    def content_key(self) -> str:
        digest = hashlib.sha256(f"format {CACHE_FORMAT}\0".encode())
        for f in self.teams + self.ddl:
            digest.update(f.display.encode("utf-8", "surrogateescape") + b"\0")
            body = f.data if f.data is not None else f"unreadable: {f.error}".encode()
            digest.update(len(body).to_bytes(8, "big") + body)
        return digest.hexdigest()


def _not_a_registry(base: Path) -> MeshError:
    return MeshError(file=str(base), line=1, message="not a mesh registry: needs teams/ and ddl/ folders",
                     fix="point AIRFLOW__MESH__ROOT (or the CLI argument) at the registry root")


def _text(f: RegistryFile, errors: list[MeshError]) -> str | None:
    if f.error is not None:
        errors.append(f.error)
        return None
    text, error = decode(f)
    if error is not None:
        errors.append(error)
    return text


def _load_teams(files: list[RegistryFile], errors: list[MeshError]) -> tuple[dict[str, Team], set[str]]:
    """Valid teams by name, and every team name that has a file (valid or not)."""
    teams: dict[str, Team] = {}
    first_file: dict[str, str] = {}
    for f in files:
        stem = f.stem
        if stem in first_file:
            errors.append(MeshError(file=f.display, line=1,
                                    message=f"team '{stem}' is defined twice: {first_file[stem]} and {f.display}",
                                    fix="keep one of the two files"))
            teams.pop(stem, None)
            continue
        first_file[stem] = f.display
        text = _text(f, errors)
        if text is None:
            continue
        team, errs = load_team_text(text, f.display, stem)
        errors.extend(errs)
        if team is not None:
            teams[team.name] = team
    return teams, set(first_file)


def _load_tables(files: list[RegistryFile], team_names: set[str],
                 errors: list[MeshError]) -> tuple[list[Table], set[str]]:
    """Valid tables, and the names of the tables whose DDL is invalid (see :func:`declared_name`)."""
    tables: list[Table] = []
    invalid: set[str] = set()
    for f in files:
        team_name = f.folder
        if team_name not in team_names:
            errors.append(MeshError(file=f.display, line=1,
                                    message=f"folder ddl/{team_name}/ belongs to no registered team",
                                    fix=f"add teams/{team_name}.yaml or move the file to a team's folder"))
            continue
        text = _text(f, errors)
        table = None
        if text is not None:
            table, errs = parse_ddl_text(text, f.display, f.stem, team_name)
            errors.extend(errs)
        if table is not None:
            tables.append(table)
        else:
            invalid.add(declared_name(text, f.stem))
    return tables, invalid


def validate_files(files: RegistryFiles) -> tuple[Mesh | None, list[MeshError]]:
    """Parse and check files already read; return the mesh (if valid) and all errors, sorted."""
    errors: list[MeshError] = []
    teams, team_names = _load_teams(files.teams, errors)
    tables, invalid = _load_tables(files.ddl, team_names, errors)
    mesh, graph_errors = build_mesh(str(files.root), teams, tables, invalid)
    errors.extend(graph_errors)
    errors.sort(key=lambda e: (e.file, e.line, e.message))
    return (None if errors else mesh), errors


def validate_root(root: str | os.PathLike) -> tuple[Mesh | None, list[MeshError]]:
    """Parse and check everything under ``root``; return the mesh (if valid) and all errors."""
    base = Path(root).resolve()
    if not (base / "teams").is_dir() or not (base / "ddl").is_dir():
        return None, [_not_a_registry(base)]
    return validate_files(RegistryFiles(base))


# ---- the disk cache ------------------------------------------------------------------------------

class CachedMesh(BaseModel):
    """The disk cache's schema: plain data, validated on read like any input."""

    model_config = ConfigDict(extra="forbid")

    format: int
    key: str
    root: str
    teams: dict[str, Team]
    tables: dict[str, Table]
    consumers: dict[str, tuple[str, ...]]


def _cache_path(cache_dir: Path, root: Path) -> Path:
    return cache_dir / f"mesh-{hashlib.sha256(str(root).encode()).hexdigest()[:16]}.json"


def _read_disk(path: Path, key: str, root: Path) -> Mesh | None:
    """The cached mesh if the file holds this exact content key and root; anything else is a miss."""
    try:
        with path.open("rb") as fh:
            cached = CachedMesh.model_validate_json(fh.read())
    except (OSError, ValidationError, ValueError):
        return None
    if cached.format != CACHE_FORMAT or cached.key != key or cached.root != str(root):
        return None
    return Mesh(root=cached.root, teams=cached.teams, tables=cached.tables, consumers=cached.consumers)


def _write_disk(path: Path, key: str, mesh: Mesh) -> None:
    """Atomic write (temp file + rename) so a concurrent reader never sees half a file."""
    payload = CachedMesh(format=CACHE_FORMAT, key=key, root=mesh.root, teams=mesh.teams, tables=mesh.tables,
                         consumers=mesh.consumers)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".mesh-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload.model_dump_json().encode())
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home is fine: the in-process cache still works


# ---- the entry point ---------------------------------------------------------------------------

def load_mesh(root: str | os.PathLike, *, cache_dir: str | os.PathLike | None = None,
              recheck_seconds: float = 5.0) -> Mesh:
    """The validated mesh at ``root``; ``cache_dir=None`` skips the disk cache.

    Raises :class:`MeshValidationError` listing every error when the registry is invalid.
    """
    base = Path(root).resolve()
    name = str(base)
    hit = _memory.get(name)
    if hit and time.monotonic() - _checked_at.get(name, 0.0) < recheck_seconds:
        return hit[1]
    if not (base / "teams").is_dir() or not (base / "ddl").is_dir():
        raise MeshValidationError([_not_a_registry(base)])
    files = RegistryFiles(base)
    key = files.content_key()
    with _lock:
        hit = _memory.get(name)
        if hit is None or hit[0] != key:
            cache_file = _cache_path(Path(cache_dir), base) if cache_dir is not None else None
            mesh = _read_disk(cache_file, key, base) if cache_file else None
            if mesh is None:
                mesh, errors = validate_files(files)
                if errors or mesh is None:
                    raise MeshValidationError(errors)
                if cache_file:
                    _write_disk(cache_file, key, mesh)
            hit = _memory[name] = (key, mesh)
        _checked_at[name] = time.monotonic()
        return hit[1]


def clear_memory_cache() -> None:
    """Forget in-process meshes (tests and benchmarks measure cold loads)."""
    with _lock:
        _memory.clear()
        _checked_at.clear()
