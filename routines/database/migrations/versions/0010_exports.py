"""Export tasks (the legacy TaskQueue) and notifications for people (user, company, kind, task, link).

Existing notifications stay valid: they keep no user (the operators' general feed), their kind `run_failed`
becomes `error` and their run id becomes their dedup key (one notification per failed run, as before).

Revision ID: 0010_exports
Revises: 0008_reports_sandbox
"""

import sqlalchemy as sa
from alembic import op

from routines.database.base import UtcDateTime

revision = "0010_exports"
down_revision = "0008_reports_sandbox"
branch_labels = None
depends_on = None

KIND_CHECK = "kind in ('task_completed', 'task_failed', 'file_ready', 'info', 'warning', 'error')"


def upgrade() -> None:
    op.create_table(
        "export_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_type", sa.String(40), nullable=False),
        sa.Column("status", sa.String(12), server_default="pending", nullable=False),
        sa.Column("progress", sa.Integer(), server_default="0", nullable=False),
        sa.Column("progress_message", sa.String(500), nullable=True),
        sa.Column("payload", sa.JSON(), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Integer(), server_default="0", nullable=False),
        sa.Column("file_name", sa.String(255), nullable=True),
        sa.Column("file_key", sa.String(500), nullable=True),
        sa.Column("file_size", sa.BigInteger(), nullable=True),
        sa.Column("file_sha256", sa.String(64), nullable=True),
        sa.Column("file_removed_at", UtcDateTime(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), server_default=sa.func.current_timestamp(), nullable=False),
        sa.Column("requested_at", UtcDateTime(), nullable=True),
        sa.Column("started_at", UtcDateTime(), nullable=True),
        sa.Column("finished_at", UtcDateTime(), nullable=True),
        sa.Column("dagster_run_key", sa.String(100), nullable=True),
        sa.Column("dagster_run_id", sa.String(64), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("slot", sa.Integer(), nullable=True),
        sa.Column("run_cancel_requested", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.CheckConstraint(
            "status in ('pending', 'processing', 'completed', 'failed', 'cancelled')",
            name=op.f("ck_export_tasks_status"),
        ),
        sa.CheckConstraint("progress >= 0 and progress <= 100", name=op.f("ck_export_tasks_progress")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_export_tasks_user_id_users"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_export_tasks_company_id_companies"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_tasks")),
    )
    op.create_index("ix_export_tasks_queue", "export_tasks", ["status", "priority", "id"])
    op.create_index("ix_export_tasks_user", "export_tasks", ["user_id", "created_at"])
    op.create_index("ix_export_tasks_company", "export_tasks", ["company_id", "created_at"])
    op.create_index(
        "ux_export_tasks_slot",
        "export_tasks",
        ["slot"],
        unique=True,
        sqlite_where=sa.text("status = 'processing'"),
        postgresql_where=sa.text("status = 'processing'"),
    )

    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("user_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("company_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("task_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("link_text", sa.String(100), nullable=True))
        batch.add_column(sa.Column("dedup_key", sa.String(200), nullable=True))
        batch.drop_constraint("uq_notifications_run_id", type_="unique")
    op.execute("UPDATE notifications SET kind = 'error' WHERE kind = 'run_failed'")
    op.execute("UPDATE notifications SET dedup_key = 'run:' || run_id WHERE run_id IS NOT NULL")
    with op.batch_alter_table("notifications") as batch:
        batch.create_foreign_key(
            op.f("fk_notifications_user_id_users"), "users", ["user_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_foreign_key(
            op.f("fk_notifications_company_id_companies"),
            "companies",
            ["company_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch.create_foreign_key(
            op.f("fk_notifications_task_id_export_tasks"),
            "export_tasks",
            ["task_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_unique_constraint(op.f("uq_notifications_dedup_key"), ["dedup_key"])
        batch.create_check_constraint(op.f("ck_notifications_kind"), sa.text(KIND_CHECK))
    op.create_index("ix_notifications_user", "notifications", ["user_id", "is_read", "created_at"])
    op.create_index("ix_notifications_task_id", "notifications", ["task_id"])


def downgrade() -> None:
    op.drop_index("ix_notifications_task_id", table_name="notifications")
    op.drop_index("ix_notifications_user", table_name="notifications")
    # Notifications addressed to people have no place in the old table: only the run failures stay.
    op.execute("DELETE FROM notifications WHERE user_id IS NOT NULL OR run_id IS NULL")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_constraint(op.f("ck_notifications_kind"), type_="check")
        batch.drop_constraint(op.f("uq_notifications_dedup_key"), type_="unique")
        batch.drop_constraint(op.f("fk_notifications_task_id_export_tasks"), type_="foreignkey")
        batch.drop_constraint(op.f("fk_notifications_company_id_companies"), type_="foreignkey")
        batch.drop_constraint(op.f("fk_notifications_user_id_users"), type_="foreignkey")
    op.execute("UPDATE notifications SET kind = 'run_failed' WHERE kind = 'error'")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("dedup_key")
        batch.drop_column("link_text")
        batch.drop_column("task_id")
        batch.drop_column("company_id")
        batch.drop_column("user_id")
        batch.create_unique_constraint("uq_notifications_run_id", ["run_id"])

    op.drop_index("ux_export_tasks_slot", table_name="export_tasks")
    op.drop_index("ix_export_tasks_company", table_name="export_tasks")
    op.drop_index("ix_export_tasks_user", table_name="export_tasks")
    op.drop_index("ix_export_tasks_queue", table_name="export_tasks")
    op.drop_table("export_tasks")
