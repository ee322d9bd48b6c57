"""The baseline: the store as it was before the classroom (runs, metrics, evaluations, artifacts, events and the
record of data migrations), with every column the pre-Alembic releases added on open.

A home made before migrations existed is brought to this point in place by the store itself
(``playground.store._adopt``: missing tables and columns added, old data moved) and stamped with this revision;
a fresh database runs it. The tables are spelled out here, not taken from ``playground.store``: a revision stays
what it was when the store changes.

Revision ID: 0001_baseline
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("algo", sa.String(32), nullable=False),
        sa.Column("env", sa.String(200), nullable=False),
        sa.Column("game", sa.String(100), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("label", sa.String(200)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("seed", sa.Integer),
        sa.Column("total_steps", sa.Integer),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("folder", sa.Text, nullable=False),
        sa.Column("config", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("started_at", sa.Float),
        sa.Column("ended_at", sa.Float),
        sa.Column("heartbeat_at", sa.Float),
        sa.Column("pid", sa.Integer),
        sa.Column("pid_start", sa.String(32)),
        sa.Column("host", sa.String(200)),
        sa.Column("error", sa.Text),
        sa.Column("stop_requested", sa.Boolean, nullable=False),
        sa.Column("steps_per_s", sa.Float),
        sa.Column("eta_s", sa.Float),
        sa.Column("player", sa.String(100)),
    )
    op.create_index("ix_runs_algo_game", "runs", ["algo", "game"])

    op.create_table(
        "metrics",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(200), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("wall_time", sa.Float, nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
    )
    op.create_index("ix_metrics_run_key_step", "metrics", ["run_id", "key", "step"])

    op.create_table(
        "evaluations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(200), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("scores", sa.Text, nullable=False),
        sa.Column("mean", sa.Float, nullable=False),
        sa.Column("std", sa.Float, nullable=False),
        sa.Column("n_episodes", sa.Integer, nullable=False),
        sa.Column("checkpoint", sa.Text),
        sa.Column("seed", sa.Integer),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("checkpoint_sha256", sa.String(64)),
        sa.Column("measure", sa.String(40)),
        sa.Column("details", sa.Text),
    )
    op.create_index("ix_evaluations_run", "evaluations", ["run_id", "step"])

    op.create_table(
        "artifacts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(200), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("step", sa.Integer),
        sa.Column("meta", sa.Text),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_artifacts_run_kind", "artifacts", ["run_id", "kind"])

    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(200)),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_events_kind", "events", ["kind"])

    op.create_table(
        "migrations",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("done_at", sa.Float, nullable=False),
        sa.Column("detail", sa.Text),
    )


def downgrade() -> None:
    for table in ("migrations", "events", "artifacts", "evaluations", "metrics", "runs"):
        op.drop_table(table)
