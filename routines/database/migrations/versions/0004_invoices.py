"""Invoices: operators, clients, processes, transitions, uploads, RPA leases.

Revision ID: 0004_invoices
Revises: 0003_market
"""

import sqlalchemy as sa
from alembic import op

from routines.database.base import UtcDateTime

revision = "0004_invoices"
down_revision = "0003_market"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "invoice_operators",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("has_rpa", sa.Boolean(), nullable=False),
        sa.Column("outsourced_rpa", sa.Boolean(), nullable=False),
        sa.Column("rpa_endpoint_name", sa.String(100), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_operators")),
        sa.UniqueConstraint("code", name=op.f("uq_invoice_operators_code")),
    )
    op.create_table(
        "invoice_clients",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("cnpj", sa.String(18), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_clients")),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_invoice_clients_company_id_companies")
        ),
        sa.UniqueConstraint("company_id", "name", name=op.f("uq_invoice_clients_company_id_name")),
    )
    op.create_table(
        "invoice_client_operators",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_client_operators")),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["invoice_clients.id"],
            name=op.f("fk_invoice_client_operators_client_id_invoice_clients"),
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["invoice_operators.id"],
            name=op.f("fk_invoice_client_operators_operator_id_invoice_operators"),
        ),
        sa.UniqueConstraint(
            "client_id", "operator_id", name=op.f("uq_invoice_client_operators_client_id_operator_id")
        ),
    )
    op.create_table(
        "invoice_processes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("billing_month", sa.Date(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("job_id", sa.String(100), nullable=True),
        sa.Column("download_attempts", sa.Integer(), nullable=False),
        sa.Column("file_key", sa.String(500), nullable=True),
        sa.Column("file_sha256", sa.String(64), nullable=True),
        sa.Column("file_size", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("last_log_lines", sa.Text(), nullable=True),
        sa.Column("approved_by", sa.String(200), nullable=True),
        sa.Column("approved_at", UtcDateTime(), nullable=True),
        sa.Column("rejected_by", sa.String(200), nullable=True),
        sa.Column("rejected_at", UtcDateTime(), nullable=True),
        sa.Column("rejection_reason", sa.Text(), nullable=True),
        sa.Column("sat_idempotency_key", sa.String(100), nullable=True),
        sa.Column("sat_protocol", sa.String(100), nullable=True),
        sa.Column("uploaded_at", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_processes")),
        sa.ForeignKeyConstraint(
            ["client_id"], ["invoice_clients.id"], name=op.f("fk_invoice_processes_client_id_invoice_clients")
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["invoice_operators.id"],
            name=op.f("fk_invoice_processes_operator_id_invoice_operators"),
        ),
        sa.UniqueConstraint(
            "billing_month",
            "client_id",
            "operator_id",
            name=op.f("uq_invoice_processes_billing_month_client_id_operator_id"),
        ),
    )
    op.create_index(
        op.f("ix_invoice_processes_billing_month"), "invoice_processes", ["billing_month"], unique=False
    )
    op.create_index(op.f("ix_invoice_processes_status"), "invoice_processes", ["status"], unique=False)
    op.create_table(
        "invoice_process_transitions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("process_id", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(40), nullable=True),
        sa.Column("to_status", sa.String(40), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_process_transitions")),
        sa.ForeignKeyConstraint(
            ["process_id"],
            ["invoice_processes.id"],
            name=op.f("fk_invoice_process_transitions_process_id_invoice_processes"),
        ),
    )
    op.create_index(
        op.f("ix_invoice_process_transitions_process_id"),
        "invoice_process_transitions",
        ["process_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_invoice_process_transitions_to_status"),
        "invoice_process_transitions",
        ["to_status"],
        unique=False,
    )

    op.create_table(
        "invoice_rpa_leases",
        sa.Column("slot", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("acquired_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("slot", name=op.f("pk_invoice_rpa_leases")),
    )


def downgrade() -> None:
    op.drop_table("invoice_rpa_leases")
    op.drop_table("invoice_process_transitions")
    op.drop_table("invoice_processes")
    op.drop_table("invoice_client_operators")
    op.drop_table("invoice_clients")
    op.drop_table("invoice_operators")
