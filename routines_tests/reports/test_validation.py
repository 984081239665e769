"""The first, friendly line of defence: the query parsed with the database's dialect (sqlglot). The database
holds the same boundary without it: see test_sandbox.py."""

import pytest

from routines.reports.validation import (
    ReportValidationError,
    render_template,
    validate_addresses,
    validate_query,
    validate_recipients,
    validate_template,
)

DIALECTS = ["postgresql", "sqlite"]


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(
    "sql",
    [
        "select 1",
        "SELECT * FROM companies WHERE name = 'drop table x; delete'",
        "with t as (select 1 as a) select a from t;",
        "  (select 1) union (select 2)",
        "select 1 -- a comment with ; and delete\n",
        'select "update" from invoice_clients',  # quoted identifier, not a keyword
        "select 'it''s; fine'",
        "with companies as (select * from companies) select * from companies",  # the view, in the CTE body
        "with recursive n(i) as (select 1 union all select i + 1 from n where i < 3) select i from n",
        "select c.name, count(*) from invoice_clients c join invoice_processes p on p.client_id = c.id group by 1",
    ],
)
def test_single_read_only_query_over_the_views_is_accepted(sql, dialect):
    result = validate_query(sql, dialect=dialect)
    assert not result.endswith(";")
    assert result.lower().lstrip("( ").startswith(("select", "with"))


def test_dollar_quotes_are_strings_on_postgresql():
    assert validate_query("select $$insert; drop$$ as txt", dialect="postgresql")


# Every bypass quoted by the issue, and similar ones: refused before the query reaches the database.
BYPASSES = [
    (
        'SELECT "password_encrypted" FROM "report_smtp_settings"',
        "report_smtp_settings is not a reporting view",
    ),
    (
        "select host, password_encrypted from report_smtp_settings",
        "report_smtp_settings is not a reporting view",
    ),
    ("SELECT \"pg_read_file\"('/etc/passwd')", "function pg_read_file() is not allowed"),
    ("SELECT U&\"\\0070g_read_file\"('/etc/passwd')", 'Unicode-escaped names (U&"...") are not allowed'),
    (
        "select query_to_xml('select * from report_smtp_settings', true, true, '')",
        "query_to_xml() is not allowed",
    ),
    ("select xpath('/row', query_to_xml('select 1', true, true, ''))", "function xpath() is not allowed"),
    ("select table_to_xml('report_smtp_settings', true, true, '')", "function table_to_xml() is not allowed"),
    (
        'select "pg_terminate_backend"(pid) from pg_stat_activity',
        "function pg_terminate_backend() is not allowed",
    ),
    ('select * from "pg_authid"', "pg_authid is not a reporting view"),
    ("select * from pg_catalog.pg_authid", "pg_catalog.pg_authid: schema-qualified names are not allowed"),
    ("select rolpassword from pg_shadow", "pg_shadow is not a reporting view"),
    ("select dblink('dbname=x', 'select 1')", "function dblink() is not allowed"),
    ("select lo_get(16384)", "function lo_get() is not allowed"),
    ("select lo_import('/etc/passwd')", "function lo_import() is not allowed"),
    ("select set_config('role', 'postgres', true)", "function set_config() is not allowed"),
    (
        "select pg_catalog.set_config('role', 'postgres', true)",
        "schema-qualified function pg_catalog.set_config()",
    ),
    ("select current_setting('routines.x')", "function current_setting() is not allowed"),
    ("select * from invoice_clients, report_smtp_settings", "report_smtp_settings is not a reporting view"),
    ("select * from (with pg_authid as (select 1) select * from pg_authid) a, pg_authid", "pg_authid is not"),
    ("with b as (select * from report_smtp_settings) select * from b", "report_smtp_settings is not"),
    ("with b as (select * from a), a as (select 1) select * from b", "a is not a reporting view"),
    ("select 1; select 2", "more than one statement"),
    ("select 1; drop table companies", "more than one statement"),
    ("select 1 /* hidden */; delete from companies", "more than one statement"),
    ("select 1 --\n; delete from companies", "more than one statement"),
    ("delete from companies", "must be a SELECT or WITH query, not DELETE"),
    ("update companies set name = 'x'", "must be a SELECT or WITH query, not UPDATE"),
    ("/* select */ drop table companies", "must be a SELECT or WITH query, not DROP"),
    ("set role postgres", "must be a SELECT or WITH query, not SET"),
    ("with x as (delete from companies returning *) select * from x", "DELETE is not allowed"),
    ("select * into copy from companies", "SELECT ... INTO is not allowed"),
    ("select * from companies for update", "row locking (FOR UPDATE/SHARE) is not allowed"),
    ("select 'unterminated", "cannot be parsed"),
]


@pytest.mark.parametrize(("sql", "reason"), BYPASSES)
def test_bypasses_are_refused_on_postgresql_naming_what(sql, reason):
    with pytest.raises(ReportValidationError) as error:
        validate_query(sql, report="Vendas", dialect="postgresql")
    assert reason in str(error.value)
    assert str(error.value).startswith("report 'Vendas', field query:")


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        (
            "SELECT `password_encrypted` FROM `report_smtp_settings`",
            "report_smtp_settings is not a reporting view",
        ),
        (
            'SELECT "password_encrypted" FROM "report_smtp_settings"',
            "report_smtp_settings is not a reporting view",
        ),
        (
            "select * from main.invoice_clients",
            "main.invoice_clients: schema-qualified names are not allowed",
        ),
        ("select * from sqlite_master", "sqlite_master is not a reporting view"),
        (
            "select * from pragma_table_info('report_smtp_settings')",
            "function pragma_table_info() is not allowed",
        ),
        ("pragma table_info(report_smtp_settings)", "must be a SELECT or WITH query, not PRAGMA"),
        ("attach database '/tmp/x.db' as x", "must be a SELECT or WITH query, not ATTACH"),
        ("select load_extension('/tmp/evil')", "function load_extension() is not allowed"),
        ("select readfile('/etc/passwd')", "function readfile() is not allowed"),
        ("select 1; delete from companies", "more than one statement"),
    ],
)
def test_bypasses_are_refused_on_sqlite_naming_what(sql, reason):
    with pytest.raises(ReportValidationError) as error:
        validate_query(sql, report="Vendas", dialect="sqlite")
    assert reason in str(error.value)


def test_empty_query_is_refused():
    with pytest.raises(ReportValidationError, match="empty query"):
        validate_query("  ", dialect="sqlite")


def test_recipients_are_validated_split_and_deduplicated():
    to, cc = validate_recipients("a@x.com.br; B@x.com.br, a@x.com.br", ["c@y.com"])
    assert to == ["a@x.com.br", "B@x.com.br"]
    assert cc == ["c@y.com"]
    with pytest.raises(ReportValidationError, match="field recipients_to: no recipients"):
        validate_recipients([], ["c@y.com"])
    with pytest.raises(ReportValidationError, match="field recipients_cc: invalid e-mail address 'c@y'"):
        validate_recipients(["a@x.com"], ["c@y"])
    with pytest.raises(ReportValidationError, match="invalid e-mail address 'a..b@x.com'"):
        validate_addresses(["a..b@x.com"], "recipients_to")


def test_templates_know_only_the_documented_placeholders():
    assert validate_template("{relatorio} - {data}", "subject_template") == "{relatorio} - {data}"
    with pytest.raises(ReportValidationError, match=r"field subject_template: unknown placeholder \{nome\}"):
        validate_template("{nome}", "subject_template")
    with pytest.raises(ReportValidationError, match="unknown placeholder"):
        validate_template("{relatorio.__class__}", "body_template")
    assert render_template(
        "Relatório {relatorio} de {data}", {"relatorio": "Vendas", "data": "01/02/2018"}
    ) == ("Relatório Vendas de 01/02/2018")
