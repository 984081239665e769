"""The `routines` command for operators. Thin: every subcommand calls the same functions the assets call."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from routines.errors import UserError


def _db_upgrade(args: argparse.Namespace) -> int:
    from routines.database import migrate
    from routines.database.engine import describe_url

    migrate.upgrade(args.url, args.revision)
    print(
        f"database {describe_url(args.url or migrate.settings.database_url())} at {migrate.current_revision(args.url)}"
    )
    return 0


def _db_current(args: argparse.Namespace) -> int:
    from routines.database import migrate

    print(migrate.current_revision(args.url) or "empty (run `routines db upgrade`)")
    return 0


def _db_downgrade(args: argparse.Namespace) -> int:
    from routines.database import migrate

    migrate.downgrade(args.url, args.revision)
    print(f"downgraded to {migrate.current_revision(args.url) or 'base'}")
    return 0


def _demo_seed(args: argparse.Namespace) -> int:
    from routines.demo import seed_demo

    for domain, added in seed_demo(args.url).items():
        print(f"{domain}: {added} added")
    return 0


def _register_platform(subparsers: argparse._SubParsersAction) -> None:
    from routines.housekeeping import cli as housekeeping_cli

    db = subparsers.add_parser("db", help="business database: migrations, backup, restore").add_subparsers(
        dest="db_command", required=True, metavar="{upgrade,current,downgrade,backup,restore}"
    )
    upgrade = db.add_parser("upgrade", help="apply the Alembic migrations (default: up to head)")
    upgrade.add_argument("revision", nargs="?", default="head")
    upgrade.set_defaults(handler=_db_upgrade)
    current = db.add_parser("current", help="print the database's migration revision")
    current.set_defaults(handler=_db_current)
    downgrade = db.add_parser("downgrade", help="revert migrations down to REVISION (or 'base')")
    downgrade.add_argument("revision")
    downgrade.set_defaults(handler=_db_downgrade)
    for parser in (upgrade, current, downgrade):
        parser.add_argument(
            "--url", help="database URL (default: ROUTINES_DATABASE_URL or the embedded SQLite)"
        )
    housekeeping_cli.register_db(db)

    demo = subparsers.add_parser("demo", help="demo reference data").add_subparsers(
        dest="demo_command", required=True, metavar="{seed}"
    )
    seed = demo.add_parser("seed", help="insert the demo data of every domain (safe to run twice)")
    seed.add_argument("--url", help="database URL (default: ROUTINES_DATABASE_URL or the embedded SQLite)")
    seed.set_defaults(handler=_demo_seed)


def build_parser() -> argparse.ArgumentParser:
    from routines.appointments import cli as appointments_cli
    from routines.calendar import cli as calendar_cli
    from routines.companies import cli as companies_cli
    from routines.housekeeping import cli as housekeeping_cli
    from routines.invoices import cli as invoices_cli
    from routines.market import cli as market_cli
    from routines.notifications import cli as notifications_cli
    from routines.reports import cli as reports_cli

    parser = argparse.ArgumentParser(
        prog="routines", description="Operator commands of the routines code location."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _register_platform(subparsers)
    for module in (
        companies_cli,
        calendar_cli,
        market_cli,
        invoices_cli,
        reports_cli,
        notifications_cli,
        appointments_cli,
        housekeeping_cli,
    ):
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except UserError as exc:
        print(f"routines: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("routines: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
