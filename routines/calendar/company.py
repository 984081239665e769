"""Company calendars: a base calendar plus extra closed days and extra open days, without code changes.

Two sources, looked up in this order by `get_calendar(name)`:

1. A TOML file ``$ROUTINES_CALENDARS_DIR/<NAME>.toml`` (default folder ``$ROUTINES_HOME/calendars``)::

       base = "ANBIMA"                       # required: any calendar name (built-in or another company one)
       description = "Calendário da BEG"     # optional
       [closed]                              # extra closed days: date = reason (pt-BR)
       2025-12-26 = "Recesso de fim de ano"
       [open]                                # extra open days (also a Saturday): date = reason
       2025-11-20 = "Expediente normal"

2. The business database: table ``business_calendars`` (name, base_calendar, description, company) and
   ``business_calendar_days`` (day, status 'closed'/'open', reason); see `routines.calendar.models`.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from routines import settings
from routines.calendar.core import Calendar
from routines.errors import InputFileError

CLOSED = "closed"
OPEN = "open"
NAME_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9_.-]{0,39}$")


@dataclass
class CompanyCalendarSpec:
    name: str
    base: str
    description: str = ""
    closed: dict[date, str] = field(default_factory=dict)
    open: dict[date, str] = field(default_factory=dict)
    source: str = ""

    def build(self, resolve_base: Callable[[str], Calendar]) -> Calendar:
        base = resolve_base(self.base)
        closed = {**base.extra_closed, **self.closed}
        opened = {**base.extra_open, **self.open}
        for day in self.closed:
            opened.pop(day, None)
        for day in self.open:
            closed.pop(day, None)
        return Calendar(
            self.name,
            base._holidays_of_year,  # noqa: SLF001 - same holiday source as the base
            description=self.description or f"{self.name} (base {base.name})",
            extra_closed=closed,
            extra_open=opened,
            weekmask=base.weekdays,
        )


def calendars_dir() -> Path:
    """$ROUTINES_CALENDARS_DIR, default $ROUTINES_HOME/calendars."""
    folder = os.environ.get("ROUTINES_CALENDARS_DIR", "").strip()
    return Path(folder).resolve() if folder else settings.routines_home() / "calendars"


def _line_of(text: str, needle: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip().startswith(needle):
            return number
    return None


def read_calendar_file(path: Path, name: str | None = None) -> CompanyCalendarSpec:
    """Parse a company calendar file; errors name the file, line and field."""
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError(shown, f"not UTF-8 text ({exc.reason})") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"\s*\(at line (\d+), column \d+\)", str(exc))
        line = int(found.group(1)) if found else getattr(exc, "lineno", None)
        reason = str(exc)[: found.start()] if found else str(exc)
        raise InputFileError(shown, f"invalid TOML: {reason}", line=line) from exc
    known = {"base", "description", "closed", "open", "name"}
    for key in data:
        if key not in known:
            raise InputFileError(
                shown, f"unknown field (use {', '.join(sorted(known))})", _line_of(text, key), key
            )
    base = data.get("base")
    if not isinstance(base, str) or not base.strip():
        raise InputFileError(
            shown, 'missing base calendar (e.g. base = "ANBIMA")', _line_of(text, "base"), "base"
        )
    description = data.get("description", "")
    if not isinstance(description, str):
        raise InputFileError(shown, "must be text", _line_of(text, "description"), "description")
    spec = CompanyCalendarSpec(
        name=(name or str(data.get("name") or path.stem)).upper(),
        base=base.strip().upper(),
        description=description,
        source=shown,
    )
    for section in (CLOSED, OPEN):
        table = data.get(section, {})
        if not isinstance(table, dict):
            raise InputFileError(shown, "must be a table [closed] / [open]", _line_of(text, section), section)
        target = spec.closed if section == CLOSED else spec.open
        for key, reason in table.items():
            key_text = key if isinstance(key, str) else str(key)
            line = _line_of(text, key_text) or _line_of(text, f'"{key_text}"')
            try:
                day = date.fromisoformat(key_text)
            except ValueError:
                raise InputFileError(
                    shown, f"invalid date {key_text!r}: expected YYYY-MM-DD", line, section
                ) from None
            if not isinstance(reason, str) or not reason.strip():
                raise InputFileError(shown, "reason must be a non-empty text", line, f"{section}.{key_text}")
            target[day] = reason.strip()
    both = sorted(set(spec.closed) & set(spec.open))
    if both:
        raise InputFileError(
            shown, f"{both[0]} is both closed and open", _line_of(text, both[0].isoformat()), "open"
        )
    return spec


def _from_file(name: str) -> CompanyCalendarSpec | None:
    folder = calendars_dir()
    if not folder.is_dir():
        return None
    for path in folder.glob("*.toml"):
        if path.stem.upper() == name:
            return read_calendar_file(path, name)
    return None


def _from_database(name: str) -> CompanyCalendarSpec | None:
    from sqlalchemy import inspect, select
    from sqlalchemy.orm import Session

    from routines.calendar.models import BusinessCalendar
    from routines.database.engine import get_engine, sqlite_file

    url = settings.database_url()
    file = sqlite_file(url)
    if file is not None and not file.is_file():
        return None  # no business database yet: do not create one

    engine = get_engine(url)
    try:
        if not inspect(engine).has_table(BusinessCalendar.__tablename__):
            return None
    except Exception:  # noqa: BLE001 - unreachable database: the calendar is simply not there
        return None
    with Session(engine) as session:
        row = session.scalars(select(BusinessCalendar).where(BusinessCalendar.name == name)).one_or_none()
        if row is None:
            return None
        return spec_from_row(row)


def spec_from_row(row) -> CompanyCalendarSpec:
    spec = CompanyCalendarSpec(
        name=row.name, base=row.base_calendar, description=row.description or "", source="database"
    )
    for item in row.days:
        (spec.closed if item.status == CLOSED else spec.open)[item.day] = item.reason
    return spec


def load_company_calendar(name: str, resolve_base: Callable[[str], Calendar]) -> Calendar | None:
    """A company calendar from the calendars folder or the business database; None if neither has it."""
    spec = _from_file(name) or _from_database(name)
    if spec is None:
        return None
    if spec.base == name:
        raise InputFileError(spec.source, f"calendar {name} cannot be its own base", field="base")
    return spec.build(resolve_base)


def _builtin_exists(name: str) -> bool:
    from routines.calendar.registry import builtin_names

    return name in builtin_names()


def upsert_calendar_day(
    session,
    name: str,
    day: date,
    status: str,
    reason: str,
    *,
    base: str | None = None,
    description: str = "",
    company_code: str | None = None,
    replace: bool = True,
) -> int:
    """Add (or with `replace`, update) one day of a company calendar in the business database, creating the
    calendar when missing (then `base` is required). Links the company with code `company_code` when it exists.
    Returns the number of rows added (0-2)."""
    from sqlalchemy import select

    from routines.calendar.models import BusinessCalendar, BusinessCalendarDay
    from routines.companies.models import Company
    from routines.errors import UserError

    name = name.strip().upper()
    if not NAME_PATTERN.match(name):
        raise UserError(f"invalid calendar name {name!r}: letters, digits, '_', '-', '.' (up to 40)")
    if status not in (CLOSED, OPEN):
        raise UserError(f"invalid status {status!r}: use 'closed' or 'open'")
    if not reason.strip():
        raise UserError("the reason (pt-BR) must not be empty")
    added = 0
    calendar = session.scalars(select(BusinessCalendar).where(BusinessCalendar.name == name)).one_or_none()
    company = None
    if company_code:
        company = session.scalars(select(Company).where(Company.code == company_code)).one_or_none()
    if calendar is None:
        if not base:
            raise UserError(f"calendar {name} does not exist yet: give its base calendar (e.g. ANBIMA)")
        base = base.strip().upper()
        if base == name:
            raise UserError(f"calendar {name} cannot be its own base")
        known_in_database = session.scalars(
            select(BusinessCalendar.id).where(BusinessCalendar.name == base)
        ).first()
        if _builtin_exists(base) is False and known_in_database is None and _from_file(base) is None:
            raise UserError(
                f"unknown base calendar {base!r}: use ANBIMA, B3, BR, BR-<UF> or a company calendar"
            )
        calendar = BusinessCalendar(name=name, base_calendar=base, description=description)
        session.add(calendar)
        added += 1
    if company is not None and calendar.company_id is None:
        calendar.company_id = company.id
    existing = next((d for d in calendar.days if d.day == day), None)
    if existing is None:
        calendar.days.append(BusinessCalendarDay(day=day, status=status, reason=reason.strip()))
        added += 1
    elif replace:
        existing.status, existing.reason = status, reason.strip()
    session.flush()
    return added
