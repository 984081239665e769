"""Invoices: RPA leases name their process (the claim) and the job they count until it may have ended.

The lease table holds only jobs in flight, so it is recreated empty: upgrade while no download runs.

Revision ID: 0009_invoices
Revises: 0012_appointments
"""

import sqlalchemy as sa
from alembic import op

from routines.database.base import UtcDateTime

revision = "0009_invoices"
down_revision = "0012_appointments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("invoice_rpa_leases")
    op.create_table(
        "invoice_rpa_leases",
        sa.Column("slot", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("token", sa.String(32), nullable=False),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("process_id", sa.Integer(), nullable=True),
        sa.Column("acquired_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("job_id", sa.String(100), nullable=True),
        sa.Column("job_started_at", UtcDateTime(), nullable=True),
        sa.Column("job_deadline", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["process_id"],
            ["invoice_processes.id"],
            name=op.f("fk_invoice_rpa_leases_process_id_invoice_processes"),
        ),
        sa.PrimaryKeyConstraint("slot", name=op.f("pk_invoice_rpa_leases")),
        sa.UniqueConstraint("token", name=op.f("uq_invoice_rpa_leases_token")),
        sa.UniqueConstraint("process_id", name=op.f("uq_invoice_rpa_leases_process_id")),
    )


def downgrade() -> None:
    op.drop_table("invoice_rpa_leases")
    op.create_table(
        "invoice_rpa_leases",
        sa.Column("slot", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("acquired_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("slot", name=op.f("pk_invoice_rpa_leases")),
    )
