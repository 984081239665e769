"""One execution end to end (query -> files -> e-mail -> execution row) on SQLite and PostgreSQL."""

import io
from datetime import UTC, datetime

import openpyxl
import pypdf
import pytest
from sqlalchemy import select, update

from routines.database.engine import session_scope
from routines.files import FileStore, sha256_of
from routines.reports.config import ReportsConfig
from routines.reports.models import ReportDefinition, ReportExecution
from routines.reports.service import ReportRunError, run_execution
from routines_tests.reports.conftest import free_port

FAST = ReportsConfig(smtp_attempts=2, smtp_base_delay=0.01)


def execution_row(engine, execution_id) -> ReportExecution:
    with session_scope(engine) as session:
        return session.get(ReportExecution, execution_id)


def test_manual_run_sends_excel_and_pdf_and_records_the_execution(
    engine, make_report, smtp_for, smtp_server, tmp_path
):
    report_id = make_report()
    smtp_for("BEG", smtp_server.port, from_name="Relatórios BEG")
    store = FileStore(tmp_path / "files")
    result = run_execution(engine, store, report_id=report_id, trigger="manual", config=FAST)

    [received] = smtp_server.messages
    assert received.rcpt_tos == ["financeiro@beg.com.br", "diretoria@beg.com.br"]
    assert received.mail_from == "rel@beg.com.br"
    today = datetime.now(UTC).astimezone().date()
    assert received.message["Subject"].startswith("Resumo de faturas - BEG Telecomunicações Ltda. - ")
    assert "2 linhas" in received.message.get_body(("plain",)).get_content()
    attachments = {
        part.get_filename(): part.get_payload(decode=True) for part in received.message.iter_attachments()
    }
    assert len(attachments) == 2
    xlsx = next(data for name, data in attachments.items() if name.endswith(".xlsx"))
    pdf = next(data for name, data in attachments.items() if name.endswith(".pdf"))
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx))["Relatório"]
    assert [[c.value for c in row] for row in sheet.iter_rows()] == [
        ["Código", "Descrição", "Valor total", "Empresa"],
        [1, "Faturas recebidas", 15230.45, "BEG Telecomunicações Ltda."],
        [2, "Faturas enviadas", 100.5, "BEG Telecomunicações Ltda."],
    ]
    assert sheet["C2"].number_format == '"R$" #,##0.00'
    text = pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "Resumo de faturas" in text and "Empresa: BEG Telecomunicações Ltda." in text
    assert "R$ 15.230,45" in text

    row = execution_row(engine, result.execution_id)
    assert row.status == "success" and row.trigger == "manual" and row.error is None
    assert row.row_count == 2
    assert row.recipients == ["financeiro@beg.com.br", "diretoria@beg.com.br"]
    assert row.message_id == received.message["Message-ID"].strip()
    assert row.started_at <= row.finished_at
    assert row.file_key.startswith(f"reports/{row.partition_day.replace('-', '/')}/beg_resumo-de-faturas_")
    assert store.path(row.file_key).read_bytes() == xlsx
    assert row.file_sha256 == sha256_of(store.path(row.file_key)) and row.file_size == len(xlsx)
    assert [f["format"] for f in row.files] == ["xlsx", "pdf"]
    assert store.path(row.files[1]["key"]).read_bytes() == pdf
    assert abs((today - datetime.fromisoformat(row.partition_day).date()).days) <= 1
    with session_scope(engine) as session:
        assert session.get(ReportDefinition, report_id).last_run_at == row.started_at


def _company(engine, report_id) -> int:
    with session_scope(engine) as session:
        return session.get(ReportDefinition, report_id).company_id


def _set(engine, report_id, **values):
    with session_scope(engine) as session:
        session.execute(update(ReportDefinition).where(ReportDefinition.id == report_id).values(**values))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"active": False}, "is disabled: enable it with `routines reports enable"),
        ({"recipients_to": []}, "field recipients_to: no recipients"),
        (
            {"recipients_to": ["not-an-address"]},
            "field recipients_to: invalid e-mail address 'not-an-address'",
        ),
        ({"query_sql": "select 1; delete from companies"}, "field query: more than one statement"),
        ({"query_sql": "select * from no_such_table"}, "field query: no_such_table is not a reporting view"),
        (
            {"recipients_cc": ["someone@gmail.com"]},
            "field recipients: someone@gmail.com is outside the domains allowed for company BEG (beg.com.br)",
        ),
    ],
)
def test_failures_are_recorded_with_a_clear_error(
    engine, make_report, smtp_for, smtp_server, tmp_path, change, message
):
    from routines.reports.service import set_allowed_domains

    report_id = make_report()
    smtp_for("BEG", smtp_server.port)
    with session_scope(engine) as session:
        set_allowed_domains(session, report_id and _company(engine, report_id), add=["beg.com.br"])
    _set(engine, report_id, **change)  # as the business application could write it
    with pytest.raises(ReportRunError, match=message.replace("(", r"\(").replace(")", r"\)")) as error:
        run_execution(engine, FileStore(tmp_path), report_id=report_id, trigger="manual", config=FAST)
    row = execution_row(engine, error.value.execution_id)
    assert row.status == "failed"
    assert message in row.error
    assert row.finished_at is not None
    assert smtp_server.messages == []
    with session_scope(engine) as session:
        assert session.scalar(select(ReportExecution.id).where(ReportExecution.status == "success")) is None


def test_smtp_down_is_recorded_after_retries_and_the_file_kept(engine, make_report, smtp_for, tmp_path):
    report_id = make_report()
    port = free_port()
    smtp_for("BEG", port)
    with pytest.raises(
        ReportRunError, match=f"e-mail not sent via 127.0.0.1:{port} .* after 2 attempts"
    ) as error:
        run_execution(engine, FileStore(tmp_path), report_id=report_id, trigger="manual", config=FAST)
    row = execution_row(engine, error.value.execution_id)
    assert row.status == "failed" and "ConnectionRefusedError" in row.error


def test_never_another_companys_smtp(engine, make_report, smtp_for, smtp_server, tmp_path):
    report_id = make_report("BEG")
    smtp_for("ACME", smtp_server.port)  # only ACME has settings
    with pytest.raises(ReportRunError, match="company BEG has no SMTP settings"):
        run_execution(engine, FileStore(tmp_path), report_id=report_id, trigger="manual", config=FAST)
    assert smtp_server.messages == []


def test_encrypted_password_is_used_for_login(engine, make_report, smtp_for, smtp_server, tmp_path):
    from routines.reports.models import SmtpSettings

    report_id = make_report()
    smtp_for("BEG", smtp_server.port, username="relatorios", password="S3nha!")
    with session_scope(engine) as session:
        stored = session.scalar(select(SmtpSettings.password_encrypted))
    assert stored and "S3nha!" not in stored
    # the loopback server has no AUTH: the login is attempted (so the password was decrypted) and refused
    with pytest.raises(ReportRunError) as error:
        run_execution(engine, FileStore(tmp_path), report_id=report_id, trigger="manual", config=FAST)
    assert "AUTH" in str(error.value) or "auth" in str(error.value).lower()
    assert "S3nha!" not in str(error.value)


@pytest.mark.parametrize(
    ("limit", "said"),
    [
        ({"max_rows": 1}, "o resultado foi limitado a 1 linhas"),
        # the first row holds 8 + 17 + 8 + 26 = 59 bytes of data: a 100-byte cap keeps one row
        (
            {"max_bytes": 100},
            "o resultado foi cortado em 1 linhas pelo limite de 0,0001 MB de dados por relatório",
        ),
    ],
)
def test_row_and_byte_limits_cut_and_say_so(
    engine, make_report, smtp_for, smtp_server, tmp_path, limit, said
):
    report_id = make_report(format="csv")
    smtp_for("BEG", smtp_server.port)
    result = run_execution(
        engine, FileStore(tmp_path), report_id=report_id, config=ReportsConfig(smtp_attempts=1, **limit)
    )
    assert result.row_count == 1 and result.truncated
    body = smtp_server.messages[0].message.get_body(("plain",)).get_content()
    assert said in body
    [part] = list(smtp_server.messages[0].message.iter_attachments())
    assert part.get_payload(decode=True).decode("utf-8-sig").splitlines() == [
        "Código;Descrição;Valor total;Empresa",
        "1;Faturas recebidas;15230,45;BEG Telecomunicações Ltda.",
    ]
