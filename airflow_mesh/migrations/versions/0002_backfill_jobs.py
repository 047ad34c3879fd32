"""Backfill jobs (durable status, lease, fingerprint) and their per-DAG parts (native backfill, cursor).

The legacy ``mesh_backfill`` records stay as they are (read-only history of atomic executions).

Revision ID: mesh_0002
Revises: mesh_0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "mesh_0002"
down_revision = "mesh_0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "mesh_backfill_job",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user", sa.String(250), nullable=False),
        sa.Column("roots", sa.Text, nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request", sa.Text, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("status_reason", sa.Text, nullable=True),
        sa.Column("is_paused", sa.Boolean, nullable=False),
        sa.Column("max_active_runs", sa.Integer, nullable=False),
        sa.Column("total_runs", sa.Integer, nullable=False),
        sa.Column("lease_owner", sa.String(250), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("materialized_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_by", sa.String(250), nullable=True),
        sa.Column("left_out", sa.Text, nullable=False),
    )
    op.create_index("ix_mesh_backfill_job_status", "mesh_backfill_job", ["status"])
    op.create_table(
        "mesh_backfill_job_dag",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.Integer, sa.ForeignKey("mesh_backfill_job.id", ondelete="CASCADE"), nullable=False),
        sa.Column("dag_id", sa.String(250), nullable=False),
        sa.Column("active_dag_id", sa.String(250), nullable=True),
        sa.Column("team", sa.String(250), nullable=True),
        sa.Column("wave", sa.Integer, nullable=False),
        sa.Column("tasks", sa.Text, nullable=False),
        sa.Column("ranges", sa.Text, nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("done", sa.Integer, nullable=False),
        sa.Column("created", sa.Integer, nullable=False),
        sa.Column("cleared", sa.Integer, nullable=False),
        sa.Column("skipped", sa.Integer, nullable=False),
        sa.Column("backfill_id", sa.Integer, nullable=True),
    )
    op.create_index("ix_mesh_backfill_job_dag_active", "mesh_backfill_job_dag", ["active_dag_id"], unique=True)
    op.create_index("ix_mesh_backfill_job_dag_job", "mesh_backfill_job_dag", ["job_id"])


def downgrade():
    op.drop_table("mesh_backfill_job_dag")
    op.drop_table("mesh_backfill_job")
