"""Users of each company: the table, its rules and `routines users add|list|disable`, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from routines.cli import main
from routines.companies.demo import seed_demo
from routines.companies.models import Company, User
from routines.companies.users import add_user, list_users, users_with_role
from routines.database.engine import session_scope
from routines.errors import UserError


@pytest.fixture
def companies(engine):
    with session_scope(engine) as session:
        session.add_all([Company(code="BEG", name="BEG"), Company(code="ACME", name="Acme")])
    return engine


def test_add_list_and_disable_from_the_command_line(companies, db_url, capsys):
    assert (
        main(
            [
                "users",
                "add",
                "--company",
                "beg",
                "--name",
                "Maria Silva",
                "--email",
                " Maria@BEG.com.br ",
                "--role",
                "operator",
                "--url",
                db_url,
            ]
        )
        == 0
    )
    assert "maria@beg.com.br" in capsys.readouterr().out
    assert (
        main(
            [
                "users",
                "add",
                "--company",
                "ACME",
                "--name",
                "João",
                "--email",
                "joao@acme.com",
                "--role",
                "viewer",
                "--url",
                db_url,
            ]
        )
        == 0
    )
    capsys.readouterr()

    assert main(["users", "list", "--company", "BEG", "--url", db_url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].split("\t")[1:4] == ["BEG", "operator", "ativo"]

    assert main(["users", "disable", "maria@beg.com.br", "--url", db_url]) == 0
    capsys.readouterr()
    assert main(["users", "list", "--url", db_url]) == 0
    assert [line.split("\t")[1] for line in capsys.readouterr().out.splitlines()] == ["ACME"]
    assert main(["users", "list", "--all", "--url", db_url]) == 0
    assert "desativado" in capsys.readouterr().out
    with session_scope(companies) as session:
        maria = session.scalar(select(User).where(User.email == "maria@beg.com.br"))
        assert not maria.active and maria.disabled_at is not None


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--company", "XYZ", "--email", "a@b.com"], "company 'XYZ' does not exist (known: ACME, BEG)"),
        (["--company", "BEG", "--email", "not-an-email"], "e-mail 'not-an-email'"),
        (["--company", "BEG", "--email", "dup@beg.com"], "e-mail dup@beg.com: already used by user"),
    ],
)
def test_bad_input_is_one_line_naming_the_field(companies, db_url, capsys, arguments, message):
    with session_scope(companies) as session:
        add_user(session, company_code="BEG", name="Dup", email="DUP@beg.com", role="admin")
    status = main(["users", "add", "--name", "X", "--role", "viewer", "--url", db_url, *arguments])
    error = capsys.readouterr().err
    assert status == 2
    assert message in error and len(error.strip().splitlines()) == 1


def test_an_unknown_role_is_refused_by_the_command_and_by_the_database(companies, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["users", "add", "--company", "BEG", "--name", "X", "--email", "x@beg.com", "--role", "root"])
    assert exit_info.value.code == 2
    with pytest.raises(UserError, match="role 'root'"), session_scope(companies) as session:
        add_user(session, company_code="BEG", name="X", email="x@beg.com", role="root")
    with pytest.raises(IntegrityError), session_scope(companies) as session:
        company = session.scalar(select(Company).where(Company.code == "BEG"))
        session.add(User(company_id=company.id, name="X", email="x@beg.com", role="root", active=True))


def test_roles_per_company_and_the_demo_seed_is_idempotent(engine):
    with session_scope(engine) as session:
        first = seed_demo(session)
    with session_scope(engine) as session:
        assert seed_demo(session) == 0
        beg = session.scalar(select(Company).where(Company.code == "BEG"))
        assert [u.role for u in users_with_role(session, beg.id, "admin", "operator")] == [
            "admin",
            "operator",
        ]
        assert len(list_users(session)) == first - 2
        assert {u.company.code for u in list_users(session, company_code="ACME")} == {"ACME"}
