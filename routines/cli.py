"""The `routines` command for operators. Thin: every subcommand calls the same functions the assets call.

Every error is one line on stderr and exit status 2: bad input or configuration (UserError), a change made by
someone else meanwhile (ConflictError), a business database that is missing, empty, behind the code or
unreachable (told how to fix), and anything unexpected (ROUTINES_DEBUG=1 shows its traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from routines.errors import ConflictError, UserError


def _db_upgrade(args: argparse.Namespace) -> int:
    from routines.database import migrate
    from routines.database.engine import describe_url

    migrate.upgrade(args.url, args.revision)
    print(
        f"database {describe_url(args.url or migrate.settings.database_url())} at {migrate.current_revision(args.url)}"
    )
    return 0


def _db_current(args: argparse.Namespace) -> int:
    """Which database, at which revision. A database that does not exist, is empty or is behind is reported
    (exit 0); one that cannot be reached is an error."""
    from routines.database import migrate
    from routines.database.engine import describe_url

    problem, state = migrate.database_status(args.url)
    if state == "unreachable":
        raise UserError(problem)
    advice = ": run `routines db upgrade`" if problem else ""
    print(f"{describe_url(args.url or migrate.settings.database_url())}: {state}{advice}")
    return 0


def _db_downgrade(args: argparse.Namespace) -> int:
    from routines.database import migrate

    migrate.downgrade(args.url, args.revision)
    print(f"downgraded to {migrate.current_revision(args.url) or 'base'}")
    return 0


def _demo_seed(args: argparse.Namespace) -> int:
    from routines.database import migrate
    from routines.demo import seed_demo

    migrate.upgrade(args.url)  # the demo needs the whole schema; creates the embedded SQLite file if missing
    for domain, added in seed_demo(args.url).items():
        print(f"{domain}: {added} added")
    return 0


def _api(args: argparse.Namespace) -> int:
    from routines.api.server import serve

    serve(args.host, args.port)
    return 0


def _register_platform(subparsers: argparse._SubParsersAction) -> None:
    from routines.housekeeping import cli as housekeeping_cli

    api = subparsers.add_parser("api", help="serve the business API and pages (uvicorn)")
    api.add_argument("--host", default=os.environ.get("ROUTINES_API_HOST", "127.0.0.1"))
    api.add_argument("--port", type=int, default=int(os.environ.get("ROUTINES_API_PORT", "8000") or 8000))
    api.set_defaults(handler=_api)

    db = subparsers.add_parser("db", help="business database: migrations, backup, restore").add_subparsers(
        dest="db_command", required=True, metavar="{upgrade,current,downgrade,backup,restore}"
    )
    upgrade = db.add_parser("upgrade", help="apply the Alembic migrations (default: up to head)")
    upgrade.add_argument("revision", nargs="?", default="head")
    upgrade.set_defaults(handler=_db_upgrade)
    current = db.add_parser("current", help="print which database is used and its migration revision")
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
    seed = demo.add_parser(
        "seed", help="apply the migrations, then insert the demo data of every domain (safe to run twice)"
    )
    seed.add_argument("--url", help="database URL (default: ROUTINES_DATABASE_URL or the embedded SQLite)")
    seed.set_defaults(handler=_demo_seed)


def build_parser() -> argparse.ArgumentParser:
    from routines.alerts import cli as alerts_cli
    from routines.appointments import cli as appointments_cli
    from routines.calendar import cli as calendar_cli
    from routines.catalog import cli as catalog_cli
    from routines.companies import cli as companies_cli
    from routines.exports import cli as exports_cli
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
        exports_cli,
        notifications_cli,
        appointments_cli,
        housekeeping_cli,
        catalog_cli,
        alerts_cli,
    ):
        module.register(subparsers)
    return parser


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def explain(exc: Exception, args: argparse.Namespace) -> str:
    """The one line shown for an error raised by a subcommand."""
    from sqlalchemy.exc import DBAPIError

    if isinstance(exc, (UserError, ConflictError)):
        return str(exc)
    if isinstance(exc, DBAPIError):
        from routines.database import migrate

        url = getattr(args, "url", None)
        try:
            problem, _state = migrate.database_status(url)
        except Exception:  # noqa: BLE001 - the original error is the one to show
            problem = None
        return problem or f"database error: {exc.orig}"
    return f"{type(exc).__name__}: {exc} (ROUTINES_DEBUG=1 shows the traceback)"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("routines: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("ROUTINES_DEBUG") and not isinstance(exc, UserError | ConflictError):
            raise
        print(f"routines: error: {_one_line(explain(exc, args))}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
