"""The mesh's settings: every one is a ``[mesh]`` option read through Airflow's configuration.

One source, so the CLI, the cluster policy, the plugin and the workers always agree: airflow.cfg,
``AIRFLOW__MESH__<KEY>`` environment variables, ``_cmd``/``_secret`` variants, whatever Airflow's
``conf`` resolves. Names, types, descriptions and defaults are declared once, in the provider info
(:data:`airflow_mesh.provider.MESH_OPTIONS`), which Airflow also shows in ``airflow config list``.

This module is Airflow glue: the pure core (``airflow_mesh.core``) never imports it; the glue passes
the values it reads here to the core as parameters.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow_mesh.provider import MESH_OPTIONS

ENFORCE_MODES = ("strict", "warn", "off")
NOT_CONFIGURED = ("no mesh registry is configured: set [mesh] root (AIRFLOW__MESH__ROOT) to the folder holding "
                  "teams/ and ddl/")


class MeshNotConfigured(RuntimeError):
    """No registry is configured: the mesh stays out of the way until one is."""


class MeshSettingError(ValueError):
    """A ``[mesh]`` option has a value of the wrong kind."""


def _conf():
    from airflow.configuration import conf

    return conf


def mesh_setting(key: str) -> str | None:
    """The raw ``[mesh] <key>`` string; an empty value counts as unset (the declared default applies)."""
    if key not in MESH_OPTIONS:
        raise KeyError(f"[mesh] {key} is not a declared setting; declared: {', '.join(MESH_OPTIONS)}")
    value = (_conf().get("mesh", key, fallback="") or "").strip() or MESH_OPTIONS[key]["default"]
    return value or None


def setting(key: str) -> Any:
    """``[mesh] <key>`` converted to its declared type (string, integer, float, boolean); ``None`` when empty."""
    value = mesh_setting(key)
    kind = MESH_OPTIONS[key]["type"]
    if value is None or kind == "string":
        return value
    if kind == "boolean":
        if value.lower() in ("true", "1", "yes", "on"):
            return True
        if value.lower() in ("false", "0", "no", "off"):
            return False
        raise MeshSettingError(f"[mesh] {key} is {value!r}, not a boolean. Fix: set True or False in airflow.cfg "
                               f"or AIRFLOW__MESH__{key.upper()}")
    try:
        return int(value) if kind == "integer" else float(value)
    except ValueError:
        raise MeshSettingError(
            f"[mesh] {key} is {value!r}, not a{'n' if kind == 'integer' else ''} {kind}. Fix: set it in "
            f"airflow.cfg or AIRFLOW__MESH__{key.upper()} (example: {MESH_OPTIONS[key]['example']})") from None


def _airflow_home() -> Path:
    from airflow.configuration import AIRFLOW_HOME

    return Path(AIRFLOW_HOME)


def mesh_root() -> Path:
    """``[mesh] root``; :class:`MeshNotConfigured` when it is not set."""
    value = setting("root")
    if not value:
        raise MeshNotConfigured(NOT_CONFIGURED)
    return Path(value).expanduser().resolve()


def is_configured() -> bool:
    return setting("root") is not None


def enforce_mode() -> str:
    """``[mesh] enforce``: strict, warn or off."""
    value = (setting("enforce") or "").lower()
    if value not in ENFORCE_MODES:
        raise MeshSettingError(f"[mesh] enforce is {value!r}; use strict, warn or off "
                               "(airflow.cfg or AIRFLOW__MESH__ENFORCE)")
    return value


def cache_dir() -> Path:
    value = setting("cache_dir")
    return Path(value).expanduser() if value else _airflow_home() / "mesh-cache"


def catalog_dir() -> Path:
    value = setting("catalog_dir")
    return Path(value).expanduser() if value else _airflow_home() / "mesh-catalog"


def default_deferrable() -> bool:
    """Airflow's ``[operators] default_deferrable``: the mesh's waiting operators follow it as the providers do."""
    return _conf().getboolean("operators", "default_deferrable", fallback=False)


def recheck_seconds() -> float:
    return setting("recheck_seconds")


def configured_mesh():
    """The mesh at ``[mesh] root``, with the configured caches: what every piece of Airflow glue uses.

    Raises :class:`MeshNotConfigured` when no registry is configured, and the registry's
    :class:`~airflow_mesh.core.registry.MeshValidationError` when it is invalid.
    """
    from airflow_mesh.core.registry import load_mesh

    return load_mesh(mesh_root(), cache_dir=cache_dir(), recheck_seconds=recheck_seconds())
