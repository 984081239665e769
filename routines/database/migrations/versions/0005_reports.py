"""Reports: definitions, SMTP settings, executions, run requests.

Revision ID: 0005_reports
Revises: 0004_invoices
"""

revision = "0005_reports"
down_revision = "0004_invoices"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
