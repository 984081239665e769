"""The `routines` command: db and demo subcommands, help everywhere, one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from routines.cli import main
from routines.database import migrate


def test_db_upgrade_current_and_seed(sqlite_url, capsys):
    assert main(["db", "upgrade", "--url", sqlite_url]) == 0
    assert migrate.head_revision() in capsys.readouterr().out
    assert main(["db", "current", "--url", sqlite_url]) == 0
    assert capsys.readouterr().out.strip() == migrate.head_revision()
    assert main(["demo", "seed", "--url", sqlite_url]) == 0
    first = capsys.readouterr().out
    assert "companies: 7 added" in first  # 2 companies and their 5 users
    assert main(["demo", "seed", "--url", sqlite_url]) == 0
    second = capsys.readouterr().out
    assert all(line.endswith(": 0 added") for line in second.splitlines()), second


def test_db_current_on_an_empty_database(sqlite_url, capsys):
    assert main(["db", "current", "--url", sqlite_url]) == 0
    assert "empty" in capsys.readouterr().out


def test_help_is_available_and_a_missing_subcommand_is_an_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "db" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["db"])
    assert exit_info.value.code == 2


def test_console_script_reports_bad_configuration_in_one_line(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "routines.cli", "db", "upgrade", "--url", "postgresql://nobody@127.0.0.1/x"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2
    assert completed.stderr.strip().splitlines() == [
        "routines: error: database URL 'postgresql://nobody@127.0.0.1/x' names no driver: "
        "use postgresql+psycopg2://..."
    ]
