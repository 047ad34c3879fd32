"""Loads a registry root (``teams/`` + ``ddl/``), all-or-nothing, cached.

DAG files are parsed again and again, so loading must be cheap when nothing
changed. Two caches, both keyed by the *signature* of the files (path, size,
mtime), so an edited file is always seen:

* in process: the same :class:`Mesh` object is returned while the files are unchanged;
* on disk (``cache_dir``; the glue passes ``[mesh] cache_dir``): the parsed mesh, so each
  fresh DAG-parsing process skips sqlglot.

Within one process the files are re-checked at most every ``recheck_seconds`` (the glue
passes ``[mesh] recheck_seconds``, default 5): stat-ing 5,000 files costs ~45 ms, and
every mesh operator in a DAG file asks for the mesh.

This module is pure: it reads no Airflow setting and no environment variable. Airflow
glue calls :func:`airflow_mesh.settings.configured_mesh`, which passes the settings.

A registry with errors is never cached and never half-loaded: :func:`load_mesh`
raises :class:`MeshValidationError` with *every* error.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
import threading
import time
from pathlib import Path

from airflow_mesh.core.registry.ddl_files import declared_name, parse_ddl_file
from airflow_mesh.core.registry.mesh import Mesh, build_mesh
from airflow_mesh.core.registry.models import MeshError, MeshValidationError, Table, Team
from airflow_mesh.core.registry.team_files import load_team_file

CACHE_FORMAT = 1
_lock = threading.Lock()
_memory: dict[str, tuple[tuple, Mesh]] = {}
_checked_at: dict[str, float] = {}


def _files(root: Path) -> tuple[list[Path], list[Path]]:
    teams = sorted((root / "teams").glob("*.yaml")) + sorted((root / "teams").glob("*.yml"))
    ddl = sorted((root / "ddl").glob("*/*.sql"))
    return teams, ddl


def _signature(files: list[Path]) -> tuple:
    out = []
    for f in files:
        st = f.stat()
        out.append((str(f), st.st_size, st.st_mtime_ns))
    return tuple(out)


def validate_root(root: str | os.PathLike) -> tuple[Mesh | None, list[MeshError]]:
    """Parse and check everything under ``root``; return the mesh (if valid) and all errors."""
    base = Path(root).resolve()
    errors: list[MeshError] = []
    if not (base / "teams").is_dir() or not (base / "ddl").is_dir():
        return None, [MeshError(file=str(base), line=1, message="not a mesh registry: needs teams/ and ddl/ folders",
                                fix="point AIRFLOW__MESH__ROOT (or the CLI argument) at the registry root")]
    team_files, ddl_files = _files(base)

    def rel(p: Path) -> str:
        return str(p.relative_to(base))

    teams: dict[str, Team] = {}
    for f in team_files:
        team, errs = load_team_file(f, rel(f))
        errors.extend(errs)
        if team is not None:
            teams[team.name] = team
    tables: list[Table] = []
    invalid: set[str] = set()
    for f in ddl_files:
        team_name = f.parent.name
        if team_name not in teams and not (base / "teams" / f"{team_name}.yaml").exists():
            errors.append(MeshError(file=rel(f), line=1,
                                    message=f"folder ddl/{team_name}/ belongs to no registered team",
                                    fix=f"add teams/{team_name}.yaml or move the file to a team's folder"))
            continue
        table, errs = parse_ddl_file(f, rel(f), team_name)
        errors.extend(errs)
        if table is not None:
            tables.append(table)
        else:
            invalid.add(declared_name(f))
    mesh, graph_errors = build_mesh(str(base), teams, tables, invalid)
    errors.extend(graph_errors)
    errors.sort(key=lambda e: (e.file, e.line, e.message))
    return (None if errors else mesh), errors


def _cache_path(cache_dir: Path, root: Path) -> Path:
    return cache_dir / f"mesh-{hashlib.sha1(str(root).encode()).hexdigest()[:16]}.pickle"


def load_mesh(root: str | os.PathLike, *, cache_dir: str | os.PathLike | None = None,
              recheck_seconds: float = 5.0) -> Mesh:
    """The validated mesh at ``root``; ``cache_dir=None`` skips the disk cache.

    Raises :class:`MeshValidationError` listing every error when the registry is invalid.
    """
    base = Path(root).resolve()
    key = str(base)
    recheck = recheck_seconds
    use_disk_cache = cache_dir is not None
    hit = _memory.get(key)
    if hit and time.monotonic() - _checked_at.get(key, 0.0) < recheck:
        return hit[1]
    teams, ddl = _files(base)
    sig = (CACHE_FORMAT,) + _signature(teams + ddl)
    with _lock:
        hit = _memory.get(key)
        if hit and hit[0] == sig:
            _checked_at[key] = time.monotonic()
            return hit[1]
        cache_file = _cache_path(Path(cache_dir), base) if cache_dir is not None else Path()
        if use_disk_cache:
            mesh = _read_disk(cache_file, sig)
            if mesh is not None:
                _memory[key] = (sig, mesh)
                _checked_at[key] = time.monotonic()
                return mesh
        mesh, errors = validate_root(base)
        if errors or mesh is None:
            raise MeshValidationError(errors)
        _memory[key] = (sig, mesh)
        _checked_at[key] = time.monotonic()
        if use_disk_cache:
            _write_disk(cache_file, sig, mesh)
        return mesh


def _read_disk(path: Path, sig: tuple) -> Mesh | None:
    try:
        with path.open("rb") as fh:
            stored_sig, mesh = pickle.load(fh)
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, ValueError, TypeError):
        return None
    return mesh if stored_sig == sig else None


def _write_disk(path: Path, sig: tuple, mesh: Mesh) -> None:
    """Atomic write (temp file + rename) so a concurrent reader never sees half a pickle."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".mesh-")
        with os.fdopen(fd, "wb") as fh:
            pickle.dump((sig, mesh), fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home is fine: the in-process cache still works


def clear_memory_cache() -> None:
    """Forget in-process meshes (tests and benchmarks measure cold loads)."""
    with _lock:
        _memory.clear()
        _checked_at.clear()
