"""`routines appointments ...`: close past appointments (or see what would be closed) and list them."""

from __future__ import annotations

import argparse
from zoneinfo import ZoneInfo

from routines import TIMEZONE
from routines.cli_types import at_least

URL_HELP = "database URL (default: ROUTINES_DATABASE_URL or the embedded SQLite)"


def _local(moment) -> str:
    return moment.astimezone(ZoneInfo(TIMEZONE)).strftime("%d/%m/%Y %H:%M")


def _close(args: argparse.Namespace) -> int:
    from routines.appointments import service
    from routines.database.base import utcnow
    from routines.database.engine import get_engine, session_scope

    engine = get_engine(args.url)
    now = utcnow()
    if args.dry_run:
        with session_scope(engine) as session:
            rows = service.due_appointments(session, now=now)
        for row in rows:
            print(f"would close {row.id}\t{_local(row.scheduled_at)}\t{row.booked_name}")
        print(f"dry run: {len(rows)} appointment(s) would be closed; nothing changed")
        return 0
    summary = service.close_past_appointments(engine, now=now, batch_size=args.batch_size)
    print(
        f"{summary.closed} appointment(s) closed, {summary.attendances} attendance(s) created "
        f"in {summary.batches} batch(es)"
    )
    return 0


def _list(args: argparse.Namespace) -> int:
    from routines.appointments import service
    from routines.companies.users import company_by_code
    from routines.database.engine import get_engine, session_scope

    with session_scope(get_engine(args.url)) as session:
        company_id = company_by_code(session, args.company).id if args.company else None
        rows = service.list_appointments(
            session, company_id=company_id, active_only=args.active, limit=args.limit
        )
    for row in rows:
        state = "ativo" if row.active else f"encerrado (atendimento {row.attendance_id or '-'})"
        print(
            f"{row.id}\t{_local(row.scheduled_at)}\t{state}\t{row.booked_name}\t{row.client_reference or ''}"
        )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("appointments", help="close past appointments into attendance records")
    commands = group.add_subparsers(dest="appointments_command", required=True, metavar="{close,list}")
    close = commands.add_parser(
        "close", help="close every active appointment whose time has passed (one attendance each)"
    )
    close.add_argument("--dry-run", action="store_true", help="list what would be closed; change nothing")
    close.add_argument("--batch-size", type=at_least(1), default=10_000, help="ids per transaction")
    close.set_defaults(handler=_close)
    listing = commands.add_parser("list", help="newest first: id, time, state, booked name, reference")
    listing.add_argument("--company", help="company code")
    listing.add_argument("--active", action="store_true", help="only active (not yet closed) ones")
    listing.add_argument("--limit", type=at_least(1), default=50)
    listing.set_defaults(handler=_list)
    for parser in (close, listing):
        parser.add_argument("--url", help=URL_HELP)
