"""URL, file name, header and body templates of catalog routines.

Placeholders, each with an optional strftime format after a colon (default ISO ``%Y-%m-%d``):

- ``{day}`` / ``{day:%d%m%Y}``: the partition's day (monthly partitions: the month's first day; without
  partitions: the business day of the run);
- ``{previous_business_day:...}`` / ``{next_business_day:...}``: of the routine's calendar;
- ``{month_end:...}``: the last calendar day of the day's month;
- ``{params.NAME}``: no, parameters are not templated: only days.

Header values and URLs may also hold ``${ENV_VAR}`` or ``${ENV_VAR:-default}``: the variable's value
(secrets never go in the YAML; a URL's host can point to a mirror).
Literal braces are written ``{{`` and ``}}``.
"""

from __future__ import annotations

import os
import re
from datetime import date, timedelta
from typing import Any

from routines.errors import UserError

PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([a-z_]+)(?::([^{}]*))?\}")
ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^{}]*))?\}")
NAMES = ("day", "previous_business_day", "next_business_day", "month_end")


def check_template(template: str) -> None:
    """Raise ValueError for an unknown placeholder (used by the schema's validation)."""
    for match in PLACEHOLDER.finditer(template):
        if match.group(0) in ("{{", "}}"):
            continue
        if match.group(1) not in NAMES:
            raise ValueError(f"unknown placeholder {{{match.group(1)}}}: use one of {', '.join(NAMES)}")


def render(template: str, day: date, calendar=None) -> str:
    """The template with its placeholders replaced for `day` (`calendar`: a routines Calendar)."""

    def value(name: str) -> date:
        if name == "day":
            return day
        if name == "month_end":
            following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
            return following - timedelta(days=1)
        if calendar is None:
            raise UserError(f"placeholder {{{name}}} needs a calendar")
        if name == "previous_business_day":
            return calendar.previous_business_day(day)
        return calendar.next_business_day(day)

    def replace(match: re.Match) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        name, fmt = match.group(1), match.group(2)
        if name not in NAMES:
            raise UserError(f"unknown placeholder {{{name}}} in {template!r}")
        return value(name).strftime(fmt or "%Y-%m-%d")

    return PLACEHOLDER.sub(replace, template)


def render_env(value: str, where: str = "header") -> str:
    """``${NAME}`` replaced by the environment variable; a missing variable is a UserError naming it."""

    def replace(match: re.Match) -> str:
        name = match.group(1)
        found = os.environ.get(name) or match.group(2)
        if found is None:
            raise UserError(f"{where}: environment variable {name} is not set")
        return found

    return ENV.sub(replace, value)


def render_body(body: Any, day: date, calendar=None) -> Any:
    """A JSON body with every string templated."""
    if isinstance(body, str):
        return render(body, day, calendar)
    if isinstance(body, list):
        return [render_body(item, day, calendar) for item in body]
    if isinstance(body, dict):
        return {key: render_body(item, day, calendar) for key, item in body.items()}
    return body
