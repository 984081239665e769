"""Installing the PostgreSQL reporting sandbox (called by the migration `0008_reports_sandbox`). No Dagster.

The reporting role has no login of its own: the application role switches to it with `SET LOCAL ROLE` for the
report query only. It gets USAGE on the reporting schema and SELECT on its views, nothing else: no table of the
application, no superuser, no file or admin function (PostgreSQL grants those to superusers and `pg_*` roles
only). The role is created here when the application role may create roles (CREATEROLE); otherwise a DBA
creates it once with `postgres_role_sql()` (the error says exactly what to run) and the migration is re-run.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Connection

from routines.errors import UserError
from routines.reports.surface import (
    postgres_role_sql,
    postgres_surface_sql,
    quote,
    reporting_role,
    reporting_schema,
)


@dataclass(frozen=True)
class PostgresSandbox:
    database: str
    application_schema: str
    application_role: str

    @property
    def schema(self) -> str:
        return reporting_schema(self.application_schema)

    @property
    def role(self) -> str:
        return reporting_role(self.database, self.application_schema)

    @classmethod
    def of(cls, connection: Connection) -> PostgresSandbox:
        database, schema, user = connection.execute(
            text("SELECT current_database(), current_schema(), current_user")
        ).one()
        if schema is None:
            raise UserError("PostgreSQL: no current schema (check search_path): the reports cannot be set up")
        return cls(database, schema, user)


def _ensure_role(connection: Connection, sandbox: PostgresSandbox) -> None:
    role = connection.execute(
        text("SELECT rolsuper, rolcanlogin, rolbypassrls FROM pg_roles WHERE rolname = :name"),
        {"name": sandbox.role},
    ).one_or_none()
    me = connection.execute(
        text("SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user")
    ).one()
    can_create = me.rolsuper or me.rolcreaterole
    dba_sql = "; ".join(postgres_role_sql(sandbox.role, sandbox.application_role))
    if role is None:
        if not can_create:
            raise UserError(
                f"the reporting role {sandbox.role} does not exist and {sandbox.application_role} may not create "
                f"roles: ask a DBA to run `{dba_sql}`, then run `routines db upgrade` again"
            )
        for statement in postgres_role_sql(sandbox.role, sandbox.application_role):
            connection.execute(text(statement))
        return
    if role.rolsuper or role.rolcanlogin or role.rolbypassrls:
        raise UserError(
            f"the reporting role {sandbox.role} exists but has LOGIN, SUPERUSER or BYPASSRLS: it must have none "
            f"(ALTER ROLE {quote(sandbox.role)} NOLOGIN NOSUPERUSER NOBYPASSRLS)"
        )
    member = connection.execute(
        text("SELECT pg_has_role(current_user, :name, 'MEMBER')"), {"name": sandbox.role}
    ).scalar()
    if not member:
        if not can_create:
            raise UserError(
                f"{sandbox.application_role} is not a member of the reporting role {sandbox.role}: ask a DBA to "
                f"run `GRANT {quote(sandbox.role)} TO {quote(sandbox.application_role)}`"
            )
        connection.execute(text(f"GRANT {quote(sandbox.role)} TO {quote(sandbox.application_role)}"))


def install_postgres_surface(connection: Connection) -> PostgresSandbox:
    sandbox = PostgresSandbox.of(connection)
    _ensure_role(connection, sandbox)
    for statement in postgres_surface_sql(sandbox.application_schema, sandbox.schema, sandbox.role):
        connection.execute(text(statement))
    return sandbox


def remove_postgres_surface(connection: Connection) -> None:
    sandbox = PostgresSandbox.of(connection)
    connection.execute(text(f"DROP SCHEMA IF EXISTS {quote(sandbox.schema)} CASCADE"))
    can_drop = connection.execute(
        text("SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user")
    ).scalar()
    exists = connection.execute(
        text("SELECT 1 FROM pg_roles WHERE rolname = :name"), {"name": sandbox.role}
    ).scalar()
    if can_drop and exists:
        nested = connection.begin_nested()
        try:  # a role a DBA created (or that owns objects elsewhere) is left in place
            connection.execute(text(f"DROP ROLE {quote(sandbox.role)}"))
            nested.commit()
        except Exception:  # noqa: BLE001
            nested.rollback()
