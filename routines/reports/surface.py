"""The reporting surface: the only relations a report query can read, each filtered to the report's company.

Defined once here and built two ways (no Dagster, no database connection in this module):
- PostgreSQL: views in the schema `<application schema>_reporting`, owned by the application role, readable only
  by the reporting role `<database>_<application schema>_reporting` (no login of its own, see `sandbox.py`);
  created by the migration `0008_reports_sandbox` with `postgres_surface_sql()`;
- SQLite: TEMP views created on the report's own read-only connection for one execution
  (`sqlite_surface_sql()`), guarded by the connection's authorizer.

Report SQL names the views without a schema (`SELECT name, cnpj FROM invoice_clients`): the names are those of
the application tables they show, with only the columns a report needs (never passwords, tokens, file paths).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

COMPANY = "{company}"  # replaced by the expression giving the report's company id
APP = "{app}"  # replaced by the qualified name prefix of the application tables

_CLIENTS_OF_COMPANY = f"SELECT c.id FROM {APP}invoice_clients c WHERE c.company_id = {COMPANY}"
_CALENDARS_OF_COMPANY = (
    f"SELECT k.id FROM {APP}business_calendars k WHERE k.company_id IS NULL OR k.company_id = {COMPANY}"
)


@dataclass(frozen=True)
class ReportingView:
    name: str
    source: str  # the application table
    columns: tuple[str, ...]
    scope: str | None  # condition on alias `t` keeping the company's rows; None = not company data
    description: str

    def select_sql(self, app_prefix: str, company_expression: str) -> str:
        columns = ", ".join(f"t.{column}" for column in self.columns)
        sql = f"SELECT {columns} FROM {app_prefix}{self.source} t"
        if self.scope:
            sql += " WHERE " + self.scope.replace(APP, app_prefix).replace(COMPANY, company_expression)
        return sql


VIEWS: tuple[ReportingView, ...] = (
    ReportingView(
        "companies", "companies", ("id", "code", "name", "cnpj", "active"), f"t.id = {COMPANY}",
        "the report's own company (one row)",
    ),
    ReportingView(
        "invoice_clients", "invoice_clients", ("id", "name", "cnpj", "active", "created_at"),
        f"t.company_id = {COMPANY}", "the company's clients",
    ),
    ReportingView(
        "invoice_client_operators", "invoice_client_operators",
        ("id", "client_id", "operator_id", "active", "created_at"),
        f"t.client_id IN ({_CLIENTS_OF_COMPANY})", "which operator each of the company's clients uses",
    ),
    ReportingView(
        "invoice_operators", "invoice_operators", ("id", "code", "name", "has_rpa", "active"),
        f"t.id IN (SELECT co.operator_id FROM {APP}invoice_client_operators co "
        f"WHERE co.client_id IN ({_CLIENTS_OF_COMPANY}))",
        "the telecom operators the company's clients use",
    ),
    ReportingView(
        "invoice_processes", "invoice_processes",
        ("id", "billing_month", "client_id", "operator_id", "status", "download_attempts", "file_size",
         "file_sha256", "error", "approved_by", "approved_at", "rejected_by", "rejected_at", "rejection_reason",
         "sat_protocol", "uploaded_at", "created_at", "updated_at"),
        f"t.client_id IN ({_CLIENTS_OF_COMPANY})", "the company's monthly invoice processes and their status",
    ),
    ReportingView(
        "invoice_process_transitions", "invoice_process_transitions",
        ("id", "process_id", "from_status", "to_status", "at", "actor", "reason"),
        f"t.process_id IN (SELECT p.id FROM {APP}invoice_processes p WHERE p.client_id IN ({_CLIENTS_OF_COMPANY}))",
        "every status change of the company's invoice processes",
    ),
    ReportingView(
        "b3_quotes", "b3_quotes",
        ("trade_date", "bdi_code", "ticker", "market_type", "company_name", "specification", "term_days",
         "currency", "open", "high", "low", "average", "close", "best_bid", "best_ask", "trades", "quantity",
         "volume", "strike", "strike_correction", "expiry_date", "quote_factor", "strike_points", "isin",
         "distribution"),
        None, "B3 daily quotes (COTAHIST), public market data",
    ),
    ReportingView(
        "cvm_fund_quotas", "cvm_fund_quotas",
        ("fund_cnpj", "subclass_id", "fund_type", "report_date", "total_value", "quota_value", "net_assets",
         "inflows", "redemptions", "shareholders", "loaded_at"),
        None, "CVM daily fund quotas, public market data",
    ),
    ReportingView(
        "consolidated_trade_prices", "consolidated_trade_prices",
        ("price_date", "instrument", "instrument_type", "price", "currency", "source_file", "loaded_at"),
        None, "consolidated trade prices loaded from dropped price files",
    ),
    ReportingView(
        "report_definitions", "report_definitions",
        ("id", "name", "slug", "dataset", "format", "cron", "timezone", "calendar_name", "business_days_only",
         "shift", "nth_business_day", "active", "next_run_at", "last_run_at", "created_at", "updated_at"),
        f"t.company_id = {COMPANY}", "the company's report definitions (no query text, no recipients)",
    ),
    ReportingView(
        "report_executions", "report_executions",
        ("id", "report_id", "scheduled_for", "partition_day", "trigger", "status", "requested_at", "started_at",
         "finished_at", "error", "row_count", "truncated", "file_size", "file_sha256", "message_id"),
        f"t.report_id IN (SELECT d.id FROM {APP}report_definitions d WHERE d.company_id = {COMPANY})",
        "executions of the company's reports",
    ),
    ReportingView(
        "business_calendars", "business_calendars",
        ("id", "name", "base_calendar", "description", "company_id", "created_at"),
        f"t.company_id IS NULL OR t.company_id = {COMPANY}", "shared calendars and the company's own",
    ),
    ReportingView(
        "business_calendar_days", "business_calendar_days", ("id", "calendar_id", "day", "status", "reason"),
        f"t.calendar_id IN ({_CALENDARS_OF_COMPANY})", "extra closed/open days of those calendars",
    ),
)  # fmt: skip
VIEW_NAMES = frozenset(view.name for view in VIEWS)

# -- PostgreSQL ---------------------------------------------------------------------------------------------
SCOPE_TABLE = "routines_report_scope"  # per-session TEMP table holding the report's company id
CURSOR_NAME = "routines_report"
_IDENTIFIER = re.compile(r"[^a-z0-9_]+")


def _identifier(text: str, limit: int = 63) -> str:
    """A lower-case PostgreSQL identifier; names longer than 63 bytes keep a hash of the whole name."""
    name = _IDENTIFIER.sub("_", text.lower()).strip("_") or "routines"
    if len(name) > limit:
        digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
        name = f"{name[: limit - 9]}_{digest}"
    return name


def reporting_schema(application_schema: str) -> str:
    """Schema of the reporting views of one application schema (per database)."""
    return _identifier(f"{application_schema}_reporting")


def reporting_role(database: str, application_schema: str) -> str:
    """The reporting role of one database and application schema. Roles are cluster-wide: the name carries
    both, so two databases (or two schemas) on one cluster never share or collide on it."""
    return _identifier(f"{database}_{application_schema}_reporting")


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def postgres_surface_sql(application_schema: str, schema: str, role: str) -> list[str]:
    """DDL of the PostgreSQL reporting surface, run by the application role (the views' owner).

    - `report_company_id()`: the company of the running report, read from the session's TEMP table
      `routines_report_scope` written by the application before it switches role; SECURITY DEFINER of the
      application role, so the reporting role can neither read nor write that table, only learn its own id.
      Without the table (outside a report) every company view fails instead of showing anything.
    - company views are `security_barrier`: the report's own conditions never run before the company filter.
    - `report_open(query)` / `report_fetch(cursor, n)`: SECURITY DEFINER functions OWNED BY THE REPORTING ROLE.
      The report query is opened and fetched only inside them, so it runs as the reporting role inside a
      security-definer frame, where PostgreSQL refuses `set_config('role', ...)`, `SET ROLE` and
      `SET SESSION AUTHORIZATION`; `OPEN ... FOR EXECUTE` accepts exactly one row-returning statement.
    """
    app, rs, who = quote(application_schema), quote(schema), quote(role)
    company = f"(SELECT {rs}.report_company_id())"
    search_path = f"SET search_path = {rs}, pg_catalog, pg_temp"
    statements = [
        f"CREATE SCHEMA {rs}",
        f"REVOKE ALL ON SCHEMA {rs} FROM PUBLIC",
        f"CREATE FUNCTION {rs}.report_company_id() RETURNS integer LANGUAGE plpgsql STABLE SECURITY DEFINER "
        f"SET search_path = pg_catalog, pg_temp AS $$ BEGIN "
        f"RETURN (SELECT s.company_id FROM pg_temp.{SCOPE_TABLE} s); END $$",
        f"REVOKE ALL ON FUNCTION {rs}.report_company_id() FROM PUBLIC",
        f"GRANT EXECUTE ON FUNCTION {rs}.report_company_id() TO {who}",
    ]
    for view in VIEWS:
        options = " WITH (security_barrier)" if view.scope else ""
        statements.append(
            f"CREATE VIEW {rs}.{quote(view.name)}{options} AS {view.select_sql(app + '.', company)}"
        )
        statements.append(f"GRANT SELECT ON {rs}.{quote(view.name)} TO {who}")
    statements += [
        f"CREATE FUNCTION {rs}.report_open(query text) RETURNS refcursor LANGUAGE plpgsql SECURITY DEFINER "
        f"{search_path} AS $$ DECLARE portal refcursor := '{CURSOR_NAME}'; BEGIN "
        f"OPEN portal NO SCROLL FOR EXECUTE query; RETURN portal; END $$",
        f"CREATE FUNCTION {rs}.report_fetch(portal refcursor, batch integer) RETURNS SETOF record "
        f"LANGUAGE plpgsql SECURITY DEFINER {search_path} AS $$ DECLARE r record; BEGIN "
        f"FOR i IN 1..batch LOOP FETCH portal INTO r; EXIT WHEN NOT FOUND; RETURN NEXT r; END LOOP; END $$",
        # the reporting role owns them (it needs CREATE on the schema just for the change of owner)
        f"GRANT CREATE ON SCHEMA {rs} TO {who}",
        f"ALTER FUNCTION {rs}.report_open(text) OWNER TO {who}",
        f"ALTER FUNCTION {rs}.report_fetch(refcursor, integer) OWNER TO {who}",
        f"REVOKE CREATE ON SCHEMA {rs} FROM {who}",
        f"REVOKE ALL ON FUNCTION {rs}.report_open(text) FROM PUBLIC",
        f"REVOKE ALL ON FUNCTION {rs}.report_fetch(refcursor, integer) FROM PUBLIC",
        f"GRANT EXECUTE ON FUNCTION {rs}.report_open(text) TO {who}",
        f"GRANT EXECUTE ON FUNCTION {rs}.report_fetch(refcursor, integer) TO {who}",
        f"GRANT USAGE ON SCHEMA {rs} TO {who}",
    ]
    return statements


def postgres_role_sql(role: str, application_role: str) -> list[str]:
    """What a DBA runs once per database when the application role may not create roles (CREATEROLE)."""
    who = quote(role)
    return [
        f"CREATE ROLE {who} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS",
        f"GRANT {who} TO {quote(application_role)}",
    ]


# -- SQLite -------------------------------------------------------------------------------------------------
def sqlite_surface_sql(company_id: int, token: str) -> tuple[list[str], frozenset[str]]:
    """TEMP views for one execution: each public view reads a hidden view named with `token` (random per
    execution), which alone reads the application tables. SQLite's authorizer reports the innermost view
    behind each read; a query cannot name a view (or a CTE) after an unknown token, so "read from inside a
    hidden view" cannot be forged. Returns the statements and the hidden view names."""
    company = str(int(company_id))
    statements, hidden = [], []
    for view in VIEWS:
        inner = f"routines_{token}_{view.name}"
        hidden.append(inner)
        statements.append(f"CREATE TEMP VIEW {quote(inner)} AS {view.select_sql('main.', company)}")
        columns = ", ".join(quote(c) for c in view.columns)
        statements.append(f"CREATE TEMP VIEW {quote(view.name)} AS SELECT {columns} FROM temp.{quote(inner)}")
    return statements, frozenset(hidden)
