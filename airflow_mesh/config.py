"""Where the mesh registry lives, read the way Airflow reads its own settings.

``[mesh] root`` in airflow.cfg, or the environment variable ``AIRFLOW__MESH__ROOT``
(Airflow's usual ``AIRFLOW__<SECTION>__<KEY>`` form). Default: the example mesh
shipped inside this package, so ``make demo`` works with no configuration.
The environment is read first so pure code (CLI, planner, benchmarks) needs no
Airflow import.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

EXAMPLE_ROOT = Path(__file__).resolve().parent


def mesh_root() -> Path:
    value = os.environ.get("AIRFLOW__MESH__ROOT")
    if not value and "airflow.configuration" in sys.modules:
        from airflow.configuration import conf

        value = conf.get("mesh", "root", fallback=None)
    return Path(value).expanduser().resolve() if value else EXAMPLE_ROOT
