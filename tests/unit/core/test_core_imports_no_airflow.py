"""The pure core (interval model, registry, planner, coverage, rules) never imports Airflow.

It is what the CLI's offline commands, the benchmarks and a team's CI run without an Airflow
installation configured, and what the sensors, planner and checks share: an Airflow import
here would drag the whole scheduler stack (and its settings side effects) into each of them.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import airflow_mesh.core


def core_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages(airflow_mesh.core.__path__, "airflow_mesh.core."))


def test_every_core_module_imports_without_airflow() -> None:
    modules = core_modules()
    assert "airflow_mesh.core.registry.loader" in modules and "airflow_mesh.core.planner.plan" in modules
    probe = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
