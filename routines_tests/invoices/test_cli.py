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
