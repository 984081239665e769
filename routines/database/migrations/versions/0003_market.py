"""Market: B3 quotes, CVM fund quotas, consolidated trade prices.

Revision ID: 0003_market
Revises: 0002_calendar
"""

revision = "0003_market"
down_revision = "0002_calendar"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
