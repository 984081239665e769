"""Backups of the business database: taken while a real process writes, restored into a fresh database, every
table's row count and checksum compared (SQLite and PostgreSQL); retention of backups; restore's refusals."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import MetaData, create_engine, select, text
from sqlalchemy.engine import make_url

from routines.cli import main
from routines.database import migrate
from routines.demo import seed_demo
from routines.errors import UserError
from routines.housekeeping.backup import (
    StoredBackup,
    backup_database,
    backup_retention,
    backups_to_keep,
    restore_database,
)
from routines.housekeeping.settings import BackupSettings
from routines_tests.conftest import postgres_admin_url
from routines_tests.housekeeping.conftest import admin_engine, create_database, drop_database

WRITTEN = ("appointments", "attendances", "notifications")

WRITER = """
import sys
from datetime import datetime, timedelta, UTC
from sqlalchemy import select, text
from routines.database.engine import get_engine
from routines.companies.models import Company

engine = get_engine(sys.argv[1])
with engine.connect() as connection:
    company = connection.execute(select(Company.id).order_by(Company.id).limit(1)).scalar_one()
n = 0
announced = False
while True:
    n += 1
    with engine.begin() as connection:  # one transaction writes a row in each of three tables
        at = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=n)
        appointment = connection.execute(
            text("insert into appointments (company_id, scheduled_at, active, booked_name, created_at, updated_at) "
                 "values (:c, :at, false, :name, :at, :at) returning id"),
            {"c": company, "at": at.replace(tzinfo=None) if engine.dialect.name == "sqlite" else at, "name": f"carga {n}"},
        ).scalar_one()
        connection.execute(
            text("insert into attendances (appointment_id, diagnosis, treatment, created_at, created_by) "
                 "values (:a, 'd', :t, :at, 'carga')"),
            {"a": appointment, "t": f"tratamento {n}", "at": at.replace(tzinfo=None) if engine.dialect.name == "sqlite" else at},
        )
        connection.execute(
            text("insert into notifications (kind, title, message, is_read, created_at) "
                 "values ('info', :title, 'carga', false, :at)"),
            {"title": f"carga {n}", "at": at.replace(tzinfo=None) if engine.dialect.name == "sqlite" else at},
        )
    if n >= 20 and not announced:
        print("writing", flush=True)
        announced = True
"""


def table_fingerprints(url: str) -> dict[str, tuple[int, str, int | None]]:
    """Every table: (row count, sha256 of its rows in primary-key order, highest id when it has an `id`)."""
    engine = create_engine(url)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        result = {}
        with engine.connect() as connection:
            for name, table in sorted(metadata.tables.items()):
                order = list(table.primary_key.columns) or list(table.columns)
                digest = hashlib.sha256()
                count = 0
                for row in connection.execute(select(table).order_by(*order)):
                    digest.update(repr(tuple(row)).encode())
                    count += 1
                top = (
                    connection.execute(text(f'select max(id) from "{name}"')).scalar()
                    if "id" in table.c
                    else None
                )
                result[name] = (count, digest.hexdigest(), top)
        return result
    finally:
        engine.dispose()


def prefix_fingerprint(url: str, table: str, max_id: int) -> tuple[int, str]:
    engine = create_engine(url)
    try:
        metadata = MetaData()
        metadata.reflect(engine, only=[table])
        target = metadata.tables[table]
        digest = hashlib.sha256()
        count = 0
        with engine.connect() as connection:
            for row in connection.execute(select(target).where(target.c.id <= max_id).order_by(target.c.id)):
                digest.update(repr(tuple(row)).encode())
                count += 1
        return count, digest.hexdigest()
    finally:
        engine.dispose()


def _count(url: str, table: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(text(f'select count(*) from "{table}"')).scalar()
    finally:
        engine.dispose()


def backup_under_load(source_url: str, restore_url: str, folder: Path) -> None:
    migrate.upgrade(source_url)
    seed_demo(source_url)
    seeded = {table: _count(source_url, table) for table in WRITTEN}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, source_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert writer.stdout.readline().strip() == "writing", writer.stderr.read()
        backup = backup_database(source_url, BackupSettings(folder=folder))
        assert writer.poll() is None, "the writer must still be running during the backup"
    except BaseException:
        writer.kill()
        raise
    try:
        assert backup.path.is_file() and backup.size_bytes == backup.path.stat().st_size
        manifest = json.loads(backup.path.with_name(backup.path.name + ".json").read_text())
        assert manifest["sha256"] == hashlib.sha256(backup.path.read_bytes()).hexdigest() == backup.sha256

        restore_database(backup.path, restore_url)
        restored = table_fingerprints(restore_url)
        # the writer went on after the snapshot: wait (bounded) until the source has more rows than the copy
        deadline = time.monotonic() + 60
        while _count(source_url, "appointments") <= restored["appointments"][0]:
            assert time.monotonic() < deadline, "the writer stopped writing"
    finally:
        writer.kill()
        writer.wait(30)
    source = table_fingerprints(source_url)
    assert set(restored) == set(source) and "alembic_version" in restored
    # one snapshot: every transaction of the writer is either wholly in the copy or wholly out of it
    written = {table: restored[table][0] - seeded[table] for table in WRITTEN}
    assert written["appointments"] == written["attendances"] == written["notifications"] >= 20, written
    for table, (count, digest, top) in restored.items():
        if table in WRITTEN:
            assert source[table][0] > count, table  # writes went on after the snapshot...
            assert prefix_fingerprint(source_url, table, top) == (count, digest), (
                table
            )  # ...and before it, equal
        else:
            assert source[table][:2] == (count, digest), table


def test_sqlite_backup_while_writing_restores_an_identical_database(sqlite_url, tmp_path):
    backup_under_load(sqlite_url, f"sqlite:///{tmp_path / 'restored.db'}", tmp_path / "backups")


@pytest.mark.postgres
def test_postgres_backup_while_writing_restores_an_identical_database(tmp_path):
    admin = admin_engine()
    source = create_database(admin, "routines_backup")
    target = create_database(admin, "routines_restore")
    base = make_url(postgres_admin_url())
    try:
        backup_under_load(
            base.set(database=source).render_as_string(hide_password=False),
            base.set(database=target).render_as_string(hide_password=False),
            tmp_path / "backups",
        )
    finally:
        from routines.database.engine import get_engine

        get_engine(base.set(database=source).render_as_string(hide_password=False)).dispose()
        drop_database(admin, source)
        drop_database(admin, target)
        admin.dispose()


def test_restore_refuses_a_database_with_tables_and_a_damaged_file(sqlite_db_url, tmp_path):
    backup = backup_database(sqlite_db_url, BackupSettings(folder=tmp_path / "b"))
    with pytest.raises(UserError, match="not empty"):
        restore_database(backup.path, sqlite_db_url)
    damaged = backup.path.read_bytes()
    backup.path.write_bytes(damaged[:-1] + bytes([damaged[-1] ^ 1]))
    with pytest.raises(UserError, match="differs from its manifest"):
        restore_database(backup.path, f"sqlite:///{tmp_path / 'fresh.db'}")
    with pytest.raises(UserError, match="cannot be restored into postgresql"):
        restore_database(backup.path, "postgresql+psycopg2://nobody@127.0.0.1:9/none")


@pytest.mark.postgres
def test_postgres_restore_refuses_a_non_empty_database_and_an_old_pg_dump(
    postgres_schema_url, tmp_path, monkeypatch
):
    migrate.upgrade(postgres_schema_url)
    fake = tmp_path / "pg_dump"
    fake.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 11.22'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("ROUTINES_PG_DUMP", str(fake))
    with pytest.raises(
        UserError, match=r"PostgreSQL 11\.22 but the server .* is PostgreSQL 1\d.*ROUTINES_PG_DUMP"
    ):
        backup_database(postgres_schema_url, BackupSettings.from_env())
    assert not any((BackupSettings.from_env().folder).glob("*"))  # nothing half-written
    monkeypatch.setenv("ROUTINES_PG_DUMP", str(tmp_path / "missing" / "pg_dump"))
    with pytest.raises(UserError, match="not found"):
        backup_database(postgres_schema_url, BackupSettings.from_env())
    sqlite_backup = tmp_path / "x.dump"
    sqlite_backup.write_bytes(b"PGDMP" + b"\0" * 100)
    with pytest.raises(UserError, match="not empty"):
        restore_database(sqlite_backup, postgres_schema_url)


def _stored(moment: datetime) -> StoredBackup:
    return StoredBackup(Path(f"routines-db-{moment:%Y%m%dT%H%M%S}000Z.sqlite3"), moment, 1)


def test_retention_keeps_the_last_daily_and_monthly_backups():
    # one backup at 04:00 UTC (01:00 São Paulo) every day from 2025-01-01 to 2025-06-30, two on the last day
    start = datetime(2025, 1, 1, 4, tzinfo=UTC)
    backups = [_stored(start + timedelta(days=n)) for n in range(181)]
    backups.append(_stored(datetime(2025, 6, 30, 18, tzinfo=UTC)))
    kept = backups_to_keep(backups, keep_daily=7, keep_monthly=3)
    days = sorted(path.name[12:20] for path in kept)
    # 7 daily (24-30 June; of 30 June the newest, 18:00) + first of April, May, June (June's is 1 June)
    assert days == [
        "20250401",
        "20250501",
        "20250601",
        "20250624",
        "20250625",
        "20250626",
        "20250627",
        "20250628",
        "20250629",
        "20250630",
    ]
    assert _stored(datetime(2025, 6, 30, 18, tzinfo=UTC)).path in kept
    assert _stored(datetime(2025, 6, 30, 4, tzinfo=UTC)).path not in kept


def test_backup_retention_dry_run_and_real_run_remove_the_same_files(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "backups"
    folder.mkdir()
    start = datetime(2025, 1, 1, 4, tzinfo=UTC)
    for n in range(40):
        path = folder / f"routines-db-{start + timedelta(days=n):%Y%m%dT%H%M%S}000Z.sqlite3"
        path.write_bytes(b"x" * 10)
        path.with_name(path.name + ".json").write_text("{}")
    (folder / "notes.txt").write_text("not a backup")
    monkeypatch.setenv("ROUTINES_BACKUP_DIR", str(folder))
    monkeypatch.setenv("ROUTINES_BACKUP_KEEP_DAILY", "5")
    monkeypatch.setenv("ROUTINES_BACKUP_KEEP_MONTHLY", "2")
    assert main(["housekeeping", "retention", "--only", "backups", "--dry-run"]) == 0
    dry = [line for line in capsys.readouterr().out.splitlines() if line.startswith("backup\t")]
    assert len(list(folder.iterdir())) == 81
    assert main(["housekeeping", "retention", "--only", "backups"]) == 0
    real = [line for line in capsys.readouterr().out.splitlines() if line.startswith("backup\t")]
    assert (
        real == dry and len(real) == 40 - 7
    )  # kept: 5 daily (5-9 Feb) + the first of January and of February
    left = sorted(path.name for path in folder.iterdir())
    assert len(left) == 2 * 7 + 1 and "notes.txt" in left
    assert backup_retention(BackupSettings.from_env(), dry_run=False) == []


def test_cli_backup_and_restore(sqlite_db_url, tmp_path, capsys):
    seed_demo(sqlite_db_url)
    assert main(["db", "backup", "--url", sqlite_db_url, "--dir", str(tmp_path / "b")]) == 0
    path = capsys.readouterr().out.split("\t")[0]
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert main(["db", "restore", path, "--url", fresh]) == 0
    assert "restored" in capsys.readouterr().out
    assert table_fingerprints(fresh) == table_fingerprints(sqlite_db_url)
    assert main(["db", "restore", path, "--url", fresh]) == 2
    assert "not empty" in capsys.readouterr().err


def test_the_daily_job_writes_a_backup_with_its_sha256_and_size(sqlite_db_url, tmp_path, monkeypatch):
    from routines.defs.housekeeping.jobs import database_backup_job
    from routines.lib.resources import DatabaseResource

    monkeypatch.setenv("ROUTINES_BACKUP_DIR", str(tmp_path / "b"))
    with dg.instance_for_test() as instance:
        result = database_backup_job.execute_in_process(
            instance=instance, resources={"database": DatabaseResource(url=sqlite_db_url)}
        )
    assert result.success
    outputs = {
        event.step_key: event.event_specific_data.metadata
        for event in result.all_events
        if event.event_type_value == "STEP_OUTPUT"
    }
    metadata = outputs["backup_business_database"]
    path = Path(metadata["path"].value)
    assert metadata["sha256"].value == hashlib.sha256(path.read_bytes()).hexdigest()
    assert metadata["size_bytes"].value == path.stat().st_size
    assert outputs["backup_retention"]["removed_count"].value == 0
