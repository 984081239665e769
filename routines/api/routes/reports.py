"""Report definitions and executions of the caller's company; "Executar agora" (the run request the sensor
honours) and create / edit / enable / disable with the CLI's validation (`routines.reports.service`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from routines.api.errors import ERROR_RESPONSES, MAX_ID, ApiError, not_found
from routines.api.security import current_user, require, session
from routines.api.tokens import Principal
from routines.errors import UserError
from routines.reports import service
from routines.reports.models import DEFAULT_TIMEZONE, ReportDefinition, ReportExecution, ReportRunRequest

router = APIRouter(prefix="/api/reports", tags=["relatórios"], responses=ERROR_RESPONSES)
ReportId = Annotated[int, Path(ge=1, le=MAX_ID)]
Shift = Literal["skip", "following", "preceding", "modified_following", "modified_preceding"]


class DefinitionOut(BaseModel):
    id: int
    name: str
    slug: str | None
    query_sql: str | None
    dataset: str | None
    format: str
    recipients_to: list[str]
    recipients_cc: list[str]
    subject_template: str | None
    body_template: str | None
    cron: str
    timezone: str
    calendar_name: str | None
    business_days_only: bool
    shift: str
    nth_business_day: int | None
    active: bool
    next_run_at: datetime | None
    last_run_at: datetime | None


class DefinitionFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query_sql: str | None = Field(None, max_length=100_000, description="um SELECT/WITH somente leitura")
    dataset: str | None = Field(None, max_length=100, description="ou um conjunto de dados nomeado")
    format: str | None = Field(None, max_length=20, description="xlsx, pdf, csv ou vários: xlsx,pdf")
    recipients_to: list[Annotated[str, Field(max_length=254)]] | None = Field(None, max_length=100)
    recipients_cc: list[Annotated[str, Field(max_length=254)]] | None = Field(None, max_length=100)
    subject_template: str | None = Field(None, max_length=500)
    body_template: str | None = Field(None, max_length=20_000)
    cron: str | None = Field(None, max_length=120)
    timezone: str | None = Field(None, max_length=64)
    calendar_name: str | None = Field(None, max_length=60)
    business_days_only: bool | None = None
    shift: Shift | None = None
    nth_business_day: int | None = Field(None, ge=-23, le=23)


class DefinitionCreate(DefinitionFields):
    name: str = Field(min_length=1, max_length=200)
    recipients_to: list[Annotated[str, Field(max_length=254)]] = Field(min_length=1, max_length=100)
    cron: str = Field(min_length=1, max_length=120)
    format: str = Field("xlsx", max_length=20)
    active: bool = True


class DefinitionEdit(DefinitionFields):
    name: str | None = Field(None, min_length=1, max_length=200)


class ExecutionOut(BaseModel):
    id: int
    report_id: int
    report_name: str
    scheduled_for: datetime
    trigger: str
    status: str
    requested_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    row_count: int | None
    truncated: bool
    recipients: list[str] | None
    error: str | None


class RunRequestOut(BaseModel):
    id: int
    report_id: int
    status: str
    requested_at: datetime
    requested_by: str | None


def definition_out(d: ReportDefinition) -> DefinitionOut:
    return DefinitionOut.model_validate(d, from_attributes=True)


def company_definition(db: Session, user: Principal, report_id: int) -> ReportDefinition:
    definition = db.get(ReportDefinition, report_id)
    if definition is None or definition.company_id != user.company_id:
        raise not_found("relatório", report_id)
    return definition


def _save(db: Session, definition: ReportDefinition) -> DefinitionOut:
    try:
        service.save_definition(db, definition)
    except UserError as exc:
        field = getattr(exc, "field", None)
        raise ApiError(422, str(exc), {"query": "query_sql"}.get(field, field)) from None
    return definition_out(definition)


@router.get("/", response_model=list[DefinitionOut], summary="As definições de relatório da empresa")
def list_definitions(user: Principal = Depends(current_user), db: Session = Depends(session)):
    rows = db.scalars(
        select(ReportDefinition)
        .where(ReportDefinition.company_id == user.company_id)
        .order_by(ReportDefinition.id)
    )
    return [definition_out(d) for d in rows]


@router.get("/executions/", response_model=list[ExecutionOut], summary="As últimas execuções da empresa")
def list_executions(
    report_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: int = Query(50, ge=1, le=500),
    user: Principal = Depends(current_user),
    db: Session = Depends(session),
):
    query = (
        select(ReportExecution, ReportDefinition.name)
        .join(ReportDefinition, ReportDefinition.id == ReportExecution.report_id)
        .where(ReportDefinition.company_id == user.company_id)
        .order_by(ReportExecution.requested_at.desc(), ReportExecution.id.desc())
        .limit(limit)
    )
    if report_id is not None:
        query = query.where(ReportExecution.report_id == report_id)
    return [
        ExecutionOut(
            id=e.id,
            report_id=e.report_id,
            report_name=name,
            scheduled_for=e.scheduled_for,
            trigger=e.trigger,
            status=e.status,
            requested_at=e.requested_at,
            started_at=e.started_at,
            finished_at=e.finished_at,
            row_count=e.row_count,
            truncated=bool(e.truncated),
            recipients=e.recipients,
            error=e.error,
        )  # fmt: skip
        for e, name in db.execute(query)
    ]


@router.post("/", response_model=DefinitionOut, status_code=201, summary="Cria uma definição (operador)")
def create_definition(
    body: DefinitionCreate, user: Principal = Depends(require("operator")), db: Session = Depends(session)
):
    defaults = {
        "recipients_cc": [],
        "timezone": DEFAULT_TIMEZONE,
        "shift": "skip",
        "business_days_only": False,
    }
    definition = ReportDefinition(
        company_id=user.company_id, **(defaults | body.model_dump(exclude_none=True))
    )
    return _save(db, definition)


@router.get("/{report_id}/", response_model=DefinitionOut)
def get_definition(
    report_id: ReportId, user: Principal = Depends(current_user), db: Session = Depends(session)
):
    return definition_out(company_definition(db, user, report_id))


@router.patch("/{report_id}/", response_model=DefinitionOut, summary="Altera uma definição (operador)")
def edit_definition(
    report_id: ReportId, body: DefinitionEdit, user: Principal = Depends(require("operator")),
    db: Session = Depends(session),
):  # fmt: skip
    definition = company_definition(db, user, report_id)
    for name, value in body.model_dump(exclude_unset=True).items():
        if value is None and name in (
            "name",
            "format",
            "recipients_to",
            "cron",
            "timezone",
            "shift",
            "business_days_only",
        ):
            raise ApiError(422, f"{name}: não pode ser nulo", name)
        setattr(definition, name, value)
    return _save(db, definition)


def _set_active(db: Session, user: Principal, report_id: int, active: bool) -> DefinitionOut:
    company_definition(db, user, report_id)
    try:
        return definition_out(service.set_active(db, report_id, active))
    except UserError as exc:
        raise ApiError(422, str(exc), getattr(exc, "field", None)) from None


@router.post("/{report_id}/enable/", response_model=DefinitionOut, summary="Ativa (operador)")
def enable(
    report_id: ReportId, user: Principal = Depends(require("operator")), db: Session = Depends(session)
):
    return _set_active(db, user, report_id, True)


@router.post("/{report_id}/disable/", response_model=DefinitionOut, summary="Desativa (operador)")
def disable(
    report_id: ReportId, user: Principal = Depends(require("operator")), db: Session = Depends(session)
):
    return _set_active(db, user, report_id, False)


@router.post(
    "/{report_id}/run/", response_model=RunRequestOut, status_code=202,
    summary="Executar agora: um pedido que o sensor atende no próximo ciclo (operador)",
)  # fmt: skip
def run_now(
    report_id: ReportId, user: Principal = Depends(require("operator")), db: Session = Depends(session)
):
    company_definition(db, user, report_id)
    request: ReportRunRequest = service.request_run(db, report_id, requested_by=user.actor)
    return RunRequestOut(
        id=request.id, report_id=request.report_id, status=request.status, requested_at=request.requested_at,
        requested_by=request.requested_by,
    )  # fmt: skip
