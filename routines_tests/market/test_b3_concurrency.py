"""Concurrent loads of one B3 session (CLI, asset, or both), each in its own process: exactly one copy remains.

On PostgreSQL the test holds a SHARE lock on b3_quotes while the two loads start, and releases it only when both
are waiting on a lock: the two transactions are then as interleaved as they can be (before the per-session
advisory lock, both deleted nothing the other could see and both inserted: 15,036 rows for a 7,518-row day).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from routines.database.engine import get_engine
from routines.market.b3_load import count_rows, duplicate_keys, load_cotahist
from routines_tests.market.fixtures import REAL_DAY, real_txt, real_zip

DAILY = "COTAHIST_D25062021.ZIP"
KEY = f"market/b3/2021/06/25/{DAILY}"


def _start(kind: str, db_url: str, tmp_path: Path, application: str) -> subprocess.Popen:
    env = {**os.environ, "PGAPPNAME": application, "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    if kind == "cli":
        command = [
            "-m",
            "routines.cli",
            "prices",
            "load-cotahist",
            str(tmp_path / "store" / KEY),
            "--url",
            db_url,
        ]
    else:
        command = ["-m", "routines_tests.market.load_process", db_url, str(tmp_path / "store"), "2021-06-25"]
    return subprocess.Popen(
        [sys.executable, *command], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _prepare(db_url: str, tmp_path: Path) -> None:
    (tmp_path / "dagster_home").mkdir()
    stored = tmp_path / "store" / KEY
    stored.parent.mkdir(parents=True)
    stored.write_bytes(real_zip())
    load_cotahist(real_txt(), get_engine(db_url), expected_date=REAL_DAY)  # a reload, as in production


def _finish(processes: list[subprocess.Popen]) -> None:
    outputs = [process.communicate(timeout=600) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs


def _waiting_on_a_lock(admin, application: str) -> int:
    with admin.connect() as connection:
        return connection.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = :name AND wait_event_type = 'Lock'"
            ),
            {"name": application},
        ).scalar_one()


@pytest.mark.postgres
@pytest.mark.parametrize("kinds", [("cli", "cli"), ("cli", "asset"), ("asset", "asset")], ids="+".join)
def test_two_loads_of_a_session_at_once_leave_one_copy_on_postgresql(kinds, postgres_schema_url, tmp_path):
    from routines.database import migrate

    db_url = postgres_schema_url
    migrate.upgrade(db_url)
    _prepare(db_url, tmp_path)
    application = f"b3load_{uuid.uuid4().hex[:10]}"
    admin = create_engine(db_url)
    processes: list[subprocess.Popen] = []
    try:
        with admin.connect() as blocker:
            transaction = blocker.begin()
            blocker.execute(text("LOCK TABLE b3_quotes IN SHARE MODE"))  # both loads stop before their delete
            processes = [_start(kind, db_url, tmp_path, application) for kind in kinds]
            deadline = time.monotonic() + 300
            while _waiting_on_a_lock(admin, application) < 2:
                assert all(p.poll() is None for p in processes), [p.communicate() for p in processes]
                assert time.monotonic() < deadline, "the two loads never reached the database"
                time.sleep(0.2)
            transaction.commit()
        _finish(processes)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
        admin.dispose()
    engine = get_engine(db_url)
    assert count_rows(engine, REAL_DAY) == 7518
    assert duplicate_keys(engine, [REAL_DAY]) == (0, [])


def test_two_loads_of_a_session_at_once_leave_one_copy_on_sqlite(sqlite_db_url, tmp_path):
    _prepare(sqlite_db_url, tmp_path)
    processes = [_start(kind, sqlite_db_url, tmp_path, "b3load") for kind in ("cli", "asset")]
    _finish(processes)
    engine = get_engine(sqlite_db_url)
    assert count_rows(engine, REAL_DAY) == 7518
    assert duplicate_keys(engine, [REAL_DAY]) == (0, [])
