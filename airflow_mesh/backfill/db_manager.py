"""``airflow db migrate`` creates and upgrades the mesh's tables, like the FAB provider's own.

Airflow runs every external DB manager it finds (``RunDBManager`` in ``airflow/utils/db_manager.py``):
those named in a provider's ``get_provider_info()["db-managers"]`` and those in
``[database] external_db_managers``. On an empty DB the tables come from the metadata and the
version is stamped at head; on a DB holding the pre-job ``mesh_backfill`` table (no version row),
Airflow stamps the base revision and upgrades from there.
"""

from __future__ import annotations

from pathlib import Path

from airflow.utils.db_manager import BaseDBManager

from airflow_mesh.backfill.models import metadata

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


class MeshDBManager(BaseDBManager):
    """The mesh's Alembic environment: version table ``alembic_version_mesh``."""

    metadata = metadata
    version_table_name = "alembic_version_mesh"
    migration_dir = MIGRATIONS.as_posix()
    alembic_file = (MIGRATIONS / "alembic.ini").as_posix()
    supports_table_dropping = True
