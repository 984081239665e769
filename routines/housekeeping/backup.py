"""Backups of the business database, their retention, and restoring one into an empty database (no Dagster).

- PostgreSQL: `pg_dump -Fc` (custom format, one consistent snapshot while writers go on). The client's major
  version is checked against the server's first: pg_dump cannot dump a newer server.
- SQLite: the online backup API (`sqlite3.Connection.backup`, all pages in one step: one consistent snapshot,
  safe while writers run), then `PRAGMA quick_check` on the copy.

Each backup is written under a temporary name and renamed when complete, with a manifest beside it
(`<file>.json`: sha256, size, engine, database, versions, times). Retention keeps the newest backup of each of
the last N days that have one and the first backup of each of the last M months; `restore_database` refuses a
database that already has tables and checks the file's sha256 against its manifest.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import URL, make_url

from routines import TIMEZONE
from routines.database.base import utcnow
from routines.database.engine import describe_url
from routines.errors import UserError
from routines.files import sha256_of
from routines.housekeeping.retention import Removal
from routines.housekeeping.settings import BackupSettings

NAME = re.compile(r"^routines-(?P<db>[A-Za-z0-9_.-]+)-(?P<stamp>\d{8}T\d{9}Z)\.(?P<ext>dump|sqlite3)$")
SQLITE_MAGIC = b"SQLite format 3\x00"
PG_CUSTOM_MAGIC = b"PGDMP"
VERSION = re.compile(r"\(PostgreSQL\)\s+((\d+)(?:\.\d+)*)")
DUMPED_BY = re.compile(r"Dumped by pg_dump version:\s*(\d+)")


@dataclass(frozen=True)
class BackupFile:
    path: Path
    size_bytes: int
    sha256: str
    engine: str
    database: str
    created_at: datetime
    seconds: float
    server_version: str | None = None
    client_version: str | None = None

    def manifest(self) -> dict:
        data = asdict(self)
        data["path"] = self.path.name
        data["created_at"] = self.created_at.isoformat()
        return data

    def metadata(self) -> dict[str, object]:
        return {
            "path": str(self.path),
            "size_bytes": self.size_bytes,
            "sha256": self.sha256,
            "engine": self.engine,
            "database": self.database,
            "seconds": round(self.seconds, 3),
            **({"server_version": self.server_version} if self.server_version else {}),
            **({"client_version": self.client_version} if self.client_version else {}),
        }


def _stamp(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return f"{moment:%Y%m%dT%H%M%S}{moment.microsecond // 1000:03d}Z"


def _parse_stamp(stamp: str) -> datetime:
    return datetime.strptime(stamp[:15], "%Y%m%dT%H%M%S").replace(
        microsecond=int(stamp[15:18]) * 1000, tzinfo=UTC
    )


def _database_label(url: URL) -> str:
    name = Path(url.database).stem if url.get_backend_name() == "sqlite" else url.database
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name or "database")


# -- PostgreSQL clients ----------------------------------------------------------------------------------------------
def _pg_environment(url: URL) -> dict[str, str]:
    """libpq settings for pg_dump/pg_restore: the password goes in the environment, never on a command line."""
    env = dict(os.environ)
    mapping = {"PGHOST": url.host, "PGPORT": url.port, "PGUSER": url.username, "PGDATABASE": url.database}
    env.update({key: str(value) for key, value in mapping.items() if value})
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    query = {key: value if isinstance(value, str) else value[-1] for key, value in url.query.items()}
    for option, variable in (
        ("options", "PGOPTIONS"),
        ("sslmode", "PGSSLMODE"),
        ("sslrootcert", "PGSSLROOTCERT"),
    ):
        if option in query:
            env[variable] = query[option]
    return env


def _run(command: Sequence[str], env: dict[str, str] | None = None, what: str = "") -> str:
    try:
        result = subprocess.run(list(command), env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise UserError(
            f"{command[0]}: not found; install the PostgreSQL client (postgresql-client) or set "
            f"{'ROUTINES_PG_RESTORE' if 'restore' in Path(command[0]).name else 'ROUTINES_PG_DUMP'} to its path"
        ) from None
    if result.returncode != 0:
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        detail = lines[-1] if lines else f"exit status {result.returncode}"
        raise UserError(f"{what or Path(command[0]).name} failed: {detail}")
    return result.stdout


def client_major_version(binary: str) -> tuple[int, str]:
    """(major, full version) of a PostgreSQL client program, from `--version`."""
    output = _run([binary, "--version"]).strip()
    match = VERSION.search(output)
    if not match:
        raise UserError(f"{binary} --version: unexpected answer {output!r}")
    return int(match.group(2)), match.group(1)


def server_major_version(url: str) -> tuple[int, str]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            number = int(connection.execute(text("show server_version_num")).scalar())
            full = connection.execute(text("show server_version")).scalar().split()[0]
    finally:
        engine.dispose()
    return number // 10000, full


def check_pg_dump_version(binary: str, url: str) -> tuple[str, str]:
    """Refuse a pg_dump older than the server (it cannot dump it); returns (client, server) versions."""
    client_major, client = client_major_version(binary)
    server_major, server = server_major_version(url)
    if client_major < server_major:
        raise UserError(
            f"{binary} is PostgreSQL {client} but the server {describe_url(url)} is PostgreSQL {server}: pg_dump "
            f"cannot dump a newer server; install the PostgreSQL {server_major} client and set ROUTINES_PG_DUMP "
            "to its pg_dump"
        )
    return client, server


# -- backup ----------------------------------------------------------------------------------------------------------
def _write_manifest(backup: BackupFile) -> None:
    manifest = backup.path.with_name(backup.path.name + ".json")
    temp = manifest.with_name(f".{manifest.name}.part")
    temp.write_text(json.dumps(backup.manifest(), indent=2, ensure_ascii=False) + "\n")
    os.replace(temp, manifest)


def backup_database(url: str, settings: BackupSettings, now: datetime | None = None) -> BackupFile:
    """Write a consistent backup of the database at `url` into `settings.folder`; returns what was written."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    now = now or utcnow()
    settings.folder.mkdir(parents=True, exist_ok=True)
    label = _database_label(parsed)
    extension = "dump" if backend == "postgresql" else "sqlite3"
    target = settings.folder / f"routines-{label}-{_stamp(now)}.{extension}"
    if target.exists():
        raise UserError(f"{target}: a backup with this name already exists")
    temp = target.with_name(f".{target.name}.part")
    started = time.monotonic()
    server_version = client_version = None
    try:
        if backend == "postgresql":
            client_version, server_version = check_pg_dump_version(settings.pg_dump, url)
            _run(
                [settings.pg_dump, "--format=custom", "--no-password", f"--file={temp}"],
                env=_pg_environment(parsed),
                what=f"pg_dump of {describe_url(url)}",
            )
        elif backend == "sqlite":
            _sqlite_copy(parsed.database, temp)
            server_version = sqlite3.sqlite_version
        else:
            raise UserError(f"{describe_url(url)}: backups support PostgreSQL and SQLite only")
        with open(temp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    backup = BackupFile(
        path=target,
        size_bytes=target.stat().st_size,
        sha256=sha256_of(target),
        engine=backend,
        database=describe_url(url),
        created_at=now,
        seconds=time.monotonic() - started,
        server_version=server_version,
        client_version=client_version,
    )
    _write_manifest(backup)
    return backup


def _sqlite_copy(source: str | None, target: Path) -> None:
    if not source or source == ":memory:" or not Path(source).is_file():
        raise UserError(f"SQLite database {source!r}: no such file")
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)  # pages=-1: every page in one step, one consistent snapshot
        check = dst.execute("pragma quick_check").fetchone()[0]
        if check != "ok":
            raise UserError(f"backup of {source}: the copy fails SQLite's quick_check ({check})")
    finally:
        dst.close()
        src.close()


# -- retention of backups --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StoredBackup:
    path: Path
    created_at: datetime
    size_bytes: int


def list_backups(folder: Path) -> list[StoredBackup]:
    """The backups in `folder` (by their file names), oldest first."""
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = NAME.match(path.name)
        if match and path.is_file():
            found.append(StoredBackup(path, _parse_stamp(match.group("stamp")), path.stat().st_size))
    return sorted(found, key=lambda backup: (backup.created_at, backup.path.name))


def backups_to_keep(backups: Sequence[StoredBackup], keep_daily: int, keep_monthly: int) -> set[Path]:
    """The newest backup of each of the last `keep_daily` days that have one, and the first backup of each of
    the last `keep_monthly` months that have one (days and months in São Paulo time)."""
    zone = ZoneInfo(TIMEZONE)
    newest_of_day: dict[object, StoredBackup] = {}
    first_of_month: dict[tuple[int, int], StoredBackup] = {}
    for backup in sorted(backups, key=lambda item: (item.created_at, item.path.name)):
        local = backup.created_at.astimezone(zone)
        newest_of_day[local.date()] = backup
        first_of_month.setdefault((local.year, local.month), backup)
    days = sorted(newest_of_day, reverse=True)[:keep_daily]
    months = sorted(first_of_month, reverse=True)[:keep_monthly]
    return {newest_of_day[day].path for day in days} | {first_of_month[month].path for month in months}


def plan_backup_removals(settings: BackupSettings) -> list[Removal]:
    backups = list_backups(settings.folder)
    keep = backups_to_keep(backups, settings.keep_daily, settings.keep_monthly)
    zone = ZoneInfo(TIMEZONE)
    return [
        Removal(
            "backup",
            backup.path.name,
            backup.size_bytes,
            f"de {backup.created_at.astimezone(zone):%d/%m/%Y %H:%M} (além de {settings.keep_daily} diários "
            f"e {settings.keep_monthly} mensais)",
        )
        for backup in backups
        if backup.path not in keep
    ]


def backup_retention(settings: BackupSettings, dry_run: bool) -> list[Removal]:
    """Plan, and unless `dry_run` delete (with their manifests), the backups retention does not keep."""
    plan = plan_backup_removals(settings)
    if not dry_run:
        for removal in plan:
            path = settings.folder / removal.target
            path.unlink(missing_ok=True)
            path.with_name(path.name + ".json").unlink(missing_ok=True)
    return plan


# -- restore ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RestoreResult:
    file: Path
    database: str
    tables: int
    sha256: str


def _file_engine(path: Path) -> str:
    with open(path, "rb") as handle:
        head = handle.read(16)
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_CUSTOM_MAGIC):
        return "postgresql"
    raise UserError(
        f"{path}: not a backup of this project (neither a SQLite file nor a pg_dump custom archive)"
    )


def _verify_manifest(path: Path) -> str:
    digest = sha256_of(path)
    manifest = path.with_name(path.name + ".json")
    if manifest.is_file():
        expected = json.loads(manifest.read_text()).get("sha256")
        if expected and expected != digest:
            raise UserError(
                f"{path}: sha256 {digest} differs from its manifest's {expected}: the file is damaged"
            )
    return digest


def _user_tables(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        inspector = inspect(engine)
        if engine.dialect.name == "postgresql":
            return [
                f"{schema}.{table}"
                for schema in inspector.get_schema_names()
                if schema not in ("information_schema", "pg_catalog", "pg_toast")
                and not schema.startswith("pg_")
                for table in inspector.get_table_names(schema=schema)
                + inspector.get_view_names(schema=schema)
            ]
        return inspector.get_table_names() + inspector.get_view_names()
    finally:
        engine.dispose()


def restore_database(file: str | Path, url: str, settings: BackupSettings | None = None) -> RestoreResult:
    """Restore a backup into the EMPTY database at `url` (a database with any table is refused)."""
    settings = settings or BackupSettings.from_env()
    path = Path(file)
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    kind = _file_engine(path)
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if kind != backend:
        raise UserError(
            f"{path} is a {kind} backup: it cannot be restored into {backend} ({describe_url(url)})"
        )
    digest = _verify_manifest(path)
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise UserError(f"{describe_url(url)}: restore needs a SQLite file path")
        target = Path(parsed.database)
    existing = _user_tables(url)
    if existing:
        shown = ", ".join(sorted(existing)[:5]) + (" ..." if len(existing) > 5 else "")
        raise UserError(
            f"{describe_url(url)} is not empty ({len(existing)} table(s): {shown}): restore only into an empty "
            "database"
        )
    if backend == "sqlite":
        target.parent.mkdir(parents=True, exist_ok=True)
        src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
    else:
        client_major, client = client_major_version(settings.pg_restore)
        listing = _run([settings.pg_restore, "--list", str(path)], what=f"pg_restore --list {path}")
        dumped = DUMPED_BY.search(listing)
        if dumped and int(dumped.group(1)) > client_major:
            raise UserError(
                f"{path} was written by pg_dump {dumped.group(1)}; {settings.pg_restore} is PostgreSQL {client}: "
                f"install the PostgreSQL {dumped.group(1)} client and set ROUTINES_PG_RESTORE to its pg_restore"
            )
        _run(
            [
                settings.pg_restore,
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--single-transaction",
                "--no-password",
                f"--dbname={parsed.database}",
                str(path),
            ],
            env=_pg_environment(parsed),
            what=f"pg_restore into {describe_url(url)}",
        )
    return RestoreResult(file=path, database=describe_url(url), tables=len(_user_tables(url)), sha256=digest)
