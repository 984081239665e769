"""E-mail of a report through its company's own SMTP server. Pure Python (smtplib), no Dagster.

Transient failures (connection errors, timeouts, 4xx SMTP replies) are retried with exponential backoff;
permanent ones (5xx, authentication) fail at once. The password never appears in messages or logs.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid

from routines.errors import UserError
from routines.retry import retry_call

log = logging.getLogger(__name__)


class MailError(UserError):
    """The e-mail could not be sent; `transient` tells whether retrying later may help."""

    def __init__(self, message: str, transient: bool = False):
        self.transient = transient
        super().__init__(message)


@dataclass(frozen=True)
class SmtpConfig:
    company_id: int
    host: str
    port: int
    security: str  # none | starttls | tls
    from_address: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    from_name: str | None = None
    timeout: float = 30.0

    def describe(self) -> str:
        return f"{self.host}:{self.port} ({self.security})"


@dataclass(frozen=True)
class Attachment:
    filename: str
    data: bytes
    mime_type: str


def build_message(
    smtp: SmtpConfig,
    to: list[str],
    cc: list[str],
    subject: str,
    body: str,
    attachments: list[Attachment],
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = formataddr((smtp.from_name, smtp.from_address)) if smtp.from_name else smtp.from_address
    message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    domain = smtp.from_address.rsplit("@", 1)[-1] or None
    message["Message-ID"] = make_msgid(domain=domain)
    message.set_content(body, charset="utf-8")
    for attachment in attachments:
        maintype, _, subtype = attachment.mime_type.partition("/")
        message.add_attachment(
            attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    return message


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return False
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    if isinstance(
        exc, (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, ConnectionError, socket.timeout)
    ):
        return True
    if isinstance(exc, (smtplib.SMTPException, ssl.SSLError)):  # e.g. AUTH not offered, bad certificate
        return False
    return isinstance(exc, OSError)  # network errors


def _describe(exc: BaseException, smtp: SmtpConfig) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        detail = (
            exc.smtp_error.decode("utf-8", "replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        text = f"SMTP {exc.smtp_code} {detail}"
    elif isinstance(exc, smtplib.SMTPRecipientsRefused):
        text = "recipients refused: " + ", ".join(f"{r} ({c})" for r, (c, _) in exc.recipients.items())
    else:
        text = f"{type(exc).__name__}: {exc}"
    if smtp.password:
        text = text.replace(smtp.password, "***")
    return text


def _send_once(smtp: SmtpConfig, message: EmailMessage, recipients: list[str]) -> None:
    context = ssl.create_default_context()
    if smtp.security == "tls":
        client: smtplib.SMTP = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout, context=context)
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
    try:
        client.ehlo()
        if smtp.security == "starttls":
            client.starttls(context=context)
            client.ehlo()
        if smtp.username:
            client.login(smtp.username, smtp.password or "")
        refused = client.send_message(message, from_addr=smtp.from_address, to_addrs=recipients)
        if refused:
            raise smtplib.SMTPRecipientsRefused(refused)
    finally:
        try:
            client.quit()
        except Exception:  # noqa: BLE001 - the message was handed over (or not) already
            client.close()


def send_message(
    smtp: SmtpConfig,
    message: EmailMessage,
    recipients: list[str],
    attempts: int = 4,
    base_delay: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Send; returns the Message-ID. Retries transient errors `attempts` times in all with 2^n backoff."""

    def warn(exc: Exception, attempt: int, delay: float) -> None:
        detail = _describe(exc, smtp)
        log.warning(
            "SMTP %s: %s; retry %d/%d in %.1fs", smtp.describe(), detail, attempt, attempts - 1, delay
        )

    try:
        retry_call(
            lambda: _send_once(smtp, message, recipients),
            _is_transient,
            attempts=attempts,
            base_delay=base_delay,
            max_delay=float("inf"),
            jitter=False,
            sleep=sleep,
            on_retry=warn,
        )
    except Exception as exc:  # noqa: BLE001 - classified below
        detail = _describe(exc, smtp)
        if not _is_transient(exc):
            raise MailError(f"e-mail not sent via {smtp.describe()}: {detail}", transient=False) from None
        raise MailError(
            f"e-mail not sent via {smtp.describe()} after {attempts} attempts: {detail}", transient=True
        ) from None
    return str(message["Message-ID"])
