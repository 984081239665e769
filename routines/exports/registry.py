"""The export types: the ONE place a developer extends.

To add a type: write its payload model (`routines.exports.payloads`) and its `run(ctx, payload) -> ExportOutput`
function (a module under `routines.exports.types`), then add one `ExportType(...)` line to `EXPORT_TYPES` below.
Nothing else changes: the CLI, the sensor, the Dagster job, validation at creation and notifications all read
this registry. `check` (optional) runs database checks at creation and again before the task runs, such as
"this report belongs to the company".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from routines.errors import UserError
from routines.exports import payloads as p
from routines.exports.context import ExportContext, ExportOutput
from routines.exports.types import clients, email, invoices, market, reports


@dataclass(frozen=True)
class ExportType:
    name: str
    title: str  # pt-BR, shown in notifications and listings
    formats: str  # what comes out, for people: "XLSX", "PDF, XLSX ou CSV", "nenhum arquivo"
    payload: type[p.Payload]
    run: Callable[[ExportContext, p.Payload], ExportOutput]
    check: Callable[[Session, int, p.Payload], None] | None = None

    def parse(self, raw: dict | str | None) -> p.Payload:
        return p.parse_payload(self.payload, raw)


EXPORT_TYPES: dict[str, ExportType] = {
    t.name: t
    for t in (
        ExportType("invoices_month", "Faturas do mês", "XLSX", p.InvoicesMonthPayload, invoices.invoices_month),
        ExportType("invoice_files", "Arquivos das faturas do mês", "ZIP", p.InvoiceFilesPayload, invoices.invoice_files),
        ExportType("b3_quotes", "Cotações da B3", "CSV", p.B3QuotesPayload, market.b3_quotes),
        ExportType("cvm_fund_history", "Histórico de cotas de fundos (CVM)", "XLSX", p.CvmFundHistoryPayload, market.cvm_fund_history),
        ExportType("report", "Relatório", "PDF, XLSX ou CSV", p.ReportPayload, reports.report, reports.check_report),
        ExportType("approval_letter", "Carta de aprovação de faturas", "DOCX", p.ApprovalLetterPayload, invoices.approval_letter),
        ExportType("import_clients", "Importação de clientes", "nenhum arquivo", p.ImportClientsPayload, clients.import_clients),
        ExportType("send_email", "Envio de e-mail", "nenhum arquivo", p.SendEmailPayload, email.send_email, email.check_email),
    )
}  # fmt: skip


def export_type(name: str) -> ExportType:
    try:
        return EXPORT_TYPES[name]
    except KeyError:
        raise UserError(f"task_type {name!r}: expected one of {', '.join(EXPORT_TYPES)}") from None
