"""Notifications.

Revision ID: 0006_notifications
Revises: 0005_reports
"""

import sqlalchemy as sa
from alembic import op

from routines.database.base import UtcDateTime

revision = "0006_notifications"
down_revision = "0005_reports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.Column("job_name", sa.String(200), nullable=True),
        sa.Column("link_url", sa.String(500), nullable=True),
        sa.Column("is_read", sa.Boolean(), nullable=False),
        sa.Column("read_at", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("run_id", name=op.f("uq_notifications_run_id")),
    )
    op.create_index("ix_notifications_unread", "notifications", ["is_read", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_notifications_unread", table_name="notifications")
    op.drop_table("notifications")
