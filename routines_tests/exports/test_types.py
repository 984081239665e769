"""Every export type, run as the business application asks for it (INSERT -> sensor -> job), and its file read
back with the library a person's program would use (openpyxl, zipfile, csv, python-docx, pypdf, e-mail)."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import docx
import openpyxl
import pypdf
import pytest
from sqlalchemy import select

from routines.companies.models import Company
from routines.database.engine import session_scope
from routines.exports.models import ExportTask
from routines.invoices.models import Client, ClientOperator, InvoiceProcess, Operator
from routines.market.b3_load import load_cotahist
from routines.market.cvm import parse_report, upsert_report
from routines.market.models import B3Quote, CvmFundQuota
from routines.notifications.service import list_notifications
from routines.reports.models import ReportDefinition
from routines.reports.service import save_definition, set_smtp_settings
from routines_tests.exports.conftest import run_one, sha256
from routines_tests.helpers import shared_data


def stored(file_store_root: Path, task: ExportTask) -> bytes:
    assert task.status == "completed", task.error_message
    data = (file_store_root / task.file_key).read_bytes()
    assert sha256(data) == task.file_sha256 and len(data) == task.file_size
    assert (
        task.file_key.startswith("task_files/")
        and f"/{task.task_type}/{task.id}_{task.file_sha256[:8]}." in task.file_key
    )
    return data


def test_invoices_month_lists_only_the_company_s_processes(
    engine, db_url, people, invoices, file_store_root, tmp_path
):
    task, _ = run_one(engine, db_url, file_store_root, tmp_path, "invoices_month", people["ana"], people["BEG"],
                      {"month": "2025-06"})  # fmt: skip
    book = openpyxl.load_workbook(io.BytesIO(stored(file_store_root, task)))
    rows = list(book["Faturas"].iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    assert len(body) == 6  # BEG's six, not ACME's
    with session_scope(engine) as session:
        for row in body:
            process = session.get(InvoiceProcess, row[0])
            assert session.get(Client, process.client_id).company_id == people["BEG"]
            values = dict(zip(header, row, strict=True))
            assert values["Situação"] == process.status
            assert values["SHA-256"] == process.file_sha256
            assert values["Tamanho (bytes)"] == process.file_size
            if process.approved_at:  # shown in São Paulo time (UTC-3)
                assert values["Aprovado em"].strftime("%d/%m/%Y %H:%M") == "02/07/2025 11:30"
    assert book["Faturas"].freeze_panes == "A2" and book["Faturas"].auto_filter.ref


def test_invoice_files_zip_holds_each_pdf_and_an_index(
    engine, db_url, people, invoices, file_store_root, tmp_path, store
):
    with session_scope(engine) as session:  # one file went missing from the store
        gone = session.scalar(select(InvoiceProcess).where(InvoiceProcess.status == "REJEITADO"))
        store.path(gone.file_key).unlink()
    task, _ = run_one(engine, db_url, file_store_root, tmp_path, "invoice_files", people["ana"], people["BEG"],
                      {"month": "2025-06"})  # fmt: skip
    archive = zipfile.ZipFile(io.BytesIO(stored(file_store_root, task)))
    assert archive.testzip() is None
    index = list(
        openpyxl.load_workbook(io.BytesIO(archive.read("indice.xlsx")))["Índice"].iter_rows(values_only=True)
    )
    entries = {row[1]: row for row in index[1:]}
    assert len(entries) == 4  # the four downloaded processes
    with session_scope(engine) as session:
        for process_id, row in entries.items():
            process = session.get(InvoiceProcess, process_id)
            if process_id == gone.id:
                assert row[0] is None and row[8] == "arquivo ausente no armazenamento"
                continue
            data = archive.read(row[0])
            assert sha256(data) == process.file_sha256 == row[6]
            assert pypdf.PdfReader(io.BytesIO(data)).pages[0].extract_text().startswith("Fatura")
    assert sorted(archive.namelist()) == sorted(
        [row[0] for row in entries.values() if row[0]] + ["indice.xlsx"]
    )
    assert task.result == {"summary": task.result["summary"], "files": 3, "problems": 1}
    assert "1 com problema" in task.result["summary"]


def test_approval_letter_lists_the_approved_invoices_for_signature(
    engine, db_url, people, invoices, file_store_root, tmp_path
):
    task, _ = run_one(engine, db_url, file_store_root, tmp_path, "approval_letter", people["bruno"], people["BEG"],
                      {"month": "2025-06"})  # fmt: skip
    document = docx.Document(io.BytesIO(stored(file_store_root, task)))
    text = "\n".join(p.text for p in document.paragraphs)
    assert "Carta de aprovação de faturas" in text and "Competência: 06/2025" in text
    assert "Total de faturas aprovadas: 2" in text and "Bruno Lima" in text
    (table,) = document.tables
    rows = [[cell.text for cell in row.cells] for row in table.rows]
    assert rows[0] == ["Cliente", "CNPJ", "Operadora", "Aprovado por", "Aprovado em", "Situação"]
    assert sorted(row[5] for row in rows[1:]) == ["AGUARDANDO_ENVIO_SAT", "UPLOAD_REALIZADO"]
    assert {row[4] for row in rows[1:]} == {"02/07/2025 11:30"}
    assert task.file_name == "carta_aprovacao_2025-06_beg.docx"


def test_b3_quotes_csv_over_b3_business_days(engine, db_url, people, file_store_root, tmp_path):
    load_cotahist(shared_data("b3/COTAHIST_D25062021.TXT"), engine, expected_date=date(2021, 6, 25))
    task, _ = run_one(engine, db_url, file_store_root, tmp_path, "b3_quotes", people["bruno"], people["BEG"],
                      {"tickers": ["petr4", "VALE3", "ZZZZ11"], "start": "2021-06-21", "end": "2021-06-27"})  # fmt: skip
    data = stored(file_store_root, task)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:3] == ["Data", "Ticker", "Mercado"]
    with session_scope(engine) as session:
        quotes = session.scalars(
            select(B3Quote)
            .where(B3Quote.ticker.in_(["PETR4", "VALE3"]))
            .order_by(B3Quote.ticker, B3Quote.market_type)
        ).all()
    assert len(rows) - 1 == len(quotes) > 0
    by_key = {(r[1], r[2]): r for r in rows[1:]}
    for quote in quotes:
        row = by_key[(quote.ticker, quote.market_type)]
        assert row[0] == "25/06/2021"
        assert row[9] == format(quote.close, "f").replace(".", ",")  # exact decimal, decimal comma
        assert row[12] == format(quote.volume, "f").replace(".", ",")
    # 21-25/06 are 5 B3 sessions (26-27 a weekend); only the 25th is loaded; ZZZZ11 has no quotes
    assert task.result["business_days"] == 5
    assert task.result["days_without_quotes"] == ["2021-06-21", "2021-06-22", "2021-06-23", "2021-06-24"]
    assert task.result["tickers_without_quotes"] == ["ZZZZ11"]
    assert "4 pregão(ões) sem cotações" in task.result["summary"]


def test_cvm_fund_history_xlsx_with_exact_quotas(engine, db_url, people, file_store_root, tmp_path):
    lines = Path(shared_data("cvm/inf_diario_fi_202501_rows.csv")).read_text(encoding="latin-1").splitlines()
    upsert_report(parse_report(("\r\n".join(lines) + "\r\n").encode("latin-1"), "inf_diario_fi_202501.csv"), engine,
                  "inf_diario_fi_202501.csv")  # fmt: skip
    fund = "00.017.024/0001-53"
    task, _ = run_one(engine, db_url, file_store_root, tmp_path, "cvm_fund_history", people["diego"], people["ACME"],
                      {"funds": ["00017024000153"], "start": "2025-01-01", "end": "2025-01-31"})  # fmt: skip
    book = openpyxl.load_workbook(io.BytesIO(stored(file_store_root, task)))
    rows = list(book["Cotas"].iter_rows(values_only=True))[1:]
    with session_scope(engine) as session:
        quotas = session.scalars(
            select(CvmFundQuota).where(CvmFundQuota.fund_cnpj == fund).order_by(CvmFundQuota.report_date)
        ).all()
    assert [r[0] for r in rows] == [fund] * len(quotas) and len(quotas) >= 2
    assert [r[3].date() for r in rows] == [q.report_date for q in quotas]
    assert [Decimal(str(r[4])) for r in rows] == [
        q.quota_value for q in quotas
    ]  # Excel keeps 15 digits: exact here
    (summary,) = list(book["Resumo"].iter_rows(values_only=True))[1:]
    expected = ((quotas[-1].quota_value / quotas[0].quota_value - 1) * 100).quantize(Decimal("0.00000001"))
    assert summary[4] == len(quotas) and Decimal(str(summary[7])) == expected


@pytest.fixture
def beg_report(engine, people):
    query = (
        "WITH itens(codigo, descricao, valor_total) AS (SELECT 1, 'Faturas recebidas', 15230.45 "
        "UNION ALL SELECT 2, 'Faturas enviadas', 100.5) "
        'SELECT i.codigo AS "Código", i.descricao AS "Descrição", i.valor_total AS "Valor total" FROM itens i'
    )
    with session_scope(engine) as session:
        definition = ReportDefinition(
            company_id=people["BEG"], name="Resumo de faturas", query_sql=query, format="xlsx",
            recipients_to=["financeiro@beg.com.br"], recipients_cc=[], cron="0 8 * * *", active=True,
        )  # fmt: skip
        save_definition(session, definition)
        return definition.id


@pytest.mark.parametrize("fmt", ["pdf", "csv", "xlsx"])
def test_report_is_downloaded_instead_of_mailed(
    engine, db_url, people, beg_report, file_store_root, tmp_path, fmt
):
    task, _ = run_one(engine, db_url, file_store_root, tmp_path, "report", people["bruno"], people["BEG"],
                      {"report_id": beg_report, "day": "2025-07-01", "format": fmt})  # fmt: skip
    data = stored(file_store_root, task)
    assert task.file_name == f"beg_resumo-de-faturas_20250701.{fmt}"
    if fmt == "pdf":
        content = "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)
        assert "Resumo de faturas" in content and "01/07/2025" in content and "Faturas recebidas" in content
    elif fmt == "csv":
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
        assert rows == [["Código", "Descrição", "Valor total"], ["1", "Faturas recebidas", "15230,45"],
                        ["2", "Faturas enviadas", "100,5"]]  # fmt: skip
    else:
        rows = list(openpyxl.load_workbook(io.BytesIO(data))["Relatório"].iter_rows(values_only=True))
        assert rows[1][:2] == (1, "Faturas recebidas") and len(rows) == 3
    assert task.result["rows"] == 2


CSV_OK = """nome;cnpj;operadoras;ativo
Hospital Santa Luzia;11.222.333/0001-81;VIVO|CLARO;sim
Padaria Pão Quente;11444777000161;CLARO;sim
Transportadora Rio Claro;;;não
"""


def test_import_clients_upserts_clients_and_their_operators(
    engine, db_url, people, invoices, file_store_root, tmp_path
):
    task, _ = run_one(engine, db_url, file_store_root, tmp_path, "import_clients", people["ana"], people["BEG"],
                      {"csv_text": CSV_OK})  # fmt: skip
    assert task.status == "completed" and task.file_key is None, task.error_message
    assert (task.result["created"], task.result["updated"]) == (1, 2)
    with session_scope(engine) as session:
        clients = {
            c.name: c for c in session.scalars(select(Client).where(Client.company_id == people["BEG"]))
        }
        operators = {o.id: o.code for o in session.scalars(select(Operator))}

        def links(name):
            rows = session.scalars(select(ClientOperator).where(ClientOperator.client_id == clients[name].id))
            return {operators[link.operator_id] for link in rows if link.active}

        assert clients["Padaria Pão Quente"].cnpj == "11.444.777/0001-61"
        assert links("Hospital Santa Luzia") == {"VIVO", "CLARO"}
        assert links("Padaria Pão Quente") == {"CLARO"}
        assert not clients["Transportadora Rio Claro"].active and links("Transportadora Rio Claro") == set()
        assert "Açougue São João" in clients  # not in the file: untouched
        (notification,) = list_notifications(session, user_id=people["ana"])
        assert notification.kind == "task_completed" and "1 cliente(s) criado(s)" in notification.message


def test_a_bad_import_names_line_and_field_and_writes_nothing(
    engine, db_url, people, invoices, file_store_root, tmp_path
):
    bad = (
        CSV_OK + "Nova Empresa;12.345.678/0001-00;VIVO;sim\nOutra;;TELEFONICA;talvez\nPadaria Pão Quente;;;\n"
    )
    with session_scope(engine) as session:
        before = session.scalars(select(Client.name).order_by(Client.id)).all()
    task, result = run_one(engine, db_url, file_store_root, tmp_path, "import_clients", people["ana"], people["BEG"],
                           {"csv_text": bad})  # fmt: skip
    assert not result.success and task.status == "failed"
    error = task.error_message
    assert "\n" not in error and "nothing imported" in error
    assert "line 5, field cnpj: invalid CNPJ '12.345.678/0001-00'" in error
    assert (
        "line 6, field operadoras: unknown operator 'TELEFONICA'" in error and "line 6, field ativo" in error
    )
    assert "line 7, field nome: client 'Padaria Pão Quente' repeated (first on line 3)" in error
    with session_scope(engine) as session:
        assert session.scalars(select(Client.name).order_by(Client.id)).all() == before


def test_send_email_through_the_company_smtp_with_a_task_file(
    engine, db_url, people, invoices, file_store_root, tmp_path, smtp_server
):
    with session_scope(engine) as session:
        set_smtp_settings(session, people["BEG"], host=smtp_server.host, port=smtp_server.port, security="none",
                          from_address="relatorios@beg.com.br", from_name="Relatórios BEG")  # fmt: skip
    letter, _ = run_one(engine, db_url, file_store_root, tmp_path / "a", "approval_letter", people["bruno"],
                        people["BEG"], {"month": "2025-06"})  # fmt: skip
    payload = {"to": ["Diretoria@BEG.com.br"], "cc": ["ana.souza@beg.com.br"], "subject": "Carta de junho",
               "body": "Segue a carta para assinatura.", "attach_task_id": letter.id}  # fmt: skip
    task, _ = run_one(
        engine, db_url, file_store_root, tmp_path / "b", "send_email", people["bruno"], people["BEG"], payload
    )
    assert task.status == "completed", task.error_message
    (received,) = smtp_server.messages
    assert received.mail_from == "relatorios@beg.com.br"
    assert sorted(received.rcpt_tos) == ["ana.souza@beg.com.br", "diretoria@beg.com.br"]
    assert received.message["Subject"] == "Carta de junho"
    (attachment,) = list(received.message.iter_attachments())
    assert attachment.get_filename() == letter.file_name
    assert attachment.get_payload(decode=True) == (file_store_root / letter.file_key).read_bytes()
    assert task.result["message_id"] == received.message["Message-ID"]


def test_the_other_company_s_rows_never_leak(engine, db_url, people, invoices, file_store_root, tmp_path):
    task, _ = run_one(engine, db_url, file_store_root, tmp_path, "invoices_month", people["diego"], people["ACME"],
                      {"month": "2025-06"})  # fmt: skip
    rows = list(
        openpyxl.load_workbook(io.BytesIO(stored(file_store_root, task)))["Faturas"].iter_rows(
            values_only=True
        )
    )
    assert [row[2] for row in rows[1:]] == ["Acme Fundo"]
    with session_scope(engine) as session:
        assert session.get(Company, people["ACME"]).code == "ACME"
