"""Reports: the reporting sandbox (PostgreSQL role, schema and views), definition slugs, allowed recipient domains.

Revision ID: 0008_reports_sandbox
Revises: 0007_users

PostgreSQL: creates the schema `<schema>_reporting` with the reporting views and the role
`<database>_<schema>_reporting` (NOLOGIN; see `routines.reports.sandbox` and the README's "DBA notes"). The
surface is defined once in `routines.reports.surface`; a later migration that changes it re-applies it.
SQLite builds the same views per execution on the report's own connection: nothing to create here.
"""

import sqlalchemy as sa
from alembic import op

from routines.database.base import UtcDateTime

revision = "0008_reports_sandbox"
down_revision = "0007_users"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from routines.reports.slugs import unique_slug

    with op.batch_alter_table("report_definitions") as batch:
        batch.add_column(sa.Column("slug", sa.String(80), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, company_id, name FROM report_definitions ORDER BY id")).all()
    taken: dict[int, set[str]] = {}
    for row in rows:
        slug = unique_slug(row.name, taken.setdefault(row.company_id, set()))
        taken[row.company_id].add(slug)
        bind.execute(
            sa.text("UPDATE report_definitions SET slug = :slug WHERE id = :id"), {"slug": slug, "id": row.id}
        )
    with op.batch_alter_table("report_definitions") as batch:
        batch.create_unique_constraint(op.f("uq_report_definitions_company_id_slug"), ["company_id", "slug"])

    op.create_table(
        "report_allowed_domains",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("domain", sa.String(253), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_report_allowed_domains_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_allowed_domains")),
        sa.UniqueConstraint("company_id", "domain", name=op.f("uq_report_allowed_domains_company_id_domain")),
    )  # fmt: skip
    op.create_index(op.f("ix_report_allowed_domains_company_id"), "report_allowed_domains", ["company_id"])

    if bind.dialect.name == "postgresql":
        from routines.reports.sandbox import install_postgres_surface

        install_postgres_surface(bind)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        from routines.reports.sandbox import remove_postgres_surface

        remove_postgres_surface(bind)
    op.drop_index(op.f("ix_report_allowed_domains_company_id"), table_name="report_allowed_domains")
    op.drop_table("report_allowed_domains")
    with op.batch_alter_table("report_definitions") as batch:
        batch.drop_constraint(op.f("uq_report_definitions_company_id_slug"), type_="unique")
        batch.drop_column("slug")
