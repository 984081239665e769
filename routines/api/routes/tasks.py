"""Tasks (the legacy TaskQueue API): the caller's own export tasks, through `routines.exports.service`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from routines.api.errors import ERROR_RESPONSES, MAX_ID, ApiError, not_found
from routines.api.security import bearer, current_user, run_authenticated, session
from routines.api.tokens import Principal
from routines.errors import UserError
from routines.exports import service
from routines.exports.models import ExportTask
from routines.exports.registry import EXPORT_TYPES
from routines.files import FileStore

router = APIRouter(prefix="/api/tasks", tags=["tarefas"], responses=ERROR_RESPONSES)
TaskId = Annotated[int, Path(ge=1, le=MAX_ID)]
Status = Literal["pending", "processing", "completed", "failed", "cancelled"]
MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf",
    "csv": "text/csv; charset=utf-8",
    "zip": "application/zip",
}


class TaskOut(BaseModel):
    id: int
    task_type: str
    title: str
    status: Status
    progress: int
    progress_message: str | None
    payload: dict[str, Any]
    priority: int
    attempts: int
    file_name: str | None
    file_size: int | None
    can_download: bool
    result: dict[str, Any] | None
    error_message: str | None
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None


class TaskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    task_type: str = Field(description="tipo da tarefa: " + ", ".join(EXPORT_TYPES))
    payload: dict[str, Any] = Field(default_factory=dict)
    priority: int = Field(0, ge=-1000, le=1000)


class Summary(BaseModel):
    total: int
    pending: int
    processing: int
    completed: int
    failed: int
    cancelled: int
    files_available: int


class Message(BaseModel):
    mensagem: str


def task_out(task: ExportTask) -> TaskOut:
    kind = EXPORT_TYPES.get(task.task_type)
    return TaskOut(
        id=task.id, task_type=task.task_type, title=kind.title if kind else task.task_type, status=task.status,
        progress=task.progress, progress_message=task.progress_message, payload=task.payload or {},
        priority=task.priority, attempts=task.attempts, file_name=task.file_name if task.downloadable else None,
        file_size=task.file_size if task.downloadable else None, can_download=task.downloadable,
        result=task.result, error_message=task.error_message, created_at=task.created_at,
        started_at=task.started_at, finished_at=task.finished_at,
    )  # fmt: skip


def own_task(db: Session, user: Principal, task_id: int) -> ExportTask:
    """The caller's task; anyone else's answers 404 like a task that does not exist."""
    task = db.get(ExportTask, task_id)
    if task is None or task.user_id != user.user_id or task.company_id != user.company_id:
        raise not_found("tarefa", task_id)
    return task


@router.get("/", response_model=list[TaskOut], summary="As tarefas do usuário, mais novas primeiro")
def list_tasks(
    status: Status | None = None,
    is_file_task: bool | None = None,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=MAX_ID),
    user: Principal = Depends(current_user),
    db: Session = Depends(session),
):
    tasks = service.list_tasks(
        db, user_id=user.user_id, status=status, is_file_task=is_file_task, limit=limit, offset=offset
    )
    return [task_out(task) for task in tasks]


@router.post("/", response_model=TaskOut, status_code=201, summary="Pede uma tarefa (tipo + payload)")
def create_task(body: TaskIn, user: Principal = Depends(current_user), db: Session = Depends(session)):
    try:
        task = service.create_task(
            db, task_type=body.task_type, user=user.user_id, payload=body.payload, priority=body.priority
        )
    except UserError as exc:
        field = getattr(exc, "field", None)
        if str(exc).startswith("task_type"):
            field = "task_type"
        raise ApiError(422, str(exc), field or "payload") from None
    return task_out(task)


@router.get(
    "/summary/",
    response_model=Summary,
    summary="Totais por situação e arquivos disponíveis",
    dependencies=[Depends(bearer)],
)
async def summary(request: Request):
    return await run_in_threadpool(
        run_authenticated, request, lambda db, user: service.task_summary(db, user.user_id)
    )


@router.get("/{task_id}/", response_model=TaskOut)
def get_task(task_id: TaskId, user: Principal = Depends(current_user), db: Session = Depends(session)):
    return task_out(own_task(db, user, task_id))


@router.get(
    "/{task_id}/download/",
    response_class=FileResponse,
    responses={200: {"content": {t: {} for t in MEDIA_TYPES.values()}, "description": "O arquivo"}},
    summary="Baixa o arquivo da tarefa",
)
def download(
    task_id: TaskId, request: Request, user: Principal = Depends(current_user), db: Session = Depends(session)
):
    task = own_task(db, user, task_id)
    if not task.downloadable:
        raise ApiError(409, f"a tarefa {task_id} não tem arquivo para baixar ({task.status})")
    path = FileStore(request.app.state.config.file_store_root).path(task.file_key)
    if not path.is_file():
        raise ApiError(409, f"o arquivo da tarefa {task_id} não está mais no armazenamento")
    extension = task.file_name.rsplit(".", 1)[-1].lower() if "." in task.file_name else ""
    return FileResponse(
        path, media_type=MEDIA_TYPES.get(extension, "application/octet-stream"), filename=task.file_name
    )


@router.delete("/{task_id}/delete_file/", response_model=TaskOut, summary="Apaga o arquivo da tarefa")
def delete_file(
    task_id: TaskId, request: Request, user: Principal = Depends(current_user), db: Session = Depends(session)
):
    from routines.database.engine import get_engine
    from routines.exports.cleanup import remove_task_file

    task = own_task(db, user, task_id)
    if not task.downloadable:
        raise ApiError(409, f"a tarefa {task_id} não tem arquivo para apagar ({task.status})")
    db.rollback()  # the removal runs in its own transaction
    store = FileStore(request.app.state.config.file_store_root)
    try:
        removed = remove_task_file(get_engine(request.app.state.config.database_url), store, task_id)
    except UserError as exc:
        raise ApiError(409, str(exc)) from None
    return task_out(removed)


@router.post(
    "/{task_id}/cancel/", response_model=TaskOut, summary="Cancela uma tarefa pendente ou em andamento"
)
def cancel(task_id: TaskId, user: Principal = Depends(current_user), db: Session = Depends(session)):
    own_task(db, user, task_id)
    try:
        return task_out(service.cancel_task(db, task_id))
    except UserError as exc:
        raise ApiError(409, str(exc)) from None


@router.post(
    "/{task_id}/retry/", response_model=TaskOut, summary="Tenta de novo uma tarefa falha ou cancelada"
)
def retry(task_id: TaskId, user: Principal = Depends(current_user), db: Session = Depends(session)):
    own_task(db, user, task_id)
    try:
        return task_out(service.retry_task(db, task_id))
    except UserError as exc:
        raise ApiError(409, str(exc)) from None
