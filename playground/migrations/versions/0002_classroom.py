"""The classroom: people (``users``), their uploaded data sets (``uploads``), a class's shared settings
(``class_settings``) and private runs (``runs.private``).

The classroom's first code (before migrations existed) made these on open with ``create_all``; a home it opened
is stamped at the baseline and comes here with some of them already there, so each is made only where missing.

Revision ID: 0002_classroom
Revises: 0001_baseline
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_classroom"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    tables = set(inspector.get_table_names())
    if "private" not in {c["name"] for c in inspector.get_columns("runs")}:
        op.add_column("runs", sa.Column("private", sa.Boolean))
    if "users" not in tables:
        op.create_table(
            "users",
            sa.Column("name", sa.String(100), primary_key=True),
            sa.Column("role", sa.String(16), nullable=False),
            sa.Column("password_hash", sa.Text),
            sa.Column("oidc_subject", sa.String(300)),
            sa.Column("created_at", sa.Float, nullable=False),
            sa.Column("failures", sa.Integer, nullable=False),
            sa.Column("locked_until", sa.Float),
            sa.Column("private_runs", sa.Boolean, nullable=False),
        )
    if "uploads" not in tables:
        op.create_table(
            "uploads",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("owner", sa.String(100), nullable=False),
            sa.Column("name", sa.String(200), nullable=False),
            sa.Column("folder", sa.Text, nullable=False),
            sa.Column("bytes", sa.BigInteger, nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("error", sa.Text),
            sa.Column("created_at", sa.Float, nullable=False),
        )
        op.create_index("ix_uploads_owner", "uploads", ["owner"])
    if "class_settings" not in tables:
        op.create_table(
            "class_settings",
            sa.Column("key", sa.String(64), primary_key=True),
            sa.Column("value", sa.Text, nullable=False),
            sa.Column("updated_at", sa.Float, nullable=False),
        )


def downgrade() -> None:
    op.drop_table("class_settings")
    op.drop_table("uploads")
    op.drop_table("users")
    with op.batch_alter_table("runs") as batch:  # SQLite rebuilds the table
        batch.drop_column("private")
