"""``airflow db migrate`` creates and upgrades the mesh's tables through MeshDBManager (real Airflow CLI,
real Alembic), from an empty DB and from the pre-job schema (``mesh_backfill`` made by create_all).

Each case migrates its own throw-away SQLite file in a subprocess, so the session's shared
metadata DB (SQLite or PostgreSQL) is never touched; the migrations themselves are dialect-neutral.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import ROOT
from sqlalchemy import create_engine, inspect, text

MANAGER = "airflow_mesh.backfill.db_manager.MeshDBManager"
REPO = ROOT
NEW_TABLES = {"mesh_backfill_job", "mesh_backfill_job_dag", "alembic_version_mesh"}


def migrate(home: Path, db: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{db}",
           "AIRFLOW__DATABASE__EXTERNAL_DB_MANAGERS": MANAGER, "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    airflow = Path(sys.executable).parent / "airflow"
    return subprocess.run([str(airflow), "db", "migrate"], env=env, capture_output=True, text=True, timeout=300, check=False)


def test_migrate_from_an_empty_db_creates_the_job_tables_at_head(tmp_path) -> None:
    db = tmp_path / "airflow.db"
    done = migrate(tmp_path, db)
    assert done.returncode == 0, done.stderr[-3000:]
    engine = create_engine(f"sqlite:///{db}")
    assert NEW_TABLES <= set(inspect(engine).get_table_names())
    with engine.connect() as c:
        assert c.execute(text("SELECT version_num FROM alembic_version_mesh")).scalar() == "mesh_0002"


def test_migrate_from_the_pre_job_schema_keeps_old_records_and_adds_job_tables(tmp_path) -> None:
    from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text

    db = tmp_path / "airflow.db"
    engine = create_engine(f"sqlite:///{db}")
    old = MetaData()  # exactly what backfill/records.py created with create_all before the DB manager
    Table("mesh_backfill", old, Column("id", Integer, primary_key=True, autoincrement=True),
          Column("created_at", DateTime(timezone=True), nullable=False), Column("user", String(250), nullable=False),
          Column("roots", Text, nullable=False), Column("start", DateTime(timezone=True), nullable=False),
          Column("end", DateTime(timezone=True), nullable=False), Column("request", Text, nullable=False),
          Column("summary", Text, nullable=False), Column("runs", Text, nullable=False))
    old.create_all(engine)
    with engine.begin() as c:
        c.execute(text("INSERT INTO mesh_backfill (created_at, user, roots, start, \"end\", request, summary, runs) "
                       "VALUES ('2026-01-01 00:00:00', 'alice', '[\"a.b\"]', '2026-01-01', '2026-01-02', '{}', '{}', '[]')"))
    done = migrate(tmp_path, db)
    assert done.returncode == 0, done.stderr[-3000:]
    assert NEW_TABLES <= set(inspect(engine).get_table_names())
    with engine.connect() as c:
        assert c.execute(text("SELECT version_num FROM alembic_version_mesh")).scalar() == "mesh_0002"
        assert c.execute(text("SELECT user FROM mesh_backfill")).scalars().all() == ["alice"]
    # a second migrate is a no-op at head
    again = migrate(tmp_path, db)
    assert again.returncode == 0, again.stderr[-3000:]
