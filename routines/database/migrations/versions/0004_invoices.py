"""Invoices: operators, clients, processes, transitions, uploads.

Revision ID: 0004_invoices
Revises: 0003_market
"""

revision = "0004_invoices"
down_revision = "0003_market"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
