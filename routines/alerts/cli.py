"""`routines alerts routes ...`: where alerts go (e-mail addresses, Slack or Teams webhooks named by env var),
for which owners and asset groups, with which quiet window."""

from __future__ import annotations

import argparse

from routines.cli_types import at_least

URL_HELP = "database URL (default: ROUTINES_DATABASE_URL or the embedded SQLite)"


def _items(values: list[str] | None) -> tuple[str, ...]:
    return tuple(item.strip() for value in values or () for item in value.split(",") if item.strip())


def _add(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from routines.alerts.models import AlertRoute
    from routines.alerts.service import add_route
    from routines.companies.users import company_by_code
    from routines.database.engine import get_engine, session_scope
    from routines.errors import UserError

    with session_scope(get_engine(args.url)) as session:
        if session.scalar(select(AlertRoute.id).where(AlertRoute.name == args.name)) is not None:
            raise UserError(f"alert route {args.name!r} already exists (routines alerts routes list)")
        company_id = company_by_code(session, args.company).id if args.company else None
        try:
            route = add_route(
                session, args.name, args.channel, args.target, owners=_items(args.owner),
                groups=_items(args.group), quiet_minutes=args.quiet_minutes, company_id=company_id,
            )  # fmt: skip
        except ValueError as exc:
            raise UserError(str(exc)) from None
        print(f"alert route {route.id} {route.name!r}: {route.channel} -> {route.target}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from routines.alerts.models import AlertRoute
    from routines.database.engine import get_engine, session_scope

    with session_scope(get_engine(args.url)) as session:
        routes = session.scalars(select(AlertRoute).order_by(AlertRoute.name)).all()
        for route in routes:
            scope = ", ".join(filter(None, [route.owners and f"owners {route.owners}",
                                            route.groups and f"groups {route.groups}"])) or "every alert"  # fmt: skip
            state = "active" if route.active else "disabled"
            print(
                f"{route.id}\t{route.name}\t{route.channel}\t{route.target}\t{scope}\t"
                f"quiet {route.quiet_minutes} min\t{state}"
            )
        if not routes:
            print("no alert routes: alerts go to the default routes of the environment (see the README)")
    return 0


def _set_active(args: argparse.Namespace, active: bool) -> int:
    from sqlalchemy import select

    from routines.alerts.models import AlertRoute
    from routines.database.engine import get_engine, session_scope
    from routines.errors import UserError

    with session_scope(get_engine(args.url)) as session:
        route = session.scalar(select(AlertRoute).where(AlertRoute.name == args.name))
        if route is None:
            raise UserError(f"alert route {args.name!r} not found (routines alerts routes list)")
        route.active = active
    print(f"alert route {args.name!r} {'enabled' if active else 'disabled'}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("alerts", help="alert routes: where failures and missed deadlines are sent")
    commands = group.add_subparsers(dest="alerts_command", required=True, metavar="{routes}")
    routes = commands.add_parser("routes", help="add, list, enable or disable alert routes")
    actions = routes.add_subparsers(dest="routes_command", required=True, metavar="{add,list,enable,disable}")
    add = actions.add_parser("add", help="a new route")
    add.add_argument("name")
    add.add_argument("--channel", required=True, choices=("email", "slack", "teams"))
    add.add_argument(
        "--target",
        required=True,
        help="e-mail addresses (comma separated), or for slack/teams the NAME of the env var holding the webhook "
        "URL (e.g. ROUTINES_ALERT_SLACK_FINANCE_URL): a URL is a secret and never goes into the database",
    )
    add.add_argument("--owner", action="append", help="asset owner (e-mail or team:name); repeatable")
    add.add_argument("--group", action="append", help="asset group; repeatable")
    add.add_argument(
        "--quiet-minutes", type=at_least(0), default=30, help="same alert not repeated within this"
    )
    add.add_argument("--company", help="company code (its SMTP sends the e-mails of this route)")
    add.set_defaults(handler=_add)
    listing = actions.add_parser("list", help="every route")
    listing.set_defaults(handler=_list)
    parsers = [add, listing]
    for name, active in (("enable", True), ("disable", False)):
        parser = actions.add_parser(name, help=f"{name} a route by name")
        parser.add_argument("name")
        parser.set_defaults(handler=lambda args, active=active: _set_active(args, active))
        parsers.append(parser)
    for parser in parsers:
        parser.add_argument("--url", help=URL_HELP)
