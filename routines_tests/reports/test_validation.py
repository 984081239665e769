import pytest

from routines.reports.validation import (
    ReportValidationError,
    render_template,
    validate_addresses,
    validate_query,
    validate_recipients,
    validate_template,
)


@pytest.mark.parametrize(
    "sql",
    [
        "select 1",
        "SELECT * FROM companies WHERE name = 'drop table x; delete'",
        "with t as (select 1 as a) select a from t;",
        "  (select 1) union (select 2)",
        "select 1 -- a comment with ; and delete\n",
        'select "update" from t',  # quoted identifier, not a keyword
        "select $$insert; drop$$ as txt",
        "select 'it''s; fine'",
    ],
)
def test_single_read_only_statement_is_accepted(sql):
    result = validate_query(sql)
    assert not result.endswith(";")
    assert result.lower().lstrip("( ").startswith(("select", "with"))


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("", "empty query"),
        ("select 1; select 2", "more than one statement"),
        ("select 1; drop table companies", "more than one statement"),
        ("select 1 /* hidden */; delete from companies", "more than one statement"),
        ("select 1 --\n; delete from companies", "more than one statement"),
        ("delete from companies", "must start with SELECT or WITH"),
        ("update companies set name = 'x'", "must start with SELECT or WITH"),
        ("/* select */ drop table companies", "must start with SELECT or WITH"),
        ("with x as (delete from companies returning *) select * from x", "DELETE not allowed"),
        ("select * into copy from companies", "INTO not allowed"),
        ("select * from companies for update", "row locking"),
        ("select pg_read_file('/etc/passwd')", "pg_read_file() not allowed"),
        ("select 'unterminated", "unterminated ' quote"),
        ("select 1 /* open", "unterminated /* comment"),
        ("set role postgres", "must start with SELECT or WITH"),
        ("select host, password_encrypted from report_smtp_settings", "may not be read by a report"),
    ],
)
def test_unsafe_or_broken_queries_are_refused_naming_the_field(sql, reason):
    with pytest.raises(ReportValidationError) as error:
        validate_query(sql, report="Vendas")
    assert reason in str(error.value)
    assert str(error.value).startswith("report 'Vendas', field query:")


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
