"""Alert routes (pure): which channels an alert goes to, and the quiet window / de-duplication.

A route sends to one channel (`email`, `slack`, `teams`) and matches alerts by the owners of the routine
(Dagster `owners`: e-mails or `team:name`) and/or its asset groups; a route with neither matches everything it is
not excluded from (a catch-all). When no route matches, the default routes apply (the env vars
ROUTINES_ALERT_EMAIL_TO, ROUTINES_ALERT_SLACK_WEBHOOK_URL, ROUTINES_ALERT_TEAMS_WEBHOOK_URL).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

CHANNELS = ("email", "slack", "teams")
DEFAULT_QUIET_MINUTES = 30
ENV_EMAIL_TO = "ROUTINES_ALERT_EMAIL_TO"
ENV_SLACK = "ROUTINES_ALERT_SLACK_WEBHOOK_URL"
ENV_TEAMS = "ROUTINES_ALERT_TEAMS_WEBHOOK_URL"
ENV_QUIET = "ROUTINES_ALERT_QUIET_MINUTES"


@dataclass(frozen=True)
class Route:
    name: str
    channel: str  # email | slack | teams
    target: str  # e-mail addresses (comma separated); for slack/teams the NAME of the env var with the URL
    owners: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    quiet_minutes: int = DEFAULT_QUIET_MINUTES

    def matches(self, owners: Iterable[str], groups: Iterable[str]) -> bool:
        if not self.owners and not self.groups:
            return True
        mine = {o.strip().lower() for o in self.owners}
        return bool(mine & {o.strip().lower() for o in owners}) or bool(set(self.groups) & set(groups))

    def webhook_url(self, environ: Mapping[str, str] | None = None) -> str:
        environ = os.environ if environ is None else environ
        url = environ.get(self.target, "").strip()
        if not url:
            raise ValueError(f"alert route {self.name!r}: env var {self.target} (webhook URL) is not set")
        return url


def default_routes(environ: Mapping[str, str] | None = None) -> list[Route]:
    environ = os.environ if environ is None else environ
    quiet = int(environ.get(ENV_QUIET, "").strip() or DEFAULT_QUIET_MINUTES)
    routes = []
    if environ.get(ENV_EMAIL_TO, "").strip():
        routes.append(Route("default-email", "email", environ[ENV_EMAIL_TO].strip(), quiet_minutes=quiet))
    if environ.get(ENV_SLACK, "").strip():
        routes.append(Route("default-slack", "slack", ENV_SLACK, quiet_minutes=quiet))
    if environ.get(ENV_TEAMS, "").strip():
        routes.append(Route("default-teams", "teams", ENV_TEAMS, quiet_minutes=quiet))
    return routes


def select_routes(
    routes: Iterable[Route], owners: Iterable[str], groups: Iterable[str], defaults: Iterable[Route]
) -> list[Route]:
    """The configured routes matching the alert's owners/groups; none matching: the defaults."""
    owners, groups = tuple(owners), tuple(groups)
    specific = [r for r in routes if (r.owners or r.groups) and r.matches(owners, groups)]
    catch_all = [r for r in routes if not r.owners and not r.groups]
    chosen = specific or catch_all
    return chosen if chosen else list(defaults)


def suppressed(last_sent: datetime | None, now: datetime, quiet_minutes: int) -> bool:
    """De-duplication and quiet window: the same (route, kind, subject) sent within the quiet window is not sent
    again (a flapping routine does not flood a channel)."""
    return last_sent is not None and now - last_sent < timedelta(minutes=quiet_minutes)
