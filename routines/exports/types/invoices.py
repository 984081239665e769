"""Export types over the company's invoice processes: the month's list (XLSX), the month's invoice files (ZIP
with an index sheet) and the approval letter of the month's approved invoices (DOCX, for signature)."""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from routines import TIMEZONE
from routines.database.engine import session_scope
from routines.errors import UserError
from routines.exports.context import ExportContext, ExportOutput, slug, thousands
from routines.exports.payloads import ApprovalLetterPayload, InvoiceFilesPayload, InvoicesMonthPayload
from routines.exports.tables import Column, Sheet, write_xlsx
from routines.invoices.models import Client, InvoiceProcess, Operator
from routines.invoices.status import Status

INVOICE_COLUMNS = [
    Column("Processo", "int"),
    Column("Competência", "text", 12),
    Column("Cliente", "text", 36),
    Column("CNPJ", "text", 20),
    Column("Operadora", "text", 12),
    Column("Situação", "text", 24),
    Column("Tentativas de download", "int"),
    Column("Arquivo", "text", 40),
    Column("SHA-256", "text", 66),
    Column("Tamanho (bytes)", "int", 14),
    Column("Aprovado por", "text"),
    Column("Aprovado em", "datetime"),
    Column("Rejeitado em", "datetime"),
    Column("Motivo da rejeição", "text", 30),
    Column("Protocolo SAT", "text"),
    Column("Enviado ao SAT em", "datetime"),
    Column("Erro", "text", 40),
    Column("Criado em", "datetime"),
    Column("Atualizado em", "datetime"),
]
APPROVED_STATUSES = (Status.AGUARDANDO_ENVIO_SAT, Status.FALHA_ENVIO_SAT, Status.UPLOAD_REALIZADO)
MONTHS = ("janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto", "setembro", "outubro",
          "novembro", "dezembro")  # fmt: skip


def _month_processes(company_id: int, month: date):
    return (
        select(InvoiceProcess, Client, Operator)
        .join(Client, InvoiceProcess.client_id == Client.id)
        .join(Operator, InvoiceProcess.operator_id == Operator.id)
        .where(Client.company_id == company_id, InvoiceProcess.billing_month == month)
    )


def invoice_rows(ctx: ExportContext, month: date, label: str):
    """The month's processes as `INVOICE_COLUMNS` rows, streamed; and how many there are."""
    p, c, o = InvoiceProcess, Client, Operator
    where = (c.company_id == ctx.company.id, p.billing_month == month)
    with ctx.engine.connect() as connection:
        total = connection.scalar(
            select(func.count()).select_from(p).join(c, p.client_id == c.id).where(*where)
        )
    query = (
        select(
            p.id, c.name, c.cnpj, o.code, p.status, p.download_attempts, p.file_key, p.file_sha256, p.file_size,
            p.approved_by, p.approved_at, p.rejected_at, p.rejection_reason, p.sat_protocol, p.uploaded_at,
            p.error, p.created_at, p.updated_at,
        )
        .join(c, p.client_id == c.id)
        .join(o, p.operator_id == o.id)
        .where(*where)
        .order_by(c.name, o.code, p.id)
    )  # fmt: skip

    def rows():
        with ctx.engine.connect() as connection:
            result = connection.execution_options(stream_results=True, yield_per=2000).execute(query)
            for row in result:
                yield (row[0], label, *row[1:])

    return total, rows()


def invoices_month(ctx: ExportContext, payload: InvoicesMonthPayload) -> ExportOutput:
    ctx.progress(5, 100, f"Lendo os processos de {payload.label}")
    total, rows = invoice_rows(ctx, payload.first_day, payload.label)
    data = write_xlsx(
        [Sheet("Faturas", INVOICE_COLUMNS, rows)], ctx.rows_progress(total), label="processos de fatura"
    )
    return ExportOutput(
        summary=f"{thousands(total)} processos de fatura de {payload.label}",
        data=data,
        file_name=f"faturas_{payload.month}_{ctx.company.code.lower()}.xlsx",
        result={"rows": total},
    )


INDEX_COLUMNS = [
    Column("Arquivo no ZIP", "text", 48),
    Column("Processo", "int"),
    Column("Cliente", "text", 36),
    Column("CNPJ", "text", 20),
    Column("Operadora", "text", 12),
    Column("Situação", "text", 24),
    Column("SHA-256", "text", 66),
    Column("Tamanho (bytes)", "int", 14),
    Column("Observação", "text", 40),
]


def invoice_files(ctx: ExportContext, payload: InvoiceFilesPayload) -> ExportOutput:
    """Every downloaded invoice of the month (checked against its recorded sha256) plus `indice.xlsx`."""
    query = _month_processes(ctx.company.id, payload.first_day).where(InvoiceProcess.file_key.is_not(None))
    with session_scope(ctx.engine) as session:
        processes = session.execute(query.order_by(Operator.code, Client.name, InvoiceProcess.id)).all()
    buffer = io.BytesIO()
    index, problems = [], 0
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for number, (process, client, operator) in enumerate(processes, start=1):
            extension = process.file_key.rsplit(".", 1)[-1].lower() if "." in process.file_key else "pdf"
            name = f"{operator.code}/{slug(client.name, 40)}_processo{process.id}.{extension}"
            note = ""
            if not ctx.store.exists(process.file_key):
                note, name = "arquivo ausente no armazenamento", None
            else:
                data = ctx.store.read_bytes(process.file_key)
                if process.file_sha256 and hashlib.sha256(data).hexdigest() != process.file_sha256:
                    note, name = "sha256 diferente do registrado: arquivo não incluído", None
                else:
                    archive.writestr(name, data)
            problems += bool(note)
            index.append(
                (name, process.id, client.name, client.cnpj, operator.code, process.status,
                 process.file_sha256, process.file_size, note)
            )  # fmt: skip
            ctx.progress(number, len(processes) + 1, f"{number} de {len(processes)} faturas")
        archive.writestr("indice.xlsx", write_xlsx([Sheet("Índice", INDEX_COLUMNS, index)]))
    included = len(processes) - problems
    summary = f"{included} faturas de {payload.label} no ZIP"
    if problems:
        summary += f" ({problems} com problema, ver indice.xlsx)"
    return ExportOutput(
        summary=summary,
        data=buffer.getvalue(),
        file_name=f"faturas_{payload.month}_{ctx.company.code.lower()}.zip",
        result={"files": included, "problems": problems},
    )


def approval_letter(ctx: ExportContext, payload: ApprovalLetterPayload) -> ExportOutput:
    """A DOCX letter listing the month's approved invoices, with signature lines."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    query = _month_processes(ctx.company.id, payload.first_day).where(
        InvoiceProcess.approved_at.is_not(None),
        InvoiceProcess.status.in_([s.value for s in APPROVED_STATUSES]),
    )
    with session_scope(ctx.engine) as session:
        approved = session.execute(query.order_by(Client.name, Operator.code, InvoiceProcess.id)).all()
    if not approved:
        raise UserError(f"nenhuma fatura aprovada em {payload.label} para {ctx.company.name}")
    ctx.progress(30, 100, f"{len(approved)} faturas aprovadas")
    zone = ZoneInfo(TIMEZONE)
    today = ctx.now.astimezone(zone).date()

    document = Document()
    style = document.styles["Normal"]
    style.font.name, style.font.size = "Calibri", Pt(11)
    document.add_heading("Carta de aprovação de faturas", level=1)
    document.add_paragraph(
        f"Empresa: {ctx.company.name}" + (f" (CNPJ {ctx.company.cnpj})" if ctx.company.cnpj else "")
    )
    document.add_paragraph(f"Competência: {payload.label}")
    document.add_paragraph(
        f"Declaramos que as {len(approved)} faturas de telecomunicações relacionadas abaixo, da competência "
        f"{payload.label}, foram conferidas e aprovadas para envio ao SAT."
    )
    table = document.add_table(rows=1, cols=6)
    table.style = "Table Grid"
    for cell, title in zip(
        table.rows[0].cells,
        ("Cliente", "CNPJ", "Operadora", "Aprovado por", "Aprovado em", "Situação"),
        strict=True,
    ):
        cell.text = title
        cell.paragraphs[0].runs[0].bold = True
    for number, (process, client, operator) in enumerate(approved, start=1):
        cells = table.add_row().cells
        values = (
            client.name, client.cnpj or "", operator.name, process.approved_by or "",
            f"{process.approved_at.astimezone(zone):%d/%m/%Y %H:%M}", process.status,
        )  # fmt: skip
        for cell, value in zip(cells, values, strict=True):
            cell.text = value
        ctx.progress(30 + 60 * number // len(approved), 100, f"{number} de {len(approved)} faturas")
    document.add_paragraph(f"Total de faturas aprovadas: {len(approved)}")
    document.add_paragraph(f"São Paulo, {today.day} de {MONTHS[today.month - 1]} de {today.year}.")
    for _ in range(2):
        document.add_paragraph("")
    signature = document.add_paragraph("_" * 40)
    signature.alignment = WD_ALIGN_PARAGRAPH.CENTER
    signer = document.add_paragraph(f"{ctx.user.name}\n{ctx.company.name}")
    signer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    document.core_properties.title = f"Carta de aprovação de faturas {payload.label}"
    document.core_properties.author = ctx.company.name
    buffer = io.BytesIO()
    document.save(buffer)
    return ExportOutput(
        summary=f"carta de aprovação de {len(approved)} faturas de {payload.label}",
        data=buffer.getvalue(),
        file_name=f"carta_aprovacao_{payload.month}_{ctx.company.code.lower()}.docx",
        result={"invoices": len(approved)},
    )
