"""Passphrases stretched with scrypt, old SHA-256 tokens re-encrypted by `routines reports rotate-key`, and the
per-company allow-list of recipient domains (refused on save and on run, naming the address)."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, update

from routines.cli import main
from routines.database.engine import session_scope
from routines.files import FileStore
from routines.reports import secrets
from routines.reports.config import ReportsConfig
from routines.reports.models import ReportDefinition, SmtpSettings
from routines.reports.service import ReportRunError, load_smtp_config, run_execution, set_allowed_domains
from routines.reports.validation import ReportValidationError

PASSPHRASE = "uma frase secreta bem comprida"


def old_sha256_token(plain: str, passphrase: str) -> str:
    """What earlier versions stored for a passphrase key: Fernet keyed by a bare SHA-256 of it."""
    key = base64.urlsafe_b64encode(hashlib.sha256(passphrase.encode("utf-8")).digest())
    return Fernet(key).encrypt(plain.encode("utf-8")).decode("ascii")


def test_a_passphrase_is_stretched_with_scrypt_and_a_salt_per_password():
    first, second = secrets.encrypt("senha", PASSPHRASE), secrets.encrypt("senha", PASSPHRASE)
    assert first.startswith(f"scrypt${2**17}$8$1$") and first != second  # random salt per password
    salt = base64.urlsafe_b64decode(first.split("$")[4])
    key = hashlib.scrypt(PASSPHRASE.encode(), salt=salt, n=2**17, r=8, p=1, dklen=32, maxmem=256 * 2**20)
    assert Fernet(base64.urlsafe_b64encode(key)).decrypt(first.split("$", 5)[5].encode()) == b"senha"
    assert secrets.decrypt(first, PASSPHRASE) == secrets.decrypt(second, PASSPHRASE) == "senha"
    # the old bare-SHA-256 key does not open it
    legacy = Fernet(base64.urlsafe_b64encode(hashlib.sha256(PASSPHRASE.encode()).digest()))
    with pytest.raises(Exception):  # noqa: B017 - any refusal
        legacy.decrypt(first.split("$", 5)[5].encode())
    with pytest.raises(secrets.SecretKeyError, match="cannot be decrypted"):
        secrets.decrypt(first, "outra frase secreta comprida")
    with pytest.raises(secrets.SecretKeyError, match="too short"):
        secrets.encrypt("x", "curta")


def test_rotate_key_reencrypts_old_derivation_and_moves_to_a_new_key(
    db_url, engine, companies, monkeypatch, capsys
):
    monkeypatch.setenv("ROUTINES_SECRET_KEY", PASSPHRASE)
    with session_scope(engine) as session:
        for code, password in (("BEG", "senha-beg"), ("ACME", "senha-acme")):
            session.add(SmtpSettings(company_id=companies[code], host="smtp", port=587, security="starttls",
                                     from_address=f"r@{code.lower()}.com.br", timeout_seconds=30,
                                     password_encrypted=old_sha256_token(password, PASSPHRASE)))  # fmt: skip
    with session_scope(engine) as session:
        assert load_smtp_config(session, companies["BEG"]).password == "senha-beg"  # still readable
        assert all(
            secrets.uses_legacy_derivation(t)
            for t in session.scalars(select(SmtpSettings.password_encrypted))
        )

    assert main(["reports", "rotate-key"]) == 0  # same passphrase, new derivation
    assert "2 SMTP passwords re-encrypted" in capsys.readouterr().out
    with session_scope(engine) as session:
        tokens = list(session.scalars(select(SmtpSettings.password_encrypted)))
        assert all(t.startswith("scrypt$") and not secrets.uses_legacy_derivation(t) for t in tokens)
        assert load_smtp_config(session, companies["ACME"]).password == "senha-acme"

    new_key = secrets.generate_key()  # a new key: the old one is given by name, never on the command line
    monkeypatch.setenv("OLD_ROUTINES_KEY", PASSPHRASE)
    monkeypatch.setenv("ROUTINES_SECRET_KEY", new_key)
    assert main(["reports", "rotate-key", "--old-key-env", "OLD_ROUTINES_KEY"]) == 0
    with session_scope(engine) as session:
        assert load_smtp_config(session, companies["BEG"]).password == "senha-beg"
    # all or nothing: a password that cannot be decrypted stops it, naming the company, nothing changed
    with session_scope(engine) as session:
        session.execute(
            update(SmtpSettings)
            .where(SmtpSettings.company_id == companies["ACME"])
            .values(password_encrypted=old_sha256_token("x", "uma chave que ninguem conhece"))
        )
        before = list(session.scalars(select(SmtpSettings.password_encrypted).order_by(SmtpSettings.id)))
    monkeypatch.setenv("ROUTINES_SECRET_KEY", secrets.generate_key())
    monkeypatch.setenv("OLD_ROUTINES_KEY", new_key)
    assert main(["reports", "rotate-key", "--old-key-env", "OLD_ROUTINES_KEY"]) == 2
    assert f"SMTP password of company {companies['ACME']}" in capsys.readouterr().err
    with session_scope(engine) as session:
        assert (
            list(session.scalars(select(SmtpSettings.password_encrypted).order_by(SmtpSettings.id))) == before
        )


def test_recipients_outside_the_allowed_domains_are_refused_on_save_and_on_run(
    engine, companies, make_report, smtp_for, smtp_server, tmp_path, capsys, db_url
):
    assert (
        main(["reports", "domains", "--company", "BEG", "--add", "beg.com.br", "--add", "@Parceiro.com"]) == 0
    )
    assert "BEG reports may be sent to: beg.com.br, parceiro.com" in capsys.readouterr().out
    # on save: the address is named
    with pytest.raises(ReportValidationError) as error:
        make_report(recipients_to=["financeiro@beg.com.br"], recipients_cc=["espiao@gmail.com"])
    assert "field recipients: espiao@gmail.com is outside the domains allowed for company BEG" in str(
        error.value
    )
    report_id = make_report(
        recipients_to=["financeiro@beg.com.br", "a@contas.parceiro.com"], recipients_cc=[]
    )
    assert main(["reports", "add", "--company", "BEG", "--name", "X", "--query", "select 1", "--to",
                 "fora@gmail.com", "--cron", "0 7 * * *"]) == 2  # fmt: skip
    assert "fora@gmail.com is outside the domains allowed for company BEG" in capsys.readouterr().err
    # ACME has no list: any domain
    make_report("ACME", recipients_to=["qualquer@gmail.com"], recipients_cc=[])

    # on run: a list tightened after the definition was saved, or recipients written by the application
    smtp_for("BEG", smtp_server.port)
    with session_scope(engine) as session:
        set_allowed_domains(session, companies["BEG"], remove=["parceiro.com"])
    with pytest.raises(
        ReportRunError, match="a@contas.parceiro.com is outside the domains allowed for company BEG"
    ):
        run_execution(engine, FileStore(tmp_path), report_id=report_id, config=ReportsConfig(smtp_attempts=1))
    with session_scope(engine) as session:
        session.execute(
            update(ReportDefinition)
            .where(ReportDefinition.id == report_id)
            .values(recipients_to=["x@beg.com.br"])
        )
    assert run_execution(engine, FileStore(tmp_path), report_id=report_id).status == "success"
    assert [m.rcpt_tos for m in smtp_server.messages] == [["x@beg.com.br"]]
    with pytest.raises(Exception, match="invalid domain"):
        with session_scope(engine) as session:
            set_allowed_domains(session, companies["BEG"], add=["not a domain"])
