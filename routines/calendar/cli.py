"""`routines calendar ...` subcommands (thin: they call the same `Calendar` the assets and schedules use)."""

from __future__ import annotations

import argparse
import re
from datetime import date

from routines.errors import UserError

DEFAULT_CALENDAR = "ANBIMA"


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UserError(f"invalid date {text!r}: expected YYYY-MM-DD") from None


def _calendar(name: str):
    from routines.calendar import get_calendar

    return get_calendar(name)


def _guard(function, *args):
    """Run a calendar operation, turning a bad argument (e.g. out-of-range year) into a UserError."""
    try:
        return function(*args)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _is_business_day(args: argparse.Namespace) -> int:
    calendar, day = _calendar(args.calendar), _date(args.date)
    reason = _guard(calendar.closed_reason, day)
    if reason is None:
        print(f"{day.isoformat()}: dia útil ({calendar.name})")
        return 0
    print(f"{day.isoformat()}: não é dia útil ({calendar.name}): {reason}")
    return 1


def _list(args: argparse.Namespace) -> int:
    calendar, start, end = _calendar(args.calendar), _date(args.start), _date(args.end)
    if end < start:
        raise UserError(f"--end {end.isoformat()} is before --start {start.isoformat()}")
    for day in _guard(calendar.business_days, start, end):
        print(day.isoformat())
    return 0


def _holidays(args: argparse.Namespace) -> int:
    calendar = _calendar(args.calendar)
    for day, name in _guard(calendar.holidays, args.year):
        print(f"{day.isoformat()}\t{name}")
    return 0


def _nth(args: argparse.Namespace) -> int:
    calendar = _calendar(args.calendar)
    match = re.fullmatch(r"(\d{4})-(\d{2})", args.month.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise UserError(f"invalid month {args.month!r}: expected YYYY-MM")
    if args.n == 0:
        raise UserError("N must be >= 1 (from the start of the month) or <= -1 (from the end; -1 = last)")
    print(_guard(calendar.nth_business_day, int(match.group(1)), int(match.group(2)), args.n).isoformat())
    return 0


def _add(args: argparse.Namespace) -> int:
    calendar, day = _calendar(args.calendar), _date(args.date)
    print(_guard(calendar.offset, day, args.n).isoformat())
    return 0


def _set_day(args: argparse.Namespace) -> int:
    from routines import settings
    from routines.calendar.company import upsert_calendar_day
    from routines.calendar.registry import clear_calendar_cache
    from routines.database.engine import get_engine, session_scope

    day = _date(args.date)
    with session_scope(get_engine(args.url or settings.database_url())) as session:
        upsert_calendar_day(
            session, args.calendar, day, args.status, args.reason, base=args.base, company_code=args.company
        )
    clear_calendar_cache()
    word = "fechado" if args.status == "closed" else "aberto"
    print(f"{args.calendar.upper()}: {day.isoformat()} {word} ({args.reason.strip()})")
    return 0


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this domain's subcommands to the `routines` parser."""
    parser = subparsers.add_parser(
        "calendar",
        help="business-day calendars (ANBIMA, B3, BR, BR-<UF>, company calendars)",
        description="Business days of the named calendars. Exit status of is-business-day: 0 yes, 1 no.",
    )
    commands = parser.add_subparsers(dest="calendar_command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str, handler) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument(
            "--calendar", default=DEFAULT_CALENDAR, help=f"calendar name (default {DEFAULT_CALENDAR})"
        )
        sub.set_defaults(handler=handler)
        return sub

    sub = command(
        "is-business-day", "is DATE a business day? exit 0 yes, 1 no (prints why)", _is_business_day
    )
    sub.add_argument("date", help="YYYY-MM-DD")
    sub = command("list", "business days from --start to --end (inclusive), one ISO date per line", _list)
    sub.add_argument("--start", required=True, help="YYYY-MM-DD")
    sub.add_argument("--end", required=True, help="YYYY-MM-DD")
    sub = command("holidays", "holidays of a year (date and name), weekend ones included", _holidays)
    sub.add_argument("--year", required=True, type=_int, help="YYYY")
    sub = command("nth", "the Nth business day of a month (N < 0 counts from the end: -1 = last)", _nth)
    sub.add_argument("--month", required=True, help="YYYY-MM")
    sub.add_argument("n", type=_int, metavar="N")
    sub = command("add", "DATE plus N business days (N < 0: before)", _add)
    sub.add_argument("date", help="YYYY-MM-DD")
    sub.add_argument("n", type=_int, metavar="N")
    sub = command(
        "set-day",
        "close or open a day in a company calendar of the business database (creates the calendar with --base)",
        _set_day,
    )
    sub.add_argument("date", help="YYYY-MM-DD")
    sub.add_argument("status", choices=["closed", "open"])
    sub.add_argument("reason", help="reason shown to users (pt-BR), e.g. 'Recesso de fim de ano'")
    sub.add_argument("--base", help="base calendar when creating the company calendar (e.g. ANBIMA)")
    sub.add_argument("--company", help="code of the company the calendar belongs to (e.g. BEG)")
    sub.add_argument("--url", help="database URL (default: ROUTINES_DATABASE_URL or the embedded SQLite)")
