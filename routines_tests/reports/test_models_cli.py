"""Migration, demo seed and the `routines reports` commands."""

from sqlalchemy import inspect, select

from routines.cli import main
from routines.database import migrate
from routines.database.engine import get_engine, session_scope
from routines.reports.models import ReportDefinition, ReportRunRequest, SmtpSettings


def test_migration_creates_and_drops_the_tables(db_url):
    tables = set(inspect(get_engine(db_url)).get_table_names())
    assert {
        "report_definitions",
        "report_smtp_settings",
        "report_executions",
        "report_run_requests",
    } <= tables
    indexes = {i["name"] for i in inspect(get_engine(db_url)).get_indexes("report_definitions")}
    assert "ix_report_definitions_due" in indexes
    migrate.downgrade(db_url, "0004_invoices")
    assert "report_definitions" not in set(inspect(get_engine(db_url)).get_table_names())
    migrate.upgrade(db_url)
    assert "report_executions" in set(inspect(get_engine(db_url)).get_table_names())


def test_demo_seed_is_idempotent(db_url):
    from routines.companies.demo import seed_demo as seed_companies
    from routines.reports.demo import seed_demo

    engine = get_engine(db_url)
    with session_scope(engine) as session:
        assert seed_demo(session) == 0  # no companies yet: nothing to attach to
        seed_companies(session)
        assert seed_demo(session) == 4
        assert seed_demo(session) == 0
    with session_scope(engine) as session:
        definitions = list(session.scalars(select(ReportDefinition)))
        assert {d.company.code for d in definitions} == {"BEG", "ACME"}
        assert all(d.next_run_at is not None and d.business_days_only for d in definitions)
        assert {s.port for s in session.scalars(select(SmtpSettings))} == {1025}


def test_cli_add_list_enable_disable_run(db_url, companies, capsys, tmp_path, monkeypatch):
    query_file = tmp_path / "q.sql"
    query_file.write_text("select code, name from companies order by code;", encoding="utf-8")
    code = main(["reports", "add", "--company", "BEG", "--name", "Empresas", "--query-file", str(query_file),
                 "--format", "xlsx,csv", "--to", "a@beg.com.br, b@beg.com.br", "--cron", "0 7 * * 1-5",
                 "--calendar", "B3", "--business-days-only", "--shift", "following"])  # fmt: skip
    assert code == 0
    assert "report 1 'Empresas' added; next run" in capsys.readouterr().out
    assert main(["reports", "list"]) == 0
    out = capsys.readouterr().out
    assert "Empresas" in out and "business days only (B3, shift following)" in out and "xlsx,csv" in out
    assert "partition BEG-empresas" in out

    assert main(["reports", "add", "--company", "BEG", "--name", "Ruim", "--query", "delete from companies",
                 "--to", "a@beg.com.br", "--cron", "0 7 * * *"]) == 2  # fmt: skip
    assert "field query: must be a SELECT or WITH query, not DELETE" in capsys.readouterr().err
    assert main(["reports", "add", "--company", "BEG", "--name", "Ruim", "--query", "select 1",
                 "--to", "a@beg", "--cron", "0 7 * * *"]) == 2  # fmt: skip
    assert "field recipients_to: invalid e-mail address 'a@beg'" in capsys.readouterr().err
    assert main(["reports", "add", "--company", "XYZ", "--name", "Ruim", "--query", "select 1",
                 "--to", "a@beg.com", "--cron", "0 7 * * *"]) == 2  # fmt: skip
    assert "unknown company code 'XYZ'" in capsys.readouterr().err

    assert main(["reports", "disable", "1"]) == 0
    with session_scope(get_engine(db_url)) as session:
        definition = session.get(ReportDefinition, 1)
        assert not definition.active and definition.next_run_at is None
    assert main(["reports", "enable", "1"]) == 0
    assert main(["reports", "run", "1", "--requested-by", "ops"]) == 0
    assert "queued for report 1" in capsys.readouterr().out
    with session_scope(get_engine(db_url)) as session:
        [request] = session.scalars(select(ReportRunRequest))
        assert (request.report_id, request.status, request.requested_by) == (1, "pending", "ops")
    assert main(["reports", "run", "99"]) == 2


def test_cli_smtp_settings_and_in_process_run(
    db_url, companies, capsys, smtp_server, monkeypatch, file_store_root
):
    monkeypatch.setenv("BEG_SMTP_PASSWORD", "nunca-no-log")
    assert main(["reports", "smtp", "--company", "BEG", "--host", "127.0.0.1", "--port", str(smtp_server.port),
                 "--security", "none", "--from", "rel@beg.com.br"]) == 0  # fmt: skip
    assert main(["reports", "add", "--company", "BEG", "--name", "Empresas", "--dataset", "empresas",
                 "--format", "csv", "--to", "a@beg.com.br", "--cron", "0 7 * * *"]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["reports", "run", "1", "--in-process"]) == 0
    out = capsys.readouterr().out
    assert "execution 1: 1 rows" in out  # the companies view shows only BEG and "sent to a@beg.com.br" in out
    [received] = smtp_server.messages
    [part] = list(received.message.iter_attachments())
    assert part.get_payload(decode=True).decode("utf-8-sig").splitlines()[0] == "Código;Empresa;CNPJ;Ativa"
    # with a password from an env var: stored encrypted, never printed
    assert main(["reports", "smtp", "--company", "BEG", "--host", "127.0.0.1", "--port", str(smtp_server.port),
                 "--security", "none", "--from", "rel@beg.com.br", "--username", "u",
                 "--password-env", "BEG_SMTP_PASSWORD"]) == 0  # fmt: skip
    assert main(["reports", "run", "1", "--in-process"]) == 2
    captured = capsys.readouterr()
    assert "execution 2 failed" in captured.err and "nunca-no-log" not in captured.err + captured.out
