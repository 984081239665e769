"""Users: the people of each company (owners of tasks and notifications, business API sign-in).

Revision ID: 0007_users
Revises: 0006_notifications
"""

import sqlalchemy as sa
from alembic import op

from routines.database.base import UtcDateTime

revision = "0007_users"
down_revision = "0006_notifications"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("disabled_at", UtcDateTime(), nullable=True),
        sa.CheckConstraint("role in ('admin', 'operator', 'viewer')", name=op.f("ck_users_role")),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_users_company_id_companies"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_index("ix_users_company_role", "users", ["company_id", "role"])


def downgrade() -> None:
    op.drop_index("ix_users_company_role", table_name="users")
    op.drop_table("users")
