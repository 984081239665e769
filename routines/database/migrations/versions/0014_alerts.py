"""Alerts: routes (where alerts go) and sent alerts (de-duplication, quiet window, deadline misses); reports that
wait for their data (assets read, limit, action).

Revision ID: 0014_alerts
Revises: 0011_api
"""

import sqlalchemy as sa
from alembic import op

from routines.database.base import UtcDateTime

revision = "0014_alerts"
down_revision = "0011_api"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_routes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("target", sa.String(500), nullable=False),
        sa.Column("owners", sa.Text(), nullable=False),
        sa.Column("groups", sa.Text(), nullable=False),
        sa.Column("quiet_minutes", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("channel in ('email', 'slack', 'teams')", name=op.f("ck_alert_routes_channel")),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_alert_routes_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_routes")),
        sa.UniqueConstraint("name", name=op.f("uq_alert_routes_name")),
    )
    op.create_table(
        "sent_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("route", sa.String(120), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.Column("sent_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sent_alerts")),
    )
    op.create_index(
        "ix_sent_alerts_route_kind_subject", "sent_alerts", ["route", "kind", "subject", "sent_at"]
    )
    with op.batch_alter_table("report_definitions") as batch:
        batch.add_column(sa.Column("wait_for_assets", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("wait_limit_minutes", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("wait_action", sa.String(10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("report_definitions") as batch:
        batch.drop_column("wait_action")
        batch.drop_column("wait_limit_minutes")
        batch.drop_column("wait_for_assets")
    op.drop_index("ix_sent_alerts_route_kind_subject", table_name="sent_alerts")
    op.drop_table("sent_alerts")
    op.drop_table("alert_routes")
