"""The database is the boundary: with the parser switched off, every bypass of the issue is refused by PostgreSQL
(connected as the non-superuser application role, as in production) and by SQLite's authorizer, or returns only
the report's company's rows. Plus the time limit of the whole query and the row/byte caps."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select, text

from routines.database.engine import session_scope
from routines.reports import query as query_module
from routines.reports.query import QueryError, QueryLimits, fetch_all
from routines.reports.service import set_smtp_settings

LIMITS = QueryLimits(max_rows=1000, max_bytes=10_000_000, timeout_seconds=20)
SECRET = "acme-smtp-secret"
# Anything of ACME's a BEG report must never see.
ACME_MARKERS = ("ACME", "Segredo", "11.111.111/0001-11", "PROTOCOLO-ACME", SECRET)


@pytest.fixture
def no_parser(monkeypatch):
    """The parser switched off: what follows is the database's own boundary."""
    monkeypatch.setattr(query_module, "validate_query", lambda sql, report=None, dialect=None: sql)


def attempt(engine, sql, company_id, limits=LIMITS) -> str:
    """'rows: ...' or 'refused: <database error>'."""
    try:
        columns, rows, _ = fetch_all(engine, sql, company_id, limits)
    except QueryError as exc:
        return f"refused: {exc}"
    return f"rows: {columns} {rows}"


def postgres_names(engine) -> dict[str, str]:
    from routines.reports.sandbox import PostgresSandbox

    with engine.connect() as connection:
        sandbox = PostgresSandbox.of(connection)
    return {"app": sandbox.application_schema, "app_role": sandbox.application_role, "role": sandbox.role}


POSTGRES_ATTACKS = [
    # quoted names (the validator of the issue masked them before its deny-lists ran)
    (
        'SELECT "password_encrypted" FROM "report_smtp_settings"',
        'relation "report_smtp_settings" does not exist',
    ),
    ('SELECT password_encrypted FROM "{app}".report_smtp_settings', "permission denied for schema"),
    ('SELECT name, cnpj FROM "{app}".invoice_clients', "permission denied for schema"),
    ('SELECT * FROM "{app}".alembic_version', "permission denied for schema"),
    ('SELECT * FROM "{app}".users', "permission denied for schema"),
    # server files and functions named in quotes or with Unicode escapes
    ("SELECT \"pg_read_file\"('/etc/passwd')", "permission denied for function pg_read_file"),
    ("SELECT U&\"\\0070g_read_file\"('/etc/passwd')", "permission denied for function pg_read_file"),
    ("SELECT pg_ls_dir('.')", "permission denied for function pg_ls_dir"),
    # functions that run SQL from strings run as the reporting role
    (
        "SELECT query_to_xml('select * from \"{app}\".report_smtp_settings', true, true, '')",
        "permission denied",
    ),
    (
        "SELECT xpath('//password_encrypted/text()', query_to_xml('select password_encrypted from "
        "\"{app}\".report_smtp_settings', true, true, ''))",
        "permission denied",
    ),  # fmt: skip
    ("SELECT table_to_xml('\"{app}\".invoice_clients', true, true, '')", "permission denied"),
    # getting the application role back
    (
        "SELECT set_config('role', '{app_role}', true), query_to_xml('select * from \"{app}\".report_smtp_settings', "
        "true, true, '')",
        'cannot set parameter "role" within security-definer function',
    ),  # fmt: skip
    ("SELECT set_config('session_authorization', '{app_role}', true)", "session_authorization"),
    ("SELECT 1; RESET ROLE", "cannot open multi-query plan as cursor"),
    ("RESET ROLE", "cannot open RESET query as cursor"),
    ('SET ROLE "{app_role}"', "cannot open SET query as cursor"),
    ("SELECT set_config('transaction_read_only', 'off', true)", "transaction read-write mode"),
    # other sessions, catalogs, large objects, other servers
    (
        "SELECT pg_terminate_backend(pg_backend_pid())",
        "must be a member of the role whose process is being terminated",
    ),
    ('SELECT * FROM "pg_authid"', "permission denied for table pg_authid"),
    ("SELECT rolpassword FROM pg_catalog.pg_authid", "permission denied for table pg_authid"),
    ("SELECT lo_get({lo})", "permission denied for large object"),
    ("SELECT lo_import('/etc/passwd')", "permission denied for function lo_import"),
    ("SELECT lo_export({lo}, '/tmp/routines-lo')", "permission denied for function lo_export"),
    ("SELECT dblink('dbname=test', 'select 1')", "function dblink(unknown, unknown) does not exist"),
    # the company filter cannot be changed or read around
    ("SELECT * FROM pg_temp.routines_report_scope", "permission denied for table routines_report_scope"),
    (
        "WITH x AS (UPDATE pg_temp.routines_report_scope SET company_id = {acme} RETURNING 1) SELECT * FROM x",
        "permission denied for table routines_report_scope",
    ),  # fmt: skip
    (
        "SELECT name FROM invoice_clients WHERE name::integer = 1",
        'invalid input syntax for type integer: "Cliente BEG',
    ),
]


@pytest.mark.postgres
@pytest.mark.parametrize(("sql", "refusal"), POSTGRES_ATTACKS)
def test_postgres_refuses_every_bypass_without_the_parser(
    postgres_schema_url, monkeypatch, no_parser, sql, refusal
):
    from routines.database import migrate
    from routines.database.engine import get_engine
    from routines_tests.reports.conftest import seed_companies

    migrate.upgrade(postgres_schema_url)
    engine = get_engine(postgres_schema_url)
    companies = seed_companies(engine)
    _seed_two_companies(engine)
    with engine.begin() as connection:  # a large object of the application holding a secret
        lo = connection.execute(
            text("SELECT lo_from_bytea(0, convert_to(:s, 'UTF8'))"), {"s": SECRET}
        ).scalar()
    names = postgres_names(engine) | {"lo": lo, "acme": companies["ACME"]}
    outcome = attempt(engine, sql.format(**names), companies["BEG"])
    assert outcome.startswith("refused: ") and refusal.format(**names) in outcome, outcome
    assert not any(marker in outcome for marker in ACME_MARKERS) and "root:" not in outcome


@pytest.mark.postgres
def test_postgres_views_show_only_the_companys_rows(postgres_schema_url, no_parser):
    from routines.database import migrate
    from routines.database.engine import get_engine

    migrate.upgrade(postgres_schema_url)
    engine = get_engine(postgres_schema_url)
    _check_views_show_only_beg(engine)
    # even a report that changes search_path and settings in its own statement sees only its company
    outcome = attempt(
        engine,
        "SELECT set_config('search_path', '{app}', true), set_config('routines.company_id', '{acme}', true), "
        "(SELECT string_agg(name, ',') FROM invoice_clients)".format(
            app=postgres_names(engine)["app"], acme=_ids(engine)["ACME"]
        ),
        _ids(engine)["BEG"],
    )
    assert "Cliente BEG Alfa" in outcome and "ACME" not in outcome


@pytest.mark.postgres
def test_the_reporting_role_holds_nothing_of_the_application(postgres_schema_url):
    from routines.database import migrate
    from routines.database.engine import get_engine
    from routines.database.models import metadata

    migrate.upgrade(postgres_schema_url)
    engine = get_engine(postgres_schema_url)
    names = postgres_names(engine)
    with engine.connect() as connection:
        me = connection.execute(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")).scalar()
        role = connection.execute(
            text(
                "SELECT rolsuper, rolcanlogin, rolbypassrls, rolcreaterole FROM pg_roles WHERE rolname = :r"
            ),
            {"r": names["role"]},
        ).one()
        readable = connection.execute(
            text(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = :app AND has_table_privilege(:role, c.oid, 'SELECT')"
            ),
            names,
        ).all()
        usage = connection.execute(text("SELECT has_schema_privilege(:role, :app, 'USAGE')"), names).scalar()
        member = connection.execute(text("SELECT pg_has_role(current_user, :role, 'MEMBER')"), names).scalar()
    assert me is False  # the tests connect as a non-superuser application role
    assert tuple(role) == (False, False, False, False)
    assert readable == [] and usage is False and member is True
    assert {"report_smtp_settings", "users", "notifications", "alembic_version"} <= set(metadata.tables) | {
        "alembic_version"
    }


SQLITE_ATTACKS = [
    (
        'SELECT "password_encrypted" FROM "report_smtp_settings"',
        "access to report_smtp_settings.password_encrypted is prohibited",
    ),
    (
        "SELECT `password_encrypted` FROM `report_smtp_settings`",
        "access to report_smtp_settings.password_encrypted is prohibited",
    ),
    ("SELECT name, cnpj FROM main.invoice_clients", "access to invoice_clients.name is prohibited"),
    ("WITH companies AS (SELECT * FROM main.companies) SELECT * FROM companies", "prohibited"),
    (
        "WITH companies AS (SELECT password_encrypted FROM main.report_smtp_settings) SELECT * FROM companies",
        "prohibited",
    ),  # fmt: skip
    ("SELECT * FROM sqlite_master", "prohibited"),
    ("SELECT * FROM sqlite_temp_master", "prohibited"),
    ("SELECT * FROM pragma_table_info('report_smtp_settings')", "not authorized"),
    ("PRAGMA table_info(report_smtp_settings)", "not authorized"),
    ("PRAGMA query_only = OFF", "not authorized"),
    ("ATTACH DATABASE '/tmp/routines-attach.db' AS x", "not authorized"),
    ("SELECT load_extension('/tmp/evil')", "not authorized"),
    ("SELECT 1; DELETE FROM companies", "one statement at a time"),
    ("DELETE FROM companies", "cannot modify companies because it is a view"),
    ("DELETE FROM main.companies", "not authorized"),
    ("INSERT INTO invoice_clients (name) VALUES ('x')", "not authorized"),
    ("SELECT * FROM temp.routines_report_scope", "no such table"),
]


@pytest.mark.parametrize(("sql", "refusal"), SQLITE_ATTACKS)
def test_sqlite_authorizer_refuses_every_bypass_without_the_parser(sqlite_db_url, no_parser, sql, refusal):
    from routines.database.engine import get_engine
    from routines_tests.reports.conftest import seed_companies

    engine = get_engine(sqlite_db_url)
    companies = seed_companies(engine)
    _seed_two_companies(engine)
    outcome = attempt(engine, sql, companies["BEG"])
    assert outcome.startswith("refused: ") and refusal in outcome, outcome
    with session_scope(engine) as session:  # nothing was written
        from routines.companies.models import Company

        assert session.scalar(select(Company.code).where(Company.code == "BEG")) == "BEG"


def test_sqlite_views_show_only_the_companys_rows(sqlite_db_url, no_parser):
    from routines.database.engine import get_engine

    _check_views_show_only_beg(get_engine(sqlite_db_url))


def _ids(engine) -> dict[str, int]:
    from routines.companies.models import Company

    with session_scope(engine) as session:
        return {c.code: c.id for c in session.scalars(select(Company))}


def _check_views_show_only_beg(engine):
    from routines_tests.reports.conftest import seed_companies

    seed_companies(engine)
    _seed_two_companies(engine)
    beg = _ids(engine)["BEG"]
    seen = {
        view: attempt(engine, f"SELECT * FROM {view}", beg)
        for view in (
            "companies", "invoice_clients", "invoice_client_operators", "invoice_operators", "invoice_processes",
            "invoice_process_transitions", "report_definitions", "report_executions", "business_calendars",
            "business_calendar_days",
        )
    }  # fmt: skip
    for view, outcome in seen.items():
        assert outcome.startswith("rows: "), (view, outcome)
        assert not any(marker in outcome for marker in ACME_MARKERS), (view, outcome)
    assert "BEG" in seen["companies"] and "Cliente BEG Alfa" in seen["invoice_clients"]
    assert "PROTOCOLO-BEG" in seen["invoice_processes"] and "erro BEG" in seen["report_executions"]
    assert "VIVO" in seen["invoice_operators"] and "Relatório BEG" in seen["report_definitions"]
    # the case: ACME's report reads BEG's clients, CNPJs, statuses and SAT protocols - now only its own
    acme = attempt(
        engine,
        "SELECT c.name, c.cnpj, p.status, p.sat_protocol FROM invoice_processes p "
        "JOIN invoice_clients c ON c.id = p.client_id",
        _ids(engine)["ACME"],
    )
    assert "Cliente ACME Segredo" in acme and "BEG" not in acme and "22.222.222" not in acme


def _seed_two_companies(engine):
    """The rows of the `two_companies` fixture (callable where the engine is built in the test)."""
    from routines.invoices.models import Client, ClientOperator, InvoiceProcess, Operator
    from routines.reports.models import ReportDefinition, ReportExecution

    companies = _ids(engine)
    with session_scope(engine) as session:
        operator = Operator(code="VIVO", name="Vivo", has_rpa=True)
        session.add(operator)
        session.flush()
        for code, client_name, cnpj, protocol in (
            ("BEG", "Cliente BEG Alfa", "22.222.222/0001-22", "PROTOCOLO-BEG"),
            ("ACME", "Cliente ACME Segredo", "11.111.111/0001-11", "PROTOCOLO-ACME"),
        ):
            client = Client(company_id=companies[code], name=client_name, cnpj=cnpj)
            session.add(client)
            session.flush()
            session.add(ClientOperator(client_id=client.id, operator_id=operator.id))
            session.add(InvoiceProcess(billing_month=date(2026, 11, 1), client_id=client.id, operator_id=operator.id,
                                       status="uploaded", sat_protocol=protocol))  # fmt: skip
            definition = ReportDefinition(
                company_id=companies[code], name=f"Relatório {code}", slug=f"relatorio-{code.lower()}",
                query_sql="select 1", format="csv", recipients_to=[f"x@{code.lower()}.com.br"], recipients_cc=[],
                cron="0 8 * * *", timezone="America/Sao_Paulo", active=True,
            )  # fmt: skip
            session.add(definition)
            session.flush()
            session.add(ReportExecution(report_id=definition.id, run_key=f"k-{code}", scheduled_for=definition.created_at,
                                        partition_day="2026-11-30", trigger="manual", status="success",
                                        error=f"erro {code}", truncated=False))  # fmt: skip
        set_smtp_settings(session, companies["ACME"], host="smtp.acme.example", port=587, security="starttls",
                          from_address="rel@acme.com.br", username="acme", password=SECRET)  # fmt: skip


# -- limits ---------------------------------------------------------------------------------------------------
FIFTY_ROWS = (
    "with recursive n(i) as (select 1 union all select i + 1 from n where i < 50) "
    "select i, 'abcdefghij' as t from n order by i"
)


def test_row_and_byte_caps_cut_the_result_and_say_why(engine, companies):
    beg = companies["BEG"]
    _, rows, result = fetch_all(engine, FIFTY_ROWS, beg, QueryLimits(10, 10_000, 20))
    assert len(rows) == 10 and result.truncated_by == "rows"
    _, rows, result = fetch_all(engine, FIFTY_ROWS, beg, QueryLimits(1000, 100, 20))
    assert len(rows) == 5 and result.truncated_by == "bytes" and result.data_bytes == 90  # 5 x (8 + 10)
    _, rows, result = fetch_all(engine, FIFTY_ROWS, beg, QueryLimits(50, 10_000, 20))
    assert len(rows) == 50 and result.truncated_by is None


@pytest.mark.postgres
def test_postgres_time_limit_bounds_the_whole_query_not_each_fetch(
    postgres_schema_url, no_parser, monkeypatch
):
    """400 rows of 50 ms fetched 2 at a time: each fetch takes 0.1 s, far under the limit, but the whole query
    would take 20 s; it is stopped at the 1.5 s limit."""
    from routines.database import migrate
    from routines.database.engine import get_engine
    from routines_tests.reports.conftest import seed_companies

    migrate.upgrade(postgres_schema_url)
    engine = get_engine(postgres_schema_url)
    beg = seed_companies(engine)["BEG"]
    monkeypatch.setattr(query_module, "FIRST_BATCH_ROWS", 2)
    monkeypatch.setattr(query_module, "MAX_BATCH_ROWS", 2)
    slow = "SELECT pg_sleep(0.05)::text, g FROM generate_series(1, 400) g"
    with pytest.raises(QueryError, match="query exceeded the 1.5 s time limit"):
        fetch_all(engine, slow, beg, QueryLimits(1000, 10_000_000, 1.5))
    columns, rows, _ = fetch_all(
        engine, "SELECT pg_sleep(0.05)::text, g FROM generate_series(1, 4) g", beg, LIMITS
    )
    assert len(rows) == 4  # the same query, short, runs


def test_sqlite_time_limit(sqlite_db_url):
    from routines.database.engine import get_engine
    from routines_tests.reports.conftest import seed_companies

    engine = get_engine(sqlite_db_url)
    heavy = "with recursive n(i) as (select 1 union all select i + 1 from n) select max(i) from n"
    with pytest.raises(QueryError, match="time limit"):
        fetch_all(engine, heavy, seed_companies(engine)["BEG"], QueryLimits(10, 10_000, 0.3))


@pytest.mark.postgres
def test_without_createrole_the_migration_says_what_a_dba_runs(postgres_schema_url):
    """Production without CREATEROLE: the upgrade stops with the exact statements; once a DBA ran them, it
    completes and reports run."""
    from sqlalchemy import create_engine

    from routines.database import migrate
    from routines.database.engine import get_engine
    from routines.errors import UserError
    from routines.reports.sandbox import PostgresSandbox
    from routines.reports.surface import postgres_role_sql
    from routines_tests.conftest import postgres_admin_url
    from routines_tests.reports.conftest import seed_companies

    admin = create_engine(postgres_admin_url(), isolation_level="AUTOCOMMIT")
    with get_engine(postgres_schema_url).connect() as connection:
        sandbox = PostgresSandbox.of(connection)
    try:
        with admin.connect() as connection:
            connection.execute(text(f'ALTER ROLE "{sandbox.application_role}" NOCREATEROLE'))
        with pytest.raises(UserError) as error:
            migrate.upgrade(postgres_schema_url)
        statements = postgres_role_sql(sandbox.role, sandbox.application_role)
        assert f"may not create roles: ask a DBA to run `{'; '.join(statements)}`" in str(error.value)
        with admin.connect() as connection:
            for statement in statements:
                connection.execute(text(statement))
        migrate.upgrade(postgres_schema_url)
        engine = get_engine(postgres_schema_url)
        beg = seed_companies(engine)["BEG"]
        assert fetch_all(engine, "select code from companies", beg, LIMITS)[1] == [("BEG",)]
    finally:
        admin.dispose()


def test_reporting_names_are_per_database_and_schema():
    from routines.reports.surface import reporting_role, reporting_schema

    assert reporting_role("routines", "public") == "routines_public_reporting"
    assert reporting_schema("public") == "public_reporting"
    assert reporting_role("test", "t_1") != reporting_role("test", "t_2") != reporting_role("other", "t_1")
    long = reporting_role("a" * 50, "b" * 50)
    assert len(long) == 63 and long != reporting_role("a" * 50, "b" * 49 + "c")
