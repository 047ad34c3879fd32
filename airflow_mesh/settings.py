"""Where the mesh registry lives, read the way Airflow reads its own settings.

``[mesh] root`` in airflow.cfg, or the environment variable ``AIRFLOW__MESH__ROOT``
(Airflow's usual ``AIRFLOW__<SECTION>__<KEY>`` form). There is no default: the example mesh
lives in the repository, not in the package.
The environment is read first so pure code (CLI, planner, benchmarks) needs no
Airflow import.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path



class MeshNotConfigured(RuntimeError):
    """No registry is configured: the mesh stays out of the way until one is."""


def mesh_setting(key: str, default: str | None = None) -> str | None:
    """``[mesh] <key>``: ``AIRFLOW__MESH__<KEY>`` first (no Airflow import needed), then airflow.cfg when
    Airflow is already loaded; an empty value counts as unset."""
    value = os.environ.get(f"AIRFLOW__MESH__{key.upper()}")
    if not value and "airflow.configuration" in sys.modules:
        from airflow.configuration import conf

        value = conf.get("mesh", key, fallback=None)
    return value or default


def mesh_root() -> Path:
    value = mesh_setting("root")
    if not value:
        raise MeshNotConfigured("no mesh registry is configured: set [mesh] root (AIRFLOW__MESH__ROOT) to the folder "
                                "holding teams/ and ddl/")
    return Path(value).expanduser().resolve()


def configured_mesh():
    """The mesh at ``[mesh] root``, with the configured caches: what every piece of Airflow glue uses.

    Raises :class:`MeshNotConfigured` when no registry is configured, and the registry's
    :class:`~airflow_mesh.core.registry.MeshValidationError` when it is invalid.
    """
    from airflow_mesh.core.registry import load_mesh

    cache_dir = os.environ.get("AIRFLOW_MESH_CACHE_DIR") or str(Path.home() / ".cache" / "airflow-mesh")
    recheck = float(os.environ.get("AIRFLOW_MESH_RECHECK_SECONDS", "5"))
    return load_mesh(mesh_root(), cache_dir=cache_dir, recheck_seconds=recheck)
