"""`routines exports ...`: ask for files and actions, follow them, retry, cancel, clean up old files."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from zoneinfo import ZoneInfo

from routines import TIMEZONE


def _when(value) -> str:
    return value.astimezone(ZoneInfo(TIMEZONE)).strftime("%d/%m/%Y %H:%M:%S") if value else "-"


def _payload_text(raw: str) -> str:
    from routines.errors import UserError

    if raw.startswith("@"):
        path = Path(raw[1:])
        if not path.is_file():
            raise UserError(f"--payload {raw}: no such file")
        return path.read_text(encoding="utf-8")
    return raw


def _request(args: argparse.Namespace) -> int:
    from routines.database.engine import get_engine, session_scope
    from routines.exports.service import create_task

    with session_scope(get_engine(args.url)) as session:
        task = create_task(
            session,
            task_type=args.type,
            user=args.user,
            payload=_payload_text(args.payload),
            priority=args.priority,
        )
        print(f"task {task.id}: {task.task_type} pending for {task.user.email} ({task.company.code})")
    return 0


def _list(args: argparse.Namespace) -> int:
    from routines.companies.users import find_user
    from routines.database.engine import get_engine, session_scope
    from routines.exports.service import list_tasks

    with session_scope(get_engine(args.url)) as session:
        user_id = find_user(session, args.user).id if args.user else None
        tasks = list_tasks(
            session, user_id=user_id, company_code=args.company, status=args.status, limit=args.limit
        )
        for task in tasks:
            file = task.file_name if task.downloadable else ("(removido)" if task.file_removed_at else "")
            print(
                f"{task.id}\t{_when(task.created_at)}\t{task.task_type}\t{task.status}\t{task.progress}%\t"
                f"{task.company.code}\t{task.user.email}\t{file}"
            )
        if not tasks:
            print("no tasks")
    return 0


def _show(args: argparse.Namespace) -> int:
    from routines.database.engine import get_engine, session_scope
    from routines.exports.service import get_task

    with session_scope(get_engine(args.url)) as session:
        task = get_task(session, args.id)
        lines = [
            ("task", task.id), ("type", task.task_type), ("status", task.status),
            ("progress", f"{task.progress}% {task.progress_message or ''}".strip()),
            ("user", f"{task.user.name} <{task.user.email}>"), ("company", task.company.code),
            ("priority", task.priority), ("payload", json.dumps(task.payload, ensure_ascii=False)),
            ("created", _when(task.created_at)), ("started", _when(task.started_at)),
            ("finished", _when(task.finished_at)), ("attempts", task.attempts),
            ("dagster run", f"{task.dagster_run_id or '-'} (key {task.dagster_run_key or '-'})"),
        ]  # fmt: skip
        if task.file_key:
            lines += [("file", task.file_name), ("file key", task.file_key), ("file size", task.file_size),
                      ("file sha256", task.file_sha256), ("downloadable", "yes" if task.downloadable else
                      f"no (removed {_when(task.file_removed_at)})" if task.file_removed_at else "no")]  # fmt: skip
        if task.result:
            lines.append(("result", json.dumps(task.result, ensure_ascii=False)))
        if task.error_message:
            lines.append(("error", task.error_message))
        for label, value in lines:
            print(f"{label}:\t{value}")
    return 0


def _retry(args: argparse.Namespace) -> int:
    from routines.database.engine import get_engine, session_scope
    from routines.exports.service import retry_task

    with session_scope(get_engine(args.url)) as session:
        task = retry_task(session, args.id)
        print(f"task {task.id}: pending again (a new run starts on the sensor's next tick)")
    return 0


def _cancel(args: argparse.Namespace) -> int:
    from routines.database.engine import get_engine, session_scope
    from routines.exports.service import cancel_task

    with session_scope(get_engine(args.url)) as session:
        task = cancel_task(session, args.id)
        then = "; its Dagster run is cancelled on the sensor's next tick" if task.run_cancel_requested else ""
        print(f"task {task.id}: cancelled{then}")
    return 0


def _cleanup(args: argparse.Namespace) -> int:
    from routines import settings
    from routines.database.engine import get_engine
    from routines.exports.cleanup import cleanup_task_files
    from routines.files import FileStore

    store = FileStore(args.file_store or settings.file_store_root())
    report = cleanup_task_files(get_engine(args.url), store, days=args.days, dry_run=args.dry_run)
    for removed in report.files:
        print(removed.line())
    print(report.summary())
    return 0


def _types(args: argparse.Namespace) -> int:
    from routines.exports.registry import EXPORT_TYPES

    for kind in EXPORT_TYPES.values():
        fields = ", ".join(kind.payload.model_fields)
        print(f"{kind.name}\t{kind.formats}\t{kind.title}\tpayload: {fields}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("exports", help="export tasks: files and actions people ask for")
    commands = group.add_subparsers(
        dest="exports_command", required=True, metavar="{request,list,show,retry,cancel,cleanup,types}"
    )
    request = commands.add_parser("request", help="queue a task (validated now; run by Dagster)")
    request.add_argument("type", help="task type (see `routines exports types`)")
    request.add_argument(
        "--user", required=True, help="the user asking (id or e-mail); the task is of their company"
    )
    request.add_argument("--payload", default="{}", help="JSON object, or @FILE holding it")
    request.add_argument("--priority", type=int, default=0, help="higher runs first (Dagster run priority)")
    request.set_defaults(handler=_request)
    listing = commands.add_parser(
        "list", help="newest first: id, created, type, status, progress, company, user, file"
    )
    listing.add_argument("--user", help="only this user's tasks (id or e-mail)")
    listing.add_argument("--company", help="only this company's tasks (code)")
    listing.add_argument("--status", choices=("pending", "processing", "completed", "failed", "cancelled"))
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(handler=_list)
    show = commands.add_parser("show", help="everything about one task")
    show.add_argument("id", type=int)
    show.set_defaults(handler=_show)
    retry = commands.add_parser("retry", help="a failed or cancelled task runs again")
    retry.add_argument("id", type=int)
    retry.set_defaults(handler=_retry)
    cancel = commands.add_parser("cancel", help="cancel a pending or processing task (and its Dagster run)")
    cancel.add_argument("id", type=int)
    cancel.set_defaults(handler=_cancel)
    cleanup = commands.add_parser("cleanup", help="remove task files older than N days")
    cleanup.add_argument("--days", type=int, default=30)
    cleanup.add_argument("--dry-run", action="store_true", help="list what would be removed, change nothing")
    cleanup.add_argument("--file-store", help="file store root (default: ROUTINES_FILE_STORE_ROOT)")
    cleanup.set_defaults(handler=_cleanup)
    types = commands.add_parser("types", help="the export types, their files and payload fields")
    types.set_defaults(handler=_types)
    for parser in (request, listing, show, retry, cancel, cleanup):
        parser.add_argument(
            "--url", help="database URL (default: ROUTINES_DATABASE_URL or the embedded SQLite)"
        )
