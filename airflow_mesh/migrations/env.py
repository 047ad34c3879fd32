"""Alembic environment of the mesh's tables; its own version table beside Airflow's."""

from __future__ import annotations

from airflow import settings
from alembic import context

from airflow_mesh.backfill.db_manager import MeshDBManager

config = context.config
version_table = MeshDBManager.version_table_name
target_metadata = MeshDBManager.metadata


def include_object(_, name, type_, *args):
    return not (type_ == "table" and name not in target_metadata.tables)


def run_migrations_offline():
    context.configure(url=settings.SQL_ALCHEMY_CONN, target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=True, version_table=version_table, include_object=include_object)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    connection = config.attributes.get("connection", None)
    if connection is None:
        connection = settings.get_engine().connect()
    with connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                          version_table=version_table, include_object=include_object)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
