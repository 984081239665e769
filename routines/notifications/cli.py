"""`routines notifications ...`: read and acknowledge notifications (a user's with --user)."""

from __future__ import annotations

import argparse
from zoneinfo import ZoneInfo

from routines import TIMEZONE


def _user_id(session, reference: str | None) -> int | None:
    from routines.companies.users import find_user

    return find_user(session, reference).id if reference else None


def _list(args: argparse.Namespace) -> int:
    from routines.database.engine import get_engine, session_scope
    from routines.notifications.service import list_notifications

    with session_scope(get_engine(args.url)) as session:
        rows = list_notifications(
            session, user_id=_user_id(session, args.user), unread_only=args.unread, limit=args.limit
        )
        for row in rows:
            when = row.created_at.astimezone(ZoneInfo(TIMEZONE)).strftime("%d/%m/%Y %H:%M")
            state = "lida" if row.is_read else "NOVA"
            link = f"\t{row.link_text or 'link'}: {row.link_url}" if row.link_url else ""
            print(f"{row.id}\t{when}\t{state}\t{row.kind}\t{row.title}\t{row.message}{link}")
    return 0


def _mark_read(args: argparse.Namespace) -> int:
    from routines.database.engine import get_engine, session_scope
    from routines.errors import UserError
    from routines.notifications.service import mark_read

    if not args.ids and not args.all:
        raise UserError("give notification ids or --all")
    with session_scope(get_engine(args.url)) as session:
        count = mark_read(session, None if args.all else args.ids, user_id=_user_id(session, args.user))
    print(f"{count} marked as read")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("notifications", help="notifications for people (tasks, failed routines)")
    commands = group.add_subparsers(dest="notifications_command", required=True, metavar="{list,mark-read}")
    listing = commands.add_parser("list", help="newest first: id, time, state, kind, title, message, link")
    listing.add_argument("--unread", action="store_true", help="only unread ones")
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(handler=_list)
    read = commands.add_parser("mark-read", help="mark notifications as read")
    read.add_argument("ids", nargs="*", type=int)
    read.add_argument("--all", action="store_true", help="every unread notification")
    read.set_defaults(handler=_mark_read)
    for parser in (listing, read):
        parser.add_argument("--user", help="only this user's notifications (id or e-mail)")
        parser.add_argument(
            "--url", help="database URL (default: ROUTINES_DATABASE_URL or the embedded SQLite)"
        )
