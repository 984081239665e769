"""Dispatching alerts (database + channels, no Dagster): routes, quiet window / de-duplication recorded in
`sent_alerts`, and a notification row for the people concerned (`routines.notifications.service`).

`dispatch(session, alert, now)`:
1. routes: the active `alert_routes` matching the routine's owners / groups (else the catch-all routes, else the
   default routes of the env vars), plus an e-mail to each owner that is a user (matched by e-mail);
2. for each route, unless the same (route, kind, subject) was sent within the route's quiet window: send, and
   record the attempt (sent / failed with its error) in `sent_alerts`;
3. notification rows (route `notifications`, same quiet window rule) for the routine's people
   (`routine_recipients`: owners that are users, else the admins of the routine's company).

A channel that fails does not stop the others; its error is returned and recorded.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from routines.alerts import channels
from routines.alerts.messages import Alert, body, title
from routines.alerts.models import AlertRoute, SentAlert
from routines.alerts.routing import (
    DEFAULT_QUIET_MINUTES,
    ENV_QUIET,
    Route,
    default_routes,
    select_routes,
    suppressed,
)

log = logging.getLogger(__name__)
NOTIFICATIONS_ROUTE = "notifications"


@dataclass
class DispatchResult:
    sent: list[str] = field(default_factory=list)  # route names
    suppressed: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    notifications: int = 0


def _split(text: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())


def configured_routes(session: Session) -> list[tuple[Route, int | None]]:
    rows = session.scalars(select(AlertRoute).where(AlertRoute.active.is_(True)).order_by(AlertRoute.id))
    return [
        (
            Route(r.name, r.channel, r.target, _split(r.owners), _split(r.groups), r.quiet_minutes),
            r.company_id,
        )
        for r in rows
    ]


def add_route(
    session: Session,
    name: str,
    channel: str,
    target: str,
    owners: tuple[str, ...] = (),
    groups: tuple[str, ...] = (),
    quiet_minutes: int = DEFAULT_QUIET_MINUTES,
    company_id: int | None = None,
) -> AlertRoute:
    if channel not in ("email", "slack", "teams"):
        raise ValueError(f"alert route {name!r}: channel {channel!r}: expected email, slack or teams")
    if channel != "email" and not target.isupper():
        raise ValueError(
            f"alert route {name!r}: target of a {channel} route is the NAME of the env var holding the webhook "
            f"URL (e.g. ROUTINES_ALERT_SLACK_FINANCE_URL), not the URL"
        )
    route = AlertRoute(
        name=name, channel=channel, target=target, owners=",".join(owners), groups=",".join(groups),
        quiet_minutes=quiet_minutes, company_id=company_id, active=True,
    )  # fmt: skip
    session.add(route)
    session.flush()
    return route


def last_sent(session: Session, route: str, kind: str, subject: str) -> datetime | None:
    return session.scalar(
        select(func.max(SentAlert.sent_at)).where(
            SentAlert.route == route,
            SentAlert.kind == kind,
            SentAlert.subject == subject,
            SentAlert.status == "sent",
        )
    )


def _smtp_for(session: Session, company_id: int | None, environ: Mapping[str, str]):
    smtp = channels.system_smtp(environ)
    if smtp is not None:
        return smtp
    if company_id is None:
        raise channels.ChannelError(
            "no SMTP for alerts: set ROUTINES_ALERT_SMTP_HOST (system SMTP) or the company's SMTP settings"
        )
    from routines.reports.service import load_smtp_config

    return load_smtp_config(session, company_id)


def _send(session, route: Route, company_id, alert: Alert, environ) -> None:
    if route.channel == "email":
        smtp = _smtp_for(session, company_id, environ)
        channels.send_email(smtp, list(_split(route.target)), alert)
    elif route.channel == "slack":
        channels.send_slack(route.webhook_url(environ), alert)
    else:
        channels.send_teams(route.webhook_url(environ), alert)


def owner_users(session: Session, owners: tuple[str, ...]):
    from routines.companies.models import User

    emails = sorted({o.strip().lower() for o in owners if "@" in o})
    if not emails:
        return []
    return list(
        session.scalars(
            select(User).where(func.lower(User.email).in_(emails), User.active.is_(True)).order_by(User.id)
        )
    )


def dispatch(
    session: Session,
    alert: Alert,
    now: datetime,
    environ: Mapping[str, str] | None = None,
    notify: bool = True,
) -> DispatchResult:
    """Send `alert` on its routes (see the module doc). `notify=False`: the caller writes the notification rows
    itself (failed runs: `record_failed_run`)."""
    from routines.notifications.service import notify as notify_one
    from routines.notifications.service import notify_users, routine_recipients

    environ = os.environ if environ is None else environ
    result = DispatchResult()
    configured = configured_routes(session)
    companies = {route.name: company_id for route, company_id in configured}
    routes = select_routes([r for r, _ in configured], alert.owners, alert.groups, default_routes(environ))
    quiet = int(environ.get(ENV_QUIET, "").strip() or DEFAULT_QUIET_MINUTES)
    for user in owner_users(session, alert.owners):
        name = f"user:{user.email.lower()}"
        routes.append(Route(name, "email", user.email, quiet_minutes=quiet))
        companies[name] = user.company_id
    subject = alert.key[:300]
    for route in routes:
        if suppressed(last_sent(session, route.name, alert.kind, subject), now, route.quiet_minutes):
            result.suppressed.append(route.name)
            continue
        try:
            _send(session, route, companies.get(route.name), alert, environ)
        except Exception as exc:  # noqa: BLE001 - one channel's failure never stops the others
            message = f"{type(exc).__name__}: {exc}" if not str(exc).startswith("e-mail") else str(exc)
            result.errors[route.name] = message
            log.warning("alert %s via %s not sent: %s", alert.kind, route.name, message)
            session.add(SentAlert(route=route.name, kind=alert.kind, subject=subject, status="failed",
                                  error=message[:2000], run_id=alert.run_id, sent_at=now))  # fmt: skip
            continue
        result.sent.append(route.name)
        session.add(SentAlert(route=route.name, kind=alert.kind, subject=subject, status="sent",
                              run_id=alert.run_id, sent_at=now))  # fmt: skip
    if notify:
        if suppressed(last_sent(session, NOTIFICATIONS_ROUTE, alert.kind, subject), now, quiet):
            result.suppressed.append(NOTIFICATIONS_ROUTE)
        else:
            fields = {
                "kind": alert.notification_kind,
                "title": title(alert),
                "message": body(alert),
                "run_id": alert.run_id,
                "link_url": alert.run_url,
                "link_text": "Abrir a execução no Dagster" if alert.run_url else None,
            }
            key = f"alert:{alert.kind}:{subject}:{now:%Y%m%dT%H%M%S}"[:180]
            people = routine_recipients(session, alert.owners, alert.company_code)
            rows = notify_users(session, people, dedup_key=key, **fields) if people else [
                notify_one(session, dedup_key=key, **fields)
            ]  # fmt: skip
            result.notifications = len(rows)
            session.add(SentAlert(route=NOTIFICATIONS_ROUTE, kind=alert.kind, subject=subject, status="sent",
                                  run_id=alert.run_id, sent_at=now))  # fmt: skip
    session.flush()
    return result


def open_misses(session: Session) -> set[str]:
    """Subjects (`asset:partition`) with a deadline miss alerted and no "regularizado" after it."""
    missed = dict(
        session.execute(
            select(SentAlert.subject, func.max(SentAlert.sent_at))
            .where(SentAlert.kind == "deadline_missed", SentAlert.status == "sent")
            .group_by(SentAlert.subject)
        ).all()
    )
    if not missed:
        return set()
    met = dict(
        session.execute(
            select(SentAlert.subject, func.max(SentAlert.sent_at))
            .where(SentAlert.kind == "deadline_met", SentAlert.status == "sent")
            .group_by(SentAlert.subject)
        ).all()
    )
    return {s for s, at in missed.items() if s not in met or met[s] < at}


def alerted_misses(session: Session, subjects: list[str]) -> set[str]:
    """Of these subjects, those whose miss was already alerted (ever): a miss is alerted once."""
    if not subjects:
        return set()
    return set(
        session.scalars(
            select(SentAlert.subject)
            .where(SentAlert.kind == "deadline_missed", SentAlert.subject.in_(subjects))
            .distinct()
        )
    )


def record_known_misses(session: Session, subjects: list[str], now: datetime) -> None:
    """Misses found by the deadline sensor's very first tick (a new deployment, a reset cursor): shown on the
    checks but not alerted (alerts are for misses that happen from now on), and never alerted later."""
    for subject in subjects:
        session.add(SentAlert(route="baseline", kind="deadline_missed", subject=subject[:300], status="suppressed",
                              sent_at=now))  # fmt: skip
    session.flush()
