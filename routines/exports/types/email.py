"""Export type `send_email`: an e-mail through the company's own SMTP server (the reports domain's settings and
client), optionally with the file of one of the company's completed tasks attached."""

from __future__ import annotations

import hashlib

from sqlalchemy.orm import Session

from routines.errors import UserError
from routines.exports.context import ExportContext, ExportOutput
from routines.exports.models import ExportTask
from routines.exports.payloads import PayloadError, SendEmailPayload

MIME_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf",
    "csv": "text/csv",
    "zip": "application/zip",
}


def _attachable(session: Session, company_id: int, task_id: int) -> ExportTask:
    task = session.get(ExportTask, task_id)
    if task is None or task.company_id != company_id:
        raise PayloadError(
            f"payload.attach_task_id: no task {task_id} in this company", "payload.attach_task_id"
        )
    if not task.downloadable:
        state = (
            "its file was removed by the cleanup"
            if task.file_removed_at
            else f"it is {task.status} with no file"
        )
        raise PayloadError(
            f"payload.attach_task_id: task {task_id} cannot be attached: {state}", "payload.attach_task_id"
        )
    return task


def check_email(session: Session, company_id: int, payload: SendEmailPayload) -> None:
    if payload.attach_task_id is not None:
        _attachable(session, company_id, payload.attach_task_id)


def send_email(ctx: ExportContext, payload: SendEmailPayload) -> ExportOutput:
    from routines.database.engine import session_scope
    from routines.reports.config import ReportsConfig
    from routines.reports.mail import Attachment, build_message, send_message
    from routines.reports.service import load_smtp_config

    attachments = []
    with session_scope(ctx.engine) as session:
        smtp = load_smtp_config(session, ctx.company.id, ctx.company.code)
        if payload.attach_task_id is not None:
            task = _attachable(session, ctx.company.id, payload.attach_task_id)
            file_key, file_name, sha256 = task.file_key, task.file_name, task.file_sha256
            data = ctx.store.read_bytes(file_key) if ctx.store.exists(file_key) else None
            if data is None or hashlib.sha256(data).hexdigest() != sha256:
                raise UserError(f"task {payload.attach_task_id}: its file {file_key} is missing or changed")
            extension = file_name.rsplit(".", 1)[-1].lower()
            attachments.append(
                Attachment(file_name, data, MIME_TYPES.get(extension, "application/octet-stream"))
            )
    ctx.progress(30, 100, f"Enviando por {smtp.describe()}")
    message = build_message(
        smtp, list(payload.to), list(payload.cc), payload.subject, payload.body, attachments
    )
    config = ReportsConfig.from_env()
    message_id = send_message(
        smtp, message, list(payload.to) + list(payload.cc), config.smtp_attempts, config.smtp_base_delay
    )
    recipients = len(payload.to) + len(payload.cc)
    return ExportOutput(
        summary=f"e-mail enviado a {recipients} destinatário(s)" + (" com anexo" if attachments else ""),
        result={"message_id": message_id, "recipients": list(payload.to) + list(payload.cc)},
    )
