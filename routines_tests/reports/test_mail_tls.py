"""STARTTLS and implicit TLS with login against a real aiosmtpd server (self-signed certificate trusted via
SSL_CERT_FILE), using the password decrypted from the company's SMTP settings."""

import datetime as dt
import ipaddress
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from routines.reports.mail import MailError, SmtpConfig, build_message, send_message
from routines_tests.reports.conftest import SmtpHandler, free_port


@pytest.fixture
def certificate(tmp_path, monkeypatch):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))  # the client trusts it through the default context
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_file, key_file)
    return server_context


class Credentials:
    def __init__(self):
        self.seen: list[tuple[str, str]] = []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.seen.append((login, password))
        return AuthResult(success=(login, password) == ("relatorios", "S3nha forte!"), handled=False)


def start(certificate, implicit_tls: bool):
    from aiosmtpd.controller import Controller

    handler, credentials = SmtpHandler(), Credentials()
    port = free_port()
    # PLAIN only, so that one login() is one authentication attempt
    kwargs = {"authenticator": credentials, "auth_required": True, "auth_exclude_mechanism": ["LOGIN"]}
    if implicit_tls:
        # the whole connection is TLS: aiosmtpd only needs to be told that AUTH is fine without STARTTLS
        controller = Controller(
            handler,
            hostname="127.0.0.1",
            port=port,
            ssl_context=certificate,
            auth_require_tls=False,
            **kwargs,
        )
    else:
        controller = Controller(
            handler, hostname="127.0.0.1", port=port, tls_context=certificate, require_starttls=True, **kwargs
        )
    controller.start()
    return controller, handler, credentials, port


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_login_over_tls_with_the_decrypted_password(certificate, security):
    from routines.reports import secrets

    controller, handler, credentials, port = start(certificate, implicit_tls=security == "tls")
    try:
        stored = secrets.encrypt("S3nha forte!")  # as kept in report_smtp_settings
        smtp = SmtpConfig(company_id=1, host="127.0.0.1", port=port, security=security,
                          from_address="relatorios@beg.com.br", username="relatorios",
                          password=secrets.decrypt(stored), timeout=5)  # fmt: skip
        message = build_message(smtp, ["a@beg.com.br"], [], "Teste TLS", "corpo", [])
        send_message(smtp, message, ["a@beg.com.br"], attempts=1)
        assert credentials.seen == [("relatorios", "S3nha forte!")]
        assert handler.messages[0].message["Subject"] == "Teste TLS"

        wrong = SmtpConfig(**{**smtp.__dict__, "password": "errada"})
        with pytest.raises(MailError) as error:
            send_message(wrong, message, ["a@beg.com.br"], attempts=3, sleep=lambda s: None)
        assert "535" in str(error.value) and "errada" not in str(error.value)
        assert len(credentials.seen) == 2  # authentication failures are not retried
    finally:
        controller.stop()


def test_plain_connection_to_a_starttls_only_server_is_refused(certificate):
    controller, handler, _, port = start(certificate, implicit_tls=False)
    try:
        smtp = SmtpConfig(company_id=1, host="127.0.0.1", port=port, security="none",
                          from_address="relatorios@beg.com.br", timeout=5)  # fmt: skip
        with pytest.raises(MailError, match="SMTP 530"):
            send_message(
                smtp, build_message(smtp, ["a@beg.com.br"], [], "x", "y", []), ["a@beg.com.br"], attempts=1
            )
        assert handler.messages == []
    finally:
        controller.stop()
