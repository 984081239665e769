"""Notifications (the legacy UserNotification API): the caller's own, through `routines.notifications.service`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from routines.api.errors import ERROR_RESPONSES, MAX_ID, ApiError
from routines.api.security import bearer, current_user, run_authenticated, session
from routines.api.tokens import Principal
from routines.errors import UserError
from routines.notifications import service
from routines.notifications.models import Notification

router = APIRouter(prefix="/api/notifications", tags=["notificações"], responses=ERROR_RESPONSES)
NotificationId = Annotated[int, Path(ge=1, le=MAX_ID)]


class NotificationOut(BaseModel):
    id: int
    kind: str
    title: str
    message: str
    task_id: int | None
    link_url: str | None
    link_text: str | None
    is_read: bool
    read_at: datetime | None
    created_at: datetime


class UnreadCount(BaseModel):
    count: int


class Marked(BaseModel):
    marked: int


class MarkMultiple(BaseModel):
    model_config = ConfigDict(extra="forbid")
    notification_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(min_length=1, max_length=1000)


def notification_out(n: Notification) -> NotificationOut:
    return NotificationOut(
        id=n.id, kind=n.kind, title=n.title, message=n.message, task_id=n.task_id, link_url=n.link_url,
        link_text=n.link_text, is_read=n.is_read, read_at=n.read_at, created_at=n.created_at,
    )  # fmt: skip


@router.get(
    "/", response_model=list[NotificationOut], summary="As notificações do usuário, mais novas primeiro"
)
def list_all(
    limit: int = Query(50, ge=1, le=500),
    user: Principal = Depends(current_user),
    db: Session = Depends(session),
):
    return [notification_out(n) for n in service.list_notifications(db, user_id=user.user_id, limit=limit)]


@router.get("/unread/", response_model=list[NotificationOut], summary="As não lidas")
def unread(
    limit: int = Query(50, ge=1, le=500),
    user: Principal = Depends(current_user),
    db: Session = Depends(session),
):
    rows = service.list_notifications(db, user_id=user.user_id, unread_only=True, limit=limit)
    return [notification_out(n) for n in rows]


@router.get(
    "/unread_count/",
    response_model=UnreadCount,
    summary="Quantas não lidas (o sino)",
    dependencies=[Depends(bearer)],
)
async def unread_count(request: Request):
    count = await run_in_threadpool(
        run_authenticated, request, lambda db, user: service.unread_count(db, user.user_id)
    )
    return UnreadCount(count=count)


@router.post("/{notification_id}/mark_read/", response_model=Marked, summary="Marca uma como lida")
def mark_read(
    notification_id: NotificationId, user: Principal = Depends(current_user), db: Session = Depends(session)
):
    try:
        return Marked(marked=service.mark_read(db, [notification_id], user_id=user.user_id))
    except UserError:
        raise ApiError(404, f"notificação {notification_id} não encontrada") from None


@router.post("/mark_all_read/", response_model=Marked, summary="Marca todas como lidas")
def mark_all_read(user: Principal = Depends(current_user), db: Session = Depends(session)):
    return Marked(marked=service.mark_read(db, None, user_id=user.user_id))


@router.post("/mark_multiple_read/", response_model=Marked, summary="Marca as indicadas como lidas")
def mark_multiple_read(
    body: MarkMultiple, user: Principal = Depends(current_user), db: Session = Depends(session)
):
    try:
        return Marked(marked=service.mark_read(db, sorted(set(body.notification_ids)), user_id=user.user_id))
    except UserError as exc:
        raise ApiError(404, f"notification_ids: {exc}", "notification_ids") from None
