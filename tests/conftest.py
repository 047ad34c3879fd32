"""Test session: a real Airflow home with a real SQLite metadata DB and the example mesh's DAGs.

The environment is set before anything imports Airflow, so every test talks to
this throw-away home and never to a developer's own Airflow.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HOME = Path(tempfile.mkdtemp(prefix="airflow-mesh-test-home-"))
os.environ.update({
    "AIRFLOW_HOME": str(HOME),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "airflow_mesh" / "dags"),
    "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
    "AIRFLOW_MESH_WAREHOUSE": str(HOME / "warehouse"),
    "AIRFLOW_MESH_CACHE_DIR": str(HOME / "mesh-cache"),
    "AIRFLOW_MESH_EXAMPLE_POKE_SECONDS": "1",
})
os.environ.pop("AIRFLOW__MESH__ROOT", None)


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """Migrate a fresh metadata DB once per session and load the example DAGs into it."""
    from airflow.utils.db import resetdb

    from airflow_mesh.seed import sync_dags_to_db

    resetdb()
    sync_dags_to_db()
    return HOME
