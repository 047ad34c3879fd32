"""The pre-job execution records table ``mesh_backfill`` (was created by create_all).

Revision ID: mesh_0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "mesh_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "mesh_backfill",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user", sa.String(250), nullable=False),
        sa.Column("roots", sa.Text, nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request", sa.Text, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("runs", sa.Text, nullable=False),
    )


def downgrade():
    op.drop_table("mesh_backfill")
