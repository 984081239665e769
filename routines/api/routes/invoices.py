"""Invoice processes of the caller's company: list, one with its transitions, its PDF, and approve / reject /
retry through the one state machine (`routines.invoices.service`), the acting user recorded in the transition."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from routines.api.errors import ERROR_RESPONSES, MAX_ID, ApiError, not_found
from routines.api.security import current_user, require, session
from routines.api.tokens import Principal
from routines.errors import ConflictError, UserError
from routines.files import FileStore
from routines.invoices import service
from routines.invoices import status as sm
from routines.invoices.models import Client, InvoiceProcess, Operator, ProcessTransition

router = APIRouter(prefix="/api/invoices", tags=["faturas"], responses=ERROR_RESPONSES)
ProcessId = Annotated[int, Path(ge=1, le=MAX_ID)]


class TransitionOut(BaseModel):
    from_status: str | None
    to_status: str
    at: datetime
    actor: str
    reason: str | None


class ProcessOut(BaseModel):
    id: int
    billing_month: str
    client: str
    client_cnpj: str | None
    operator: str
    operator_name: str
    status: sm.Status
    status_label: str
    has_file: bool
    file_size: int | None
    error: str | None
    approved_by: str | None
    approved_at: datetime | None
    rejected_by: str | None
    rejected_at: datetime | None
    rejection_reason: str | None
    sat_protocol: str | None
    updated_at: datetime


class ProcessDetail(ProcessOut):
    transitions: list[TransitionOut]


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000, description="motivo da rejeição (obrigatório)")

    @field_validator("reason")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("o motivo da rejeição é obrigatório")
        return value.strip()


def process_out(process: InvoiceProcess, cls=ProcessOut, **extra):
    return cls(
        id=process.id, billing_month=service.month_label(process.billing_month), client=process.client.name,
        client_cnpj=process.client.cnpj, operator=process.operator.code, operator_name=process.operator.name,
        status=process.status, status_label=sm.LABELS[sm.Status(process.status)], has_file=bool(process.file_key),
        file_size=process.file_size, error=process.error, approved_by=process.approved_by,
        approved_at=process.approved_at, rejected_by=process.rejected_by, rejected_at=process.rejected_at,
        rejection_reason=process.rejection_reason, sat_protocol=process.sat_protocol,
        updated_at=process.updated_at, **extra,
    )  # fmt: skip


def company_process(db: Session, user: Principal, process_id: int) -> InvoiceProcess:
    """A process of the caller's company; another company's answers 404 like one that does not exist."""
    process = db.get(InvoiceProcess, process_id)
    if process is None or process.client.company_id != user.company_id:
        raise not_found("processo de fatura", process_id)
    return process


def detail(db: Session, process: InvoiceProcess) -> ProcessDetail:
    transitions = db.scalars(
        select(ProcessTransition)
        .where(ProcessTransition.process_id == process.id)
        .order_by(ProcessTransition.id)
    )
    return process_out(
        process,
        ProcessDetail,
        transitions=[
            TransitionOut(
                from_status=t.from_status, to_status=t.to_status, at=t.at, actor=t.actor, reason=t.reason
            )
            for t in transitions
        ],
    )


@router.get(
    "/", response_model=list[ProcessOut], summary="Processos da empresa por mês, situação e operadora"
)
def list_processes(
    month: Annotated[str | None, Query(description="mês de faturamento, AAAA-MM", max_length=10)] = None,
    status: sm.Status | None = None,
    operator: Annotated[str | None, Query(description="código da operadora", max_length=40)] = None,
    limit: int = Query(200, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=MAX_ID),
    user: Principal = Depends(current_user),
    db: Session = Depends(session),
):
    query = (
        select(InvoiceProcess)
        .join(Client, Client.id == InvoiceProcess.client_id)
        .join(Operator, Operator.id == InvoiceProcess.operator_id)
        .where(Client.company_id == user.company_id)
        .order_by(InvoiceProcess.billing_month.desc(), Client.name, Operator.code, InvoiceProcess.id)
        .limit(limit)
        .offset(offset)
    )
    if month:
        try:
            query = query.where(InvoiceProcess.billing_month == service.month_start(month))
        except ValueError as exc:
            raise ApiError(422, f"month: {exc}", "month") from None
    if status:
        query = query.where(InvoiceProcess.status == status.value)
    if operator:
        query = query.where(Operator.code == operator.strip().upper())
    return [process_out(p) for p in db.scalars(query)]


@router.get("/{process_id}/", response_model=ProcessDetail, summary="Um processo e suas transições")
def get_process(
    process_id: ProcessId, user: Principal = Depends(current_user), db: Session = Depends(session)
):
    return detail(db, company_process(db, user, process_id))


@router.get(
    "/{process_id}/file/",
    response_class=FileResponse,
    responses={200: {"content": {"application/pdf": {}}, "description": "O PDF da fatura"}},
    summary="O PDF da fatura",
)
def get_file(
    process_id: ProcessId,
    request: Request,
    user: Principal = Depends(current_user),
    db: Session = Depends(session),
):
    process = company_process(db, user, process_id)
    if not process.file_key:
        raise ApiError(409, f"o processo {process_id} ainda não tem fatura baixada ({process.status})")
    path = FileStore(request.app.state.config.file_store_root).path(process.file_key)
    if not path.is_file():
        raise ApiError(409, f"o arquivo do processo {process_id} não está mais no armazenamento")
    name = f"fatura-{process.operator.code}-{service.month_label(process.billing_month)}-{process.id}.pdf"
    return FileResponse(path, media_type="application/pdf", filename=name, content_disposition_type="inline")


def _act(db: Session, user: Principal, process_id: int, action) -> ProcessDetail:
    process = company_process(db, user, process_id)
    try:
        action(process)
    except (
        UserError,
        ValueError,
        ConflictError,
    ) as exc:  # a state the flow does not allow (or changed meanwhile)
        raise ApiError(409, str(exc)) from None
    return detail(db, process)


@router.post(
    "/{process_id}/approve/", response_model=ProcessDetail, summary="Aprova (operador ou administrador)"
)
def approve(
    process_id: ProcessId, user: Principal = Depends(require("operator")), db: Session = Depends(session)
):
    return _act(db, user, process_id, lambda p: service.approve(db, p.id, user.actor))


@router.post(
    "/{process_id}/reject/",
    response_model=ProcessDetail,
    summary="Rejeita com motivo (operador ou administrador)",
)
def reject(
    process_id: ProcessId,
    body: RejectIn,
    user: Principal = Depends(require("operator")),
    db: Session = Depends(session),
):
    return _act(db, user, process_id, lambda p: service.reject(db, p.id, user.actor, body.reason))


@router.post(
    "/{process_id}/retry/", response_model=ProcessDetail, summary="Novo download ou novo envio ao SAT"
)
def retry(
    process_id: ProcessId, user: Principal = Depends(require("operator")), db: Session = Depends(session)
):
    return _act(db, user, process_id, lambda p: service.retry(db, p.id, user.actor))
