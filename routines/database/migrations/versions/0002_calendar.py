"""Calendar: company calendars.

Revision ID: 0002_calendar
Revises: 0001_platform
"""

import sqlalchemy as sa
from alembic import op

from routines.database.base import UtcDateTime

revision = "0002_calendar"
down_revision = "0001_platform"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "business_calendars",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("base_calendar", sa.String(40), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_business_calendars")),
        sa.UniqueConstraint("name", name=op.f("uq_business_calendars_name")),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_business_calendars_company_id_companies")
        ),
    )
    op.create_index(op.f("ix_business_calendars_company_id"), "business_calendars", ["company_id"])
    op.create_table(
        "business_calendar_days",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("calendar_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("status", sa.String(6), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_business_calendar_days")),
        sa.UniqueConstraint("calendar_id", "day", name=op.f("uq_business_calendar_days_calendar_id_day")),
        sa.CheckConstraint("status in ('closed', 'open')", name=op.f("ck_business_calendar_days_status")),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["business_calendars.id"],
            name=op.f("fk_business_calendar_days_calendar_id_business_calendars"),
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    op.drop_table("business_calendar_days")
    op.drop_index(op.f("ix_business_calendars_company_id"), table_name="business_calendars")
    op.drop_table("business_calendars")
