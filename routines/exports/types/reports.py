"""Export type `report`: one of the company's saved report definitions, run for a chosen day and downloaded
instead of e-mailed (through the reports domain's own query sandbox and renderers)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from routines.exports.context import ExportContext, ExportOutput, thousands
from routines.exports.payloads import PayloadError, ReportPayload


def check_report(session: Session, company_id: int, payload: ReportPayload) -> None:
    """At creation: the report must be one of the company's definitions."""
    from routines.reports.models import ReportDefinition

    owner = session.scalar(
        select(ReportDefinition.company_id).where(ReportDefinition.id == payload.report_id)
    )
    if owner != company_id:
        raise PayloadError(
            f"payload.report_id: no report with id {payload.report_id} in this company", "payload.report_id"
        )


def report(ctx: ExportContext, payload: ReportPayload) -> ExportOutput:
    from routines.reports.service import render_definition_file

    ctx.progress(10, 100, "Executando a consulta do relatório")
    rendered = render_definition_file(
        ctx.engine,
        report_id=payload.report_id,
        company_id=ctx.company.id,
        day=payload.day,
        fmt=payload.format,
    )
    summary = f"relatório de {payload.day:%d/%m/%Y} com {thousands(rendered.row_count)} linhas"
    if rendered.truncated:
        summary += " (resultado limitado)"
    return ExportOutput(
        summary=summary,
        data=rendered.data,
        file_name=rendered.file_name,
        result={"rows": rendered.row_count, "truncated": rendered.truncated},
    )
