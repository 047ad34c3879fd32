"""The mesh registry: teams (``teams/*.yaml``) and table contracts (``ddl/<team>/*.sql``).

Pure Python; importing it never imports Airflow.
"""

from airflow_mesh.core.registry.loader import load_mesh, validate_root
from airflow_mesh.core.registry.mesh import Mesh, UnknownTableError
from airflow_mesh.core.registry.models import (
    Column,
    MeshError,
    MeshValidationError,
    Table,
    Team,
)

__all__ = [
    "Column", "Mesh", "MeshError", "MeshValidationError", "Table", "Team", "UnknownTableError",
    "load_mesh", "validate_root",
]
