"""Reports: definitions, SMTP settings, executions, run requests.

Revision ID: 0005_reports
Revises: 0004_invoices
"""

import sqlalchemy as sa
from alembic import op

from routines.database.base import UtcDateTime

revision = "0005_reports"
down_revision = "0004_invoices"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_definitions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("query_sql", sa.Text(), nullable=True),
        sa.Column("dataset", sa.String(100), nullable=True),
        sa.Column("format", sa.String(20), nullable=False),
        sa.Column("recipients_to", sa.JSON(), nullable=False),
        sa.Column("recipients_cc", sa.JSON(), nullable=False),
        sa.Column("subject_template", sa.String(500), nullable=True),
        sa.Column("body_template", sa.Text(), nullable=True),
        sa.Column("cron", sa.String(120), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("calendar_name", sa.String(60), nullable=True),
        sa.Column("business_days_only", sa.Boolean(), nullable=False),
        sa.Column("shift", sa.String(20), nullable=False),
        sa.Column("nth_business_day", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("next_run_at", UtcDateTime(), nullable=True),
        sa.Column("last_run_at", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_definitions")),
        sa.UniqueConstraint("company_id", "name", name=op.f("uq_report_definitions_company_id_name")),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_report_definitions_company_id_companies")
        ),
    )
    op.create_index("ix_report_definitions_due", "report_definitions", ["active", "next_run_at"])
    op.create_index(op.f("ix_report_definitions_company_id"), "report_definitions", ["company_id"])

    op.create_table(
        "report_smtp_settings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("security", sa.String(10), nullable=False),
        sa.Column("username", sa.String(255), nullable=True),
        sa.Column("password_encrypted", sa.Text(), nullable=True),
        sa.Column("from_address", sa.String(255), nullable=False),
        sa.Column("from_name", sa.String(200), nullable=True),
        sa.Column("timeout_seconds", sa.Integer(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_smtp_settings")),
        sa.UniqueConstraint("company_id", name=op.f("uq_report_smtp_settings_company_id")),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_report_smtp_settings_company_id_companies")
        ),
    )

    op.create_table(
        "report_executions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("run_key", sa.String(200), nullable=False),
        sa.Column("scheduled_for", UtcDateTime(), nullable=False),
        sa.Column("partition_day", sa.String(10), nullable=False),
        sa.Column("trigger", sa.String(10), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("requested_at", UtcDateTime(), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=True),
        sa.Column("finished_at", UtcDateTime(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("row_count", sa.Integer(), nullable=True),
        sa.Column("truncated", sa.Boolean(), nullable=False),
        sa.Column("file_key", sa.String(500), nullable=True),
        sa.Column("file_size", sa.BigInteger(), nullable=True),
        sa.Column("file_sha256", sa.String(64), nullable=True),
        sa.Column("files", sa.JSON(), nullable=True),
        sa.Column("recipients", sa.JSON(), nullable=True),
        sa.Column("message_id", sa.String(255), nullable=True),
        sa.Column("dagster_run_id", sa.String(64), nullable=True),
        sa.Column("run_request_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_executions")),
        sa.UniqueConstraint("run_key", name=op.f("uq_report_executions_run_key")),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["report_definitions.id"],
            name=op.f("fk_report_executions_report_id_report_definitions"),
            ondelete="CASCADE",
        ),
    )
    op.create_index(op.f("ix_report_executions_status"), "report_executions", ["status"])
    op.create_index(
        "ix_report_executions_report_scheduled", "report_executions", ["report_id", "scheduled_for"]
    )

    op.create_table(
        "report_run_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("requested_at", UtcDateTime(), nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("processed_at", UtcDateTime(), nullable=True),
        sa.Column("execution_id", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_run_requests")),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["report_definitions.id"],
            name=op.f("fk_report_run_requests_report_id_report_definitions"),
            ondelete="CASCADE",
        ),
    )
    op.create_index(op.f("ix_report_run_requests_status"), "report_run_requests", ["status"])


def downgrade() -> None:
    op.drop_index(op.f("ix_report_run_requests_status"), table_name="report_run_requests")
    op.drop_table("report_run_requests")
    op.drop_index("ix_report_executions_report_scheduled", table_name="report_executions")
    op.drop_index(op.f("ix_report_executions_status"), table_name="report_executions")
    op.drop_table("report_executions")
    op.drop_table("report_smtp_settings")
    op.drop_index(op.f("ix_report_definitions_company_id"), table_name="report_definitions")
    op.drop_index("ix_report_definitions_due", table_name="report_definitions")
    op.drop_table("report_definitions")
