"""The pages in a real browser (Chromium via Playwright) against a real uvicorn server: sign in with a token,
watch an export go from pending to completed and download it, approve and reject invoices, run a report now,
the notification bell. Screenshots are taken on every run; ROUTINES_SCREENSHOTS_DIR writes them (the README's
are in docs/screenshots/)."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from routines.database.engine import session_scope
from routines.exports.models import ExportTask
from routines.invoices.models import InvoiceProcess, ProcessTransition
from routines.reports.models import ReportDefinition, ReportRunRequest
from routines_tests.api.conftest import run_task

# The README's pictures are refreshed with ROUTINES_SCREENSHOTS_DIR=docs/screenshots; otherwise the screenshots
# are taken and checked but not written into the checkout.
SCREENSHOTS = os.environ.get("ROUTINES_SCREENSHOTS_DIR", "").strip()
pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


def sign_in(browser, base: str, token: str, page_name: str = "processamento"):
    page = browser.new_page(viewport={"width": 1280, "height": 800}, accept_downloads=True, locale="pt-BR")
    page.goto(f"{base}/paginas/{page_name}")
    expect(page).to_have_url(re.compile(r"/paginas/entrar"))  # no token yet: the sign-in page
    page.fill("#token", "rt_invalido")
    page.click("button[type=submit]")
    expect(page.locator("#message")).to_contain_text("Token inválido")
    page.fill("#token", token)
    return page


def shot(page, name: str, db_url: str) -> None:
    picture = page.screenshot(full_page=True)
    assert picture.startswith(b"\x89PNG")
    if SCREENSHOTS and db_url.startswith("sqlite"):  # one set of pictures
        folder = Path(SCREENSHOTS)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(picture)


def test_sign_in_watch_an_export_complete_and_download_it(
    live_api, browser, engine, invoices, store, db_url, tmp_path
):
    base, tokens = live_api
    page = sign_in(browser, base, tokens["bruno"])
    shot(page, "entrar.png", db_url)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/paginas/processamento$"))
    expect(page.locator("#who")).to_have_text("Bruno Lima (BEG, operator)")

    created = page.evaluate(
        """() => api("POST", "/api/tasks/", {task_type: "invoices_month", payload: {month: "2025-06"}})"""
    )
    row = page.locator(f"#task-{created['id']}")
    expect(row).to_have_attribute("data-status", "pending")
    expect(row).to_contain_text("Pendente")
    shot(page, "processamento-pendente.png", db_url)

    assert run_task(engine, store, created["id"]).status == "completed"  # what the Dagster job does
    expect(row).to_have_attribute("data-status", "completed", timeout=10_000)  # the page refreshes itself
    expect(row).to_contain_text("100%")
    expect(page.locator("#unread-count")).to_have_text("1", timeout=10_000)  # "file ready" notification
    shot(page, "processamento-concluida.png", db_url)

    with page.expect_download() as info:
        row.locator("button[data-download]").click()
    download = info.value
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    with session_scope(engine) as session:
        task = session.get(ExportTask, created["id"])
        assert download.suggested_filename == task.file_name
        assert hashlib.sha256(saved.read_bytes()).hexdigest() == task.file_sha256

    page.click("#bell")
    expect(page.locator("#notifications")).to_contain_text("Arquivo pronto")
    shot(page, "notificacoes.png", db_url)
    page.click("#mark-all")
    expect(page.locator("#unread-count")).to_be_hidden()

    page.select_option("#status", "failed")
    expect(page.locator("#tasks")).to_contain_text("Nenhuma tarefa.")


def test_approve_and_reject_invoices(live_api, browser, engine, invoices, db_url):
    base, tokens = live_api
    with session_scope(engine) as session:  # a second invoice awaiting approval
        session.get(InvoiceProcess, invoices["processes"][5]).status = "AGUARDANDO_APROVACAO"
    waiting, other = invoices["processes"][2], invoices["processes"][5]
    page = sign_in(browser, base, tokens["bruno"], "faturas")
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/paginas/faturas$"))
    expect(page.locator("#count")).to_have_text("2 aguardando aprovação")

    page.click(f"#process-{waiting} button[data-view]")
    expect(page.locator("#viewer")).to_be_visible()
    expect(page.locator("#viewer-title")).to_have_text(f"Fatura do processo {waiting}")
    shot(page, "faturas.png", db_url)

    page.click(f"#process-{other} button[data-reject]")  # no reason: refused on the page
    expect(page.locator("#message")).to_have_text("Informe o motivo da rejeição.")
    page.fill(f"#reason-{other}", "valor acima do contrato")
    page.click(f"#process-{other} button[data-reject]")
    expect(page.locator("#message")).to_contain_text("rejeitada: valor acima do contrato")
    page.click(f"#process-{waiting} button[data-approve]")
    expect(page.locator("#message")).to_contain_text(f"Fatura {waiting}")
    expect(page.locator("#message")).to_contain_text("aprovada")
    expect(page.locator("#count")).to_have_text("0 aguardando aprovação")

    with session_scope(engine) as session:
        assert session.get(InvoiceProcess, waiting).status == "AGUARDANDO_ENVIO_SAT"
        assert session.get(InvoiceProcess, other).rejection_reason == "valor acima do contrato"
        actors = session.scalars(
            select(ProcessTransition.actor).where(
                ProcessTransition.process_id.in_([waiting, other]), ProcessTransition.actor != "test"
            )
        ).all()
        assert sorted(actors) == ["user:bruno.lima@beg.com.br"] * 2

    # a viewer sees the invoices but no decision buttons
    with session_scope(engine) as session:
        session.get(InvoiceProcess, waiting).status = "AGUARDANDO_APROVACAO"
    viewer = sign_in(browser, base, tokens["carla"], "faturas")
    viewer.click("button[type=submit]")
    expect(viewer.locator(f"#process-{waiting}")).to_contain_text("somente leitura")
    expect(viewer.locator("button[data-approve]")).to_have_count(0)


def test_run_a_report_now(live_api, browser, engine, people, db_url):
    base, tokens = live_api
    with session_scope(engine) as session:
        from routines.reports.service import save_definition

        report = save_definition(session, ReportDefinition(
            company_id=people["BEG"], name="Resumo de empresas", dataset="empresas", format="xlsx",
            recipients_to=["fin@beg.com.br"], recipients_cc=[], cron="0 8 * * 1-5", timezone="America/Sao_Paulo",
            shift="skip", business_days_only=False, active=True,
        ))  # fmt: skip
        report_id = report.id
    page = sign_in(browser, base, tokens["bruno"], "relatorios")
    page.click("button[type=submit]")
    page.click(f"#report-{report_id} button[data-run]")
    expect(page.locator("#message")).to_contain_text("será executado no próximo ciclo do sensor")
    shot(page, "relatorios.png", db_url)
    with session_scope(engine) as session:
        request = session.scalar(select(ReportRunRequest))
        assert (request.report_id, request.requested_by) == (report_id, "bruno.lima@beg.com.br")
