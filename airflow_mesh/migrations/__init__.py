"""Alembic migrations of the mesh's tables (run by ``airflow db migrate`` through MeshDBManager)."""
