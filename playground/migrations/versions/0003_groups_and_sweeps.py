"""Seeds groups and sweeps: ``runs.group_id`` (runs started together that differ only by seed), ``runs.sweep_id``
(the sweep a run is a trial of) and the ``sweeps`` table.

Revision ID: 0003_groups_and_sweeps
Revises: 0002_classroom
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_groups_and_sweeps"
down_revision = "0002_classroom"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("group_id", sa.String(200)))
        batch.add_column(sa.Column("sweep_id", sa.String(200)))
    op.create_table(
        "sweeps",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("algo", sa.String(32), nullable=False),
        sa.Column("env", sa.String(200), nullable=False),
        sa.Column("game", sa.String(100), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("config", sa.Text, nullable=False),
        sa.Column("folder", sa.Text, nullable=False),
        sa.Column("player", sa.String(100)),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("started_at", sa.Float),
        sa.Column("ended_at", sa.Float),
        sa.Column("heartbeat_at", sa.Float),
        sa.Column("pid", sa.Integer),
        sa.Column("host", sa.String(200)),
        sa.Column("error", sa.Text),
        sa.Column("stop_requested", sa.Boolean, nullable=False),
        sa.Column("best_run", sa.String(200)),
        sa.Column("best_value", sa.Float),
    )


def downgrade() -> None:
    op.drop_table("sweeps")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("sweep_id")
        batch.drop_column("group_id")
