"""Fixtures of the alerts tests: real loopback servers for the channels (aiosmtpd SMTP, Slack and Teams
webhooks on http.server) configured as the default alert routes through their env vars."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from routines_tests.helpers import QuietHandler, serve
from routines_tests.reports.conftest import SmtpHandler, SmtpServer, free_port


class WebhookHandler(QuietHandler):
    """Records every POST body (JSON) under its path; answers 200 "ok" like Slack (Teams accepts any 2xx)."""

    def do_POST(self):  # noqa: N802 - http.server hook name
        length = int(self.headers.get("Content-Length", 0))
        payload = json.loads(self.rfile.read(length) or b"{}")
        with self.server.lock:
            self.server.posts.append((self.path, payload))
        self.send_body(200, b"ok" if self.path.startswith("/slack") else b"1", "text/plain")


@dataclass
class Channels:
    smtp: SmtpServer
    webhook_base: str
    server: object

    def posts(self, prefix: str) -> list[dict]:
        return [payload for path, payload in self.server.posts if path.startswith(prefix)]

    def slack_texts(self) -> list[str]:
        return [payload["text"] for payload in self.posts("/slack")]

    def teams_texts(self) -> list[str]:
        return [
            "\n".join(block["text"] for block in payload["attachments"][0]["content"]["body"])
            for payload in self.posts("/teams")
        ]


@pytest.fixture
def channels(monkeypatch) -> Iterator[Channels]:
    from aiosmtpd.controller import Controller

    handler = SmtpHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with serve(WebhookHandler, posts=[], lock=threading.Lock()) as (base_url, server):
            monkeypatch.setenv("ROUTINES_ALERT_SLACK_WEBHOOK_URL", f"{base_url}/slack/T000/B000/XXXX")
            monkeypatch.setenv("ROUTINES_ALERT_TEAMS_WEBHOOK_URL", f"{base_url}/teams/webhookb2/abc")
            monkeypatch.setenv("ROUTINES_ALERT_EMAIL_TO", "operacao@example.com.br")
            monkeypatch.setenv("ROUTINES_ALERT_SMTP_HOST", "127.0.0.1")
            monkeypatch.setenv("ROUTINES_ALERT_SMTP_PORT", str(port))
            monkeypatch.setenv("ROUTINES_ALERT_SMTP_SECURITY", "none")
            monkeypatch.setenv("ROUTINES_ALERT_SMTP_FROM", "rotinas@example.com.br")
            monkeypatch.setenv("ROUTINES_DAGSTER_UI_URL", "http://dagster.example:3000")
            yield Channels(SmtpServer("127.0.0.1", port, handler), base_url, server)
    finally:
        controller.stop()


# the reports domain's fixtures, for reports that wait for their data
from routines_tests.reports.conftest import (  # noqa: E402, F401
    companies,
    make_report,
    secret_key,
    smtp_for,
    smtp_server,
)
