"""`routines housekeeping retention` and `routines db backup|restore` (the same functions the jobs run)."""

from __future__ import annotations

import argparse
import os

PARTS = ("runs", "files", "notifications", "backups")
URL_HELP = "database URL (default: ROUTINES_DATABASE_URL or the embedded SQLite)"


def _parts(value: str) -> list[str]:
    parts = [part.strip() for part in value.split(",") if part.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown or not parts:
        raise argparse.ArgumentTypeError(
            f"--only {value!r}: expected a comma-separated subset of {','.join(PARTS)}"
        )
    return parts


def _retention(args: argparse.Namespace) -> int:
    from routines import settings
    from routines.database.base import utcnow
    from routines.database.engine import get_engine
    from routines.errors import UserError
    from routines.files import FileStore
    from routines.housekeeping import retention
    from routines.housekeeping.backup import backup_retention
    from routines.housekeeping.settings import BackupSettings, RetentionRules

    rules = RetentionRules.from_env()
    now = utcnow()
    parts = args.only or list(PARTS)
    for part in parts:
        if part == "runs":
            if not os.environ.get("DAGSTER_HOME"):
                if args.only:
                    raise UserError(
                        "runs: DAGSTER_HOME is not set (the Dagster instance whose runs to remove)"
                    )
                print("runs: skipped, DAGSTER_HOME is not set")
                continue
            import dagster as dg

            from routines.defs.housekeeping.dagster_storage import run_retention

            with dg.DagsterInstance.get() as instance:
                removals = run_retention(instance, rules, now, args.dry_run)
        elif part == "files":
            store = FileStore(args.file_store or settings.file_store_root())
            removals = retention.file_retention(get_engine(args.url), store, rules, now, args.dry_run)
        elif part == "notifications":
            removals = retention.notification_retention(get_engine(args.url), rules, now, args.dry_run)
        else:
            removals = backup_retention(BackupSettings.from_env(), args.dry_run)
        print(f"== {part}")
        for line in retention.report_lines(removals, args.dry_run):
            print(line)
    return 0


def _backup(args: argparse.Namespace) -> int:
    from dataclasses import replace
    from pathlib import Path

    from routines import settings
    from routines.housekeeping.backup import backup_database
    from routines.housekeeping.settings import BackupSettings

    config = BackupSettings.from_env()
    if args.dir:
        config = replace(config, folder=Path(args.dir).resolve())
    backup = backup_database(args.url or settings.database_url(), config)
    print(f"{backup.path}\t{backup.size_bytes} bytes\tsha256 {backup.sha256}")
    return 0


def _restore(args: argparse.Namespace) -> int:
    from routines.housekeeping.backup import restore_database

    result = restore_database(args.file, args.url)
    print(f"restored {result.file} (sha256 {result.sha256}) into {result.database}: {result.tables} table(s)")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("housekeeping", help="retention of runs, files, notifications and backups")
    commands = group.add_subparsers(dest="housekeeping_command", required=True, metavar="{retention}")
    run = commands.add_parser(
        "retention", help="remove what the retention rules say is old (see the README, Housekeeping)"
    )
    run.add_argument("--dry-run", action="store_true", help="print what would be removed; change nothing")
    run.add_argument("--only", type=_parts, help=f"comma-separated parts: {','.join(PARTS)} (default: all)")
    run.add_argument("--url", help=URL_HELP)
    run.add_argument("--file-store", help="file store root (default: ROUTINES_FILE_STORE_ROOT)")
    run.set_defaults(handler=_retention)


def register_db(db_commands: argparse._SubParsersAction) -> list[argparse.ArgumentParser]:
    """`routines db backup` and `routines db restore` (the `db` group belongs to the platform CLI)."""
    backup = db_commands.add_parser("backup", help="write a consistent backup of the business database")
    backup.add_argument("--url", help=URL_HELP)
    backup.add_argument(
        "--dir", help="backup folder (default: ROUTINES_BACKUP_DIR or the file store's backups/)"
    )
    backup.set_defaults(handler=_backup)
    restore = db_commands.add_parser("restore", help="restore a backup into an EMPTY database")
    restore.add_argument("file", help="a backup written by `routines db backup` or the daily job")
    restore.add_argument("--url", required=True, help="the empty database to restore into")
    restore.set_defaults(handler=_restore)
    return [backup, restore]
