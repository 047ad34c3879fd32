"""The mesh's own tables in Airflow's metadata DB: backfill jobs and their per-DAG parts.

Created and upgraded by ``airflow db migrate`` through :class:`airflow_mesh.backfill.db_manager.MeshDBManager`
(Alembic migrations in ``airflow_mesh/migrations``), never by ``create_all`` at run time.

A job's ``status`` is stored when it changes and never recomputed from other jobs' runs.
``mesh_backfill_job_dag.active_dag_id`` is the DAG id while the job is active and NULL after:
its unique index makes "one active mesh job per DAG" a DB fact, so two concurrent executes
of overlapping plans cannot both win, whatever API server they reach.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()


class JobStatus(StrEnum):
    """A mesh backfill job's durable status."""

    QUEUED = "queued"                # accepted; nothing materialized yet
    MATERIALIZING = "materializing"  # a materializer holds the lease and is creating/clearing runs
    RUNNING = "running"              # every run is materialized; Airflow's scheduler runs them
    PAUSED = "paused"                # no new run of the job starts (its native backfills are paused)
    CANCELLING = "cancelling"        # cancel requested; queued runs being failed, running tasks terminated
    CANCELLED = "cancelled"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"      # materialization stopped (lease expired): resume or cancel

    @property
    def active(self) -> bool:
        return self not in FINAL


FINAL = frozenset({JobStatus.CANCELLED, JobStatus.SUCCEEDED, JobStatus.FAILED})

# The pre-job execution records (created by ``create_all`` before the DB manager existed): the base revision.
legacy_record = Table(
    "mesh_backfill", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("user", String(250), nullable=False),
    Column("roots", Text, nullable=False),
    Column("start", DateTime(timezone=True), nullable=False),
    Column("end", DateTime(timezone=True), nullable=False),
    Column("request", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("runs", Text, nullable=False),
)

job = Table(
    "mesh_backfill_job", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("user", String(250), nullable=False),
    Column("roots", Text, nullable=False),            # JSON list
    Column("start", DateTime(timezone=True), nullable=False),
    Column("end", DateTime(timezone=True), nullable=False),
    Column("request", Text, nullable=False),          # JSON: the BackfillRequest as submitted
    Column("fingerprint", String(64), nullable=False),
    Column("status", String(20), nullable=False),
    Column("status_reason", Text, nullable=True),
    Column("is_paused", Boolean, nullable=False, default=False),
    Column("max_active_runs", Integer, nullable=False),
    Column("total_runs", Integer, nullable=False),
    Column("lease_owner", String(250), nullable=True),
    Column("lease_until", DateTime(timezone=True), nullable=True),
    Column("materialized_at", DateTime(timezone=True), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("cancelled_by", String(250), nullable=True),
    Column("left_out", Text, nullable=False),         # JSON list: what the planner cut
    Index("ix_mesh_backfill_job_status", "status"),
)

job_dag = Table(
    "mesh_backfill_job_dag", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", Integer, ForeignKey("mesh_backfill_job.id", ondelete="CASCADE"), nullable=False),
    Column("dag_id", String(250), nullable=False),
    Column("active_dag_id", String(250), nullable=True),  # = dag_id while the job is active, else NULL
    Column("team", String(250), nullable=True),
    Column("wave", Integer, nullable=False),
    Column("tasks", Text, nullable=False),           # JSON list: task ids the job runs/clears in this DAG
    Column("ranges", Text, nullable=False),          # JSON: [{"first", "last", "count"}] from the plan
    Column("total", Integer, nullable=False),        # planned runs
    Column("done", Integer, nullable=False, default=0),  # cursor: planned runs processed (plan order)
    Column("created", Integer, nullable=False, default=0),
    Column("cleared", Integer, nullable=False, default=0),
    Column("skipped", Integer, nullable=False, default=0),
    Column("backfill_id", Integer, nullable=True),   # Airflow's native Backfill of this DAG for this job
    Index("ix_mesh_backfill_job_dag_active", "active_dag_id", unique=True),
    Index("ix_mesh_backfill_job_dag_job", "job_id"),
)
