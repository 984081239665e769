"""The `routines` command: db and demo subcommands, help everywhere, one-line errors.

The console script itself runs in a subprocess from a temporary folder (not the repository): it must work from
anywhere, use the per-user data folder by default, and never create a database as a side effect of failing.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text

from routines.cli import main
from routines.database import migrate

ROUTINES = str(Path(sys.executable).with_name("routines"))
HEAD = migrate.head_revision()


def run_routines(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [ROUTINES, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=180, check=False
    )


@pytest.fixture
def elsewhere(tmp_path) -> tuple[Path, dict[str, str]]:
    """(an empty folder to run from, an environment with no ROUTINES_HOME and a per-user folder in tmp)."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "xdg")}
    for name in ("ROUTINES_HOME", "ROUTINES_DATABASE_URL", "ROUTINES_FILE_STORE_ROOT", "ROUTINES_DEBUG"):
        env.pop(name, None)
    return folder, env


def one_line_error(completed: subprocess.CompletedProcess) -> str:
    assert completed.returncode == 2, completed.stdout + completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    assert lines[0].startswith("routines: error: ")
    return lines[0].removeprefix("routines: error: ")


def test_db_upgrade_current_and_seed(sqlite_url, capsys):
    assert main(["db", "upgrade", "--url", sqlite_url]) == 0
    assert HEAD in capsys.readouterr().out
    assert main(["db", "current", "--url", sqlite_url]) == 0
    assert capsys.readouterr().out.strip() == f"{sqlite_url}: {HEAD} (head)"
    assert main(["demo", "seed", "--url", sqlite_url]) == 0
    first = capsys.readouterr().out
    assert "companies: 7 added" in first  # 2 companies and their 5 users
    assert main(["demo", "seed", "--url", sqlite_url]) == 0
    second = capsys.readouterr().out
    assert all(line.endswith(": 0 added") for line in second.splitlines()), second


def test_demo_seed_creates_and_migrates_a_new_database(sqlite_url, capsys):
    assert main(["demo", "seed", "--url", sqlite_url]) == 0
    assert "companies: 7 added" in capsys.readouterr().out
    assert migrate.current_revision(sqlite_url) == HEAD


def test_help_is_available_and_a_missing_subcommand_is_an_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "db" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["db"])
    assert exit_info.value.code == 2


def test_from_any_folder_the_command_uses_the_per_user_database_and_creates_none_on_error(elsewhere):
    folder, env = elsewhere
    user_folder = Path(env["XDG_DATA_HOME"]) / "routines"
    database = f"sqlite:///{user_folder / 'routines.db'}"
    for command in (["notifications", "list"], ["reports", "list"], ["invoices", "list"], ["users", "list"]):
        message = one_line_error(run_routines(*command, cwd=folder, env=env))
        assert message == f"database {database} does not exist: run `routines db upgrade`", command
    current = run_routines("db", "current", cwd=folder, env=env)
    assert current.returncode == 0 and current.stdout.startswith(f"{database}: does not exist")
    assert not user_folder.exists() and not list(folder.iterdir())  # nothing created, here or there

    upgraded = run_routines("db", "upgrade", cwd=folder, env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert (user_folder / "routines.db").is_file()
    listed = run_routines("reports", "list", cwd=folder, env=env)
    assert listed.returncode == 0 and listed.stderr == "", listed.stderr
    current = run_routines("db", "current", cwd=folder, env=env)
    assert current.stdout.strip() == f"{database}: {HEAD} (head)"
    assert not list(folder.iterdir())


def test_an_empty_or_outdated_database_says_to_upgrade(empty_db_url, elsewhere):
    folder, env = elsewhere
    file = empty_db_url.removeprefix("sqlite:///") if empty_db_url.startswith("sqlite:///") else None
    if file:
        sqlite3.connect(file).close()  # an empty SQLite file
    from routines.database.engine import describe_url

    shown = describe_url(empty_db_url)
    env["ROUTINES_DATABASE_URL"] = empty_db_url
    message = one_line_error(run_routines("notifications", "list", cwd=folder, env=env))
    assert message == f"database {shown} is empty: run `routines db upgrade`"

    migrate.upgrade(empty_db_url, "0006_notifications")  # a previous release's
    message = one_line_error(run_routines("users", "list", cwd=folder, env=env))
    assert (
        message
        == f"database {shown} is at revision 0006_notifications, this version needs {HEAD}: run `routines db upgrade`"
    )
    current = run_routines("db", "current", cwd=folder, env=env)
    assert current.returncode == 0 and current.stdout.startswith(
        f"{shown}: 0006_notifications (behind {HEAD})"
    )


def test_an_unreachable_database_is_one_line_without_its_password(elsewhere):
    folder, env = elsewhere
    url = "postgresql+psycopg2://ops:s3cr3t-pw@127.0.0.1:1/routines"
    for command, extra in (
        (["db", "current", "--url", url], {}),
        (["notifications", "list"], {"ROUTINES_DATABASE_URL": url}),
    ):
        completed = run_routines(*command, cwd=folder, env={**env, **extra})
        message = one_line_error(completed)
        assert message.startswith(
            "cannot connect to database postgresql+psycopg2://ops:***@127.0.0.1:1/routines: "
        )
        assert "s3cr3t" not in completed.stderr + completed.stdout


def test_a_bad_url_is_one_line(elsewhere):
    folder, env = elsewhere
    message = one_line_error(
        run_routines("db", "upgrade", "--url", "postgresql://nobody@127.0.0.1/x", cwd=folder, env=env)
    )
    assert (
        message
        == "database URL 'postgresql://nobody@127.0.0.1/x' names no driver: use postgresql+psycopg2://..."
    )
    message = one_line_error(run_routines("db", "current", "--url", "not a url", cwd=folder, env=env))
    assert message.startswith("invalid database URL (expected e.g. postgresql+psycopg2://")


def test_a_concurrent_change_is_one_line_and_writes_nothing(sqlite_url, elsewhere):
    """Someone else moves the invoice between our read and our write (simulated by a trigger that makes the
    compare-and-set update match no row): the approval is refused in one line, nothing is recorded."""
    from routines.database.engine import get_engine, session_scope
    from routines.demo import seed_demo
    from routines.invoices import service

    folder, env = elsewhere
    migrate.upgrade(sqlite_url)
    seed_demo(sqlite_url)
    engine = get_engine(sqlite_url)
    with session_scope(engine) as session:
        service.create_month_processes(session, date(2025, 6, 1), "test")
        process_id = session.execute(text("select min(id) from invoice_processes")).scalar_one()
        session.execute(
            text("update invoice_processes set status = 'AGUARDANDO_APROVACAO' where id = :id"),
            {"id": process_id},
        )
        transitions = session.execute(text("select count(*) from invoice_process_transitions")).scalar_one()
        session.execute(
            text(
                "create trigger someone_else before update of status on invoice_processes "
                "begin select raise(ignore); end"
            )
        )
    completed = run_routines(
        "invoices", "approve", str(process_id), "--by", "ana", "--url", sqlite_url, cwd=folder, env=env
    )
    message = one_line_error(completed)
    assert message == f"process {process_id} is no longer AGUARDANDO_APROVACAO: changed by someone else"
    with session_scope(engine) as session:
        assert (
            session.execute(text("select count(*) from invoice_process_transitions")).scalar_one()
            == transitions
        )


def test_an_unexpected_error_is_one_line_unless_debugging(monkeypatch, capsys):
    def broken(url):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(migrate, "database_status", broken)
    monkeypatch.delenv("ROUTINES_DEBUG", raising=False)
    assert main(["db", "current"]) == 2
    assert capsys.readouterr().err == (
        "routines: error: RuntimeError: boom second line (ROUTINES_DEBUG=1 shows the traceback)\n"
    )
    monkeypatch.setenv("ROUTINES_DEBUG", "1")
    with pytest.raises(RuntimeError, match="boom"):
        main(["db", "current"])
