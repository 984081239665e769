"""E-mail through a real SMTP server on loopback (aiosmtpd); passwords encrypted at rest."""

import smtplib

import pytest

from routines.reports import secrets
from routines.reports.mail import Attachment, MailError, SmtpConfig, build_message, send_message
from routines_tests.reports.conftest import free_port


def config(port: int, **kwargs) -> SmtpConfig:
    values = {"company_id": 1, "host": "127.0.0.1", "port": port, "security": "none",
              "from_address": "relatorios@beg.com.br", "from_name": "Relatórios BEG", "timeout": 5}  # fmt: skip
    values.update(kwargs)
    return SmtpConfig(**values)


def message(smtp: SmtpConfig):
    attachment = Attachment("relatório.csv", b"\xef\xbb\xbfa;b\r\n1;2\r\n", "text/csv")
    return build_message(smtp, ["a@beg.com.br"], ["b@beg.com.br"], "Relatório de março", "Olá, segue anexo.",
                         [attachment])  # fmt: skip


def test_message_is_delivered_with_recipients_and_attachment(smtp_server):
    smtp = config(smtp_server.port)
    message_id = send_message(smtp, message(smtp), ["a@beg.com.br", "b@beg.com.br"], sleep=lambda s: None)
    [received] = smtp_server.messages
    assert received.mail_from == "relatorios@beg.com.br"
    assert received.rcpt_tos == ["a@beg.com.br", "b@beg.com.br"]
    assert received.message["Subject"] == "Relatório de março"
    assert received.message["Message-ID"].strip() == message_id
    assert received.message["Cc"] == "b@beg.com.br"
    assert "Olá, segue anexo." in received.message.get_body(("plain",)).get_content()
    [part] = list(received.message.iter_attachments())
    assert part.get_filename() == "relatório.csv"
    assert part.get_content_type() == "text/csv"
    assert part.get_payload(decode=True) == b"\xef\xbb\xbfa;b\r\n1;2\r\n"


def test_transient_4xx_is_retried_with_backoff(smtp_server):
    smtp_server.handler.fail_next = 2
    delays = []
    smtp = config(smtp_server.port)
    send_message(smtp, message(smtp), ["a@beg.com.br"], attempts=3, base_delay=0.5, sleep=delays.append)
    assert delays == [0.5, 1.0]
    assert smtp_server.handler.attempts == 3
    assert len(smtp_server.messages) == 1


def test_permanent_5xx_is_not_retried(smtp_server):
    smtp_server.handler.fail_next = 5
    smtp_server.handler.fail_code = "554 5.7.1 Mensagem recusada"
    smtp = config(smtp_server.port)
    with pytest.raises(MailError, match="SMTP 554 5.7.1 Mensagem recusada") as error:
        send_message(smtp, message(smtp), ["a@beg.com.br"], attempts=3, sleep=lambda s: None)
    assert error.value.transient is False
    assert smtp_server.handler.attempts == 1


def test_server_down_fails_after_the_retries_with_a_clear_error():
    port = free_port()
    delays = []
    smtp = config(port)
    with pytest.raises(
        MailError, match=rf"127.0.0.1:{port} \(none\) after 3 attempts: ConnectionRefusedError"
    ):
        send_message(smtp, message(smtp), ["a@beg.com.br"], attempts=3, base_delay=1, sleep=delays.append)
    assert delays == [1, 2]


def test_login_failure_never_shows_the_password(smtp_server):
    # aiosmtpd without auth configured refuses AUTH: a permanent error; the password must not leak
    smtp = config(smtp_server.port, username="user", password="s3cr3t-Senha")
    with pytest.raises(MailError) as error:
        send_message(smtp, message(smtp), ["a@beg.com.br"], attempts=2, sleep=lambda s: None)
    assert "s3cr3t-Senha" not in str(error.value)
    assert "s3cr3t-Senha" not in repr(smtp)


def test_passwords_are_encrypted_with_the_env_key(monkeypatch):
    token = secrets.encrypt("minha senha")
    assert "minha senha" not in token
    assert secrets.decrypt(token) == "minha senha"
    monkeypatch.setenv("ROUTINES_SECRET_KEY", secrets.generate_key())
    with pytest.raises(
        secrets.SecretKeyError, match="cannot be decrypted with the current ROUTINES_SECRET_KEY"
    ):
        secrets.decrypt(token)
    monkeypatch.setenv("ROUTINES_SECRET_KEY", "uma frase secreta bem comprida")
    assert secrets.decrypt(secrets.encrypt("x")) == "x"
    monkeypatch.delenv("ROUTINES_SECRET_KEY")
    with pytest.raises(secrets.SecretKeyError, match="ROUTINES_SECRET_KEY is not set"):
        secrets.encrypt("x")


def test_smtplib_error_classes_are_classified():
    from routines.reports.mail import _is_transient

    assert _is_transient(smtplib.SMTPServerDisconnected("bye"))
    assert _is_transient(smtplib.SMTPResponseException(421, b"busy"))
    assert not _is_transient(smtplib.SMTPAuthenticationError(535, b"bad credentials"))
    assert not _is_transient(smtplib.SMTPRecipientsRefused({"a@x.com": (550, b"no such user")}))
    assert _is_transient(smtplib.SMTPRecipientsRefused({"a@x.com": (450, b"mailbox busy")}))
    assert not _is_transient(smtplib.SMTPNotSupportedError("SMTP AUTH extension not supported by server."))
    assert _is_transient(TimeoutError("timed out")) and _is_transient(ConnectionResetError())
