"""Business API: bearer tokens (hash only) and the index of the task summary (a user's tasks by status).

Revision ID: 0011_api
Revises: 0009_invoices
"""

import sqlalchemy as sa
from alembic import op

from routines.database.base import UtcDateTime

revision = "0011_api"
down_revision = "0009_invoices"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(12), nullable=False),
        sa.Column("label", sa.String(200), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=True),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
        sa.Column("last_used_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_api_tokens_token_sha256")),
    )
    op.create_index("ix_api_tokens_user", "api_tokens", ["user_id"])
    # GET /api/tasks/summary/: one user's tasks counted by status
    op.create_index("ix_export_tasks_user_status", "export_tasks", ["user_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_export_tasks_user_status", table_name="export_tasks")
    op.drop_index("ix_api_tokens_user", table_name="api_tokens")
    op.drop_table("api_tokens")
