"""Appointments and their attendances (one per appointment at most).

Revision ID: 0012_appointments
Revises: 0010_exports
"""

import sqlalchemy as sa
from alembic import op

from routines.database.base import UtcDateTime

revision = "0012_appointments"
down_revision = "0010_exports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "appointments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("scheduled_at", UtcDateTime(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("booked_name", sa.String(200), nullable=False),
        sa.Column("client_reference", sa.String(100), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_appointments_company_id_companies"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointments")),
    )
    op.create_index("ix_appointments_active_id", "appointments", ["active", "id"])
    op.create_index("ix_appointments_updated_at", "appointments", ["updated_at"])
    op.create_table(
        "attendances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=False),
        sa.Column("diagnosis", sa.Text(), nullable=False),
        sa.Column("treatment", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_attendances_appointment_id_appointments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attendances")),
        sa.UniqueConstraint("appointment_id", name=op.f("uq_attendances_appointment_id")),
    )


def downgrade() -> None:
    op.drop_table("attendances")
    op.drop_index("ix_appointments_updated_at", table_name="appointments")
    op.drop_index("ix_appointments_active_id", table_name="appointments")
    op.drop_table("appointments")
