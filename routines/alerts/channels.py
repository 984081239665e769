"""Alert channels: e-mail (system SMTP from ROUTINES_ALERT_SMTP_* or the owning company's SMTP, through
`routines.reports.mail`), Slack (incoming webhook, `slack_sdk` as used by dagster-slack) and Microsoft Teams
(webhook, dagster-msteams' `TeamsClient` and adaptive card). No Dagster run machinery."""

from __future__ import annotations

import os
from collections.abc import Mapping

from routines.alerts.messages import Alert, body, title
from routines.errors import UserError

SMTP_ENV = "ROUTINES_ALERT_SMTP_"


class ChannelError(UserError):
    pass


def system_smtp(environ: Mapping[str, str] | None = None):
    """The system SMTP from ROUTINES_ALERT_SMTP_HOST/_PORT/_SECURITY/_FROM/_USERNAME/_PASSWORD, or None."""
    from routines.reports.mail import SmtpConfig

    environ = os.environ if environ is None else environ
    host = environ.get(SMTP_ENV + "HOST", "").strip()
    if not host:
        return None
    security = environ.get(SMTP_ENV + "SECURITY", "starttls").strip() or "starttls"
    default_port = {"tls": 465, "starttls": 587}.get(security, 25)
    return SmtpConfig(
        company_id=0,
        host=host,
        port=int(environ.get(SMTP_ENV + "PORT", "").strip() or default_port),
        security=security,
        from_address=environ.get(SMTP_ENV + "FROM", "").strip() or "routines@localhost",
        username=environ.get(SMTP_ENV + "USERNAME") or None,
        password=environ.get(SMTP_ENV + "PASSWORD") or None,
        from_name="Rotinas",
        timeout=20.0,
    )


def send_email(smtp, to: list[str], alert: Alert, attempts: int = 2) -> str:
    from routines.reports.mail import build_message, send_message

    message = build_message(smtp, to, [], title(alert), body(alert), [])
    return send_message(smtp, message, to, attempts=attempts, base_delay=1.0)


def send_slack(url: str, alert: Alert) -> None:
    from slack_sdk.webhook import WebhookClient

    text = f"*{title(alert)}*\n{body(alert)}"
    response = WebhookClient(url, timeout=20).send(text=text)
    if response.status_code >= 300:
        raise ChannelError(f"Slack webhook answered {response.status_code}: {response.body[:200]}")


def send_teams(url: str, alert: Alert) -> None:
    from dagster_msteams.adaptive_card import AdaptiveCard
    from dagster_msteams.client import TeamsClient

    card = AdaptiveCard()
    card.add_attachment(f"**{title(alert)}**")
    card.add_attachment(body(alert).replace("\n", "\n\n"))
    try:
        TeamsClient(hook_url=url, timeout=20).post_message(card.payload)
    except Exception as exc:  # noqa: BLE001 - requests errors: one line naming the channel
        raise ChannelError(f"Teams webhook failed: {type(exc).__name__}: {str(exc)[:200]}") from None
