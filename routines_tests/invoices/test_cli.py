"""`routines invoices ...`: list, show, approve/reject/retry with bad input."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from routines.database.engine import get_engine, session_scope
from routines.invoices import service
from routines.invoices.models import InvoiceProcess
from routines.invoices.status import Status
from routines_tests.invoices.conftest import run_cli


@pytest.fixture
def month(seeded_sqlite_url):
    with session_scope(get_engine(seeded_sqlite_url)) as session:
        service.create_month_processes(session, date(2025, 6, 1), "run:abc")
        process = session.scalars(select(InvoiceProcess).order_by(InvoiceProcess.id)).first()
        service.transition(
            session,
            process,
            Status.AGUARDANDO_APROVACAO,
            "run:def",
            "fatura baixada",
            file_key="invoices/2025/06/01/x.pdf",
            file_sha256="ab" * 32,
            file_size=10,
            last_log_lines="linha 1\nlinha 2",
        )
    return seeded_sqlite_url, process.id


def test_list_and_show(month, capsys):
    url, process_id = month
    assert (
        run_cli("invoices", "list", "--month", "2025-06", "--status", "aguardando_aprovacao", "--url", url)
        == 0
    )
    out = capsys.readouterr().out
    assert "AGUARDANDO_APROVACAO" in out and "1 process(es)" in out
    assert run_cli("invoices", "list", "--url", url) == 0
    assert "8 process(es)" in capsys.readouterr().out
    assert run_cli("invoices", "show", str(process_id), "--url", url) == 0
    out = capsys.readouterr().out
    assert "invoices/2025/06/01/x.pdf" in out and "linha 2" in out
    assert "- -> AGUARDANDO_DOWNLOAD  by run:abc" in out
    assert "AGUARDANDO_DOWNLOAD -> AGUARDANDO_APROVACAO  by run:def: fatura baixada" in out


@pytest.mark.parametrize(
    "argv,message",
    [
        (["list", "--month", "2025-13"], "--month: invalid billing month '2025-13'"),
        (["list", "--status", "PAGO"], "--status: unknown invoice process status 'PAGO'"),
        (["show", "999"], "invoice process 999 does not exist"),
        (["approve", "999"], "invoice process 999 does not exist"),
        (["reject", "{id}", "--reason", "  "], "a rejection needs a reason"),
        (["retry", "{id}"], "only FALHA_DOWNLOAD, REJEITADO or FALHA_ENVIO_SAT can be retried"),
    ],
)
def test_bad_input_is_one_clear_line(month, capsys, argv, message):
    url, process_id = month
    argv = [arg.replace("{id}", str(process_id)) for arg in argv]
    assert run_cli("invoices", *argv, "--url", url) == 2
    out = capsys.readouterr().out
    assert out.startswith("routines: error: ") and message in out


def test_reject_then_retry_clears_the_decision(month, capsys):
    url, process_id = month
    assert (
        run_cli(
            "invoices", "reject", str(process_id), "--reason", "valor errado", "--by", "ana", "--url", url
        )
        == 0
    )
    assert run_cli("invoices", "approve", str(process_id), "--url", url) == 2
    assert run_cli("invoices", "retry", str(process_id), "--by", "ana", "--url", url) == 0
    with session_scope(get_engine(url)) as session:
        process = session.get(InvoiceProcess, process_id)
        assert process.status == "AGUARDANDO_DOWNLOAD"
        assert process.rejected_at is None and process.rejection_reason is None


def test_non_numeric_id_is_refused(capsys):
    with pytest.raises(SystemExit) as info:
        run_cli("invoices", "approve", "abc")
    assert info.value.code == 2
    assert "invalid process id 'abc'" in capsys.readouterr().err


def test_attach_a_file_for_an_operator_without_rpa(month, tmp_path, file_store_root, capsys):
    url, _ = month
    with session_scope(get_engine(url)) as session:
        oi = session.scalars(select(InvoiceProcess).where(InvoiceProcess.operator.has(code="OI"))).one()
    invoice = tmp_path / "fatura-oi.pdf"
    invoice.write_bytes(b"%PDF-1.4 fatura Oi")
    assert run_cli("invoices", "attach", str(oi.id), str(tmp_path / "nao-existe.pdf"), "--url", url) == 2
    assert "nao-existe.pdf: file not found" in capsys.readouterr().out
    assert run_cli("invoices", "attach", str(oi.id), str(invoice), "--by", "rui", "--url", url) == 0
    with session_scope(get_engine(url)) as session:
        process = session.get(InvoiceProcess, oi.id)
        assert process.status == "AGUARDANDO_APROVACAO"
        assert (
            process.file_key == f"invoices/2025/06/01/OI-cliente{process.client_id}-processo{process.id}.pdf"
        )
        assert (file_store_root / process.file_key).read_bytes() == invoice.read_bytes()
    assert run_cli("invoices", "attach", str(oi.id), str(invoice), "--url", url) == 2
    assert "a file can only be attached while waiting for download" in capsys.readouterr().out
