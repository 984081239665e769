"""Calendar: company calendars.

Revision ID: 0002_calendar
Revises: 0001_platform
"""

revision = "0002_calendar"
down_revision = "0001_platform"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
