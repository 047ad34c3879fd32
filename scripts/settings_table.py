"""Print the Markdown table of the ``[mesh]`` settings from the provider info (docs/deployment.md holds it;
tests/unit/test_settings.py checks the two match). Usage: ``python scripts/settings_table.py``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from airflow_mesh.provider import MESH_OPTIONS  # noqa: E402


def settings_table() -> str:
    rows = ["| `[mesh]` option | environment variable | type | default | what it does |",
            "| --- | --- | --- | --- | --- |"]
    for key, o in MESH_OPTIONS.items():
        default = f"`{o['default']}`" if o["default"] else "(empty)"
        rows.append(f"| `{key}` | `AIRFLOW__MESH__{key.upper()}` | {o['type']} | {default} | {o['description']} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(settings_table(), end="")
