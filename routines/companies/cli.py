"""`routines users ...`: the people of each company."""

from __future__ import annotations

import argparse


def _add(args: argparse.Namespace) -> int:
    from routines.companies.users import add_user
    from routines.database.engine import get_engine, session_scope

    with session_scope(get_engine(args.url)) as session:
        user = add_user(session, company_code=args.company, name=args.name, email=args.email, role=args.role)
        print(f"user {user.id}: {user.name} <{user.email}> {user.role} of {user.company.code}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from routines.companies.users import list_users
    from routines.database.engine import get_engine, session_scope

    with session_scope(get_engine(args.url)) as session:
        users = list_users(session, company_code=args.company, include_inactive=args.all)
        for user in users:
            state = "ativo" if user.active else "desativado"
            print(f"{user.id}\t{user.company.code}\t{user.role}\t{state}\t{user.name}\t{user.email}")
        if not users:
            print("no users")
    return 0


def _disable(args: argparse.Namespace) -> int:
    from routines.companies.users import disable_user
    from routines.database.engine import get_engine, session_scope

    with session_scope(get_engine(args.url)) as session:
        user = disable_user(session, args.user)
        print(f"user {user.id} <{user.email}> disabled")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    from routines.companies.models import ROLES

    group = subparsers.add_parser("users", help="people of each company (owners of tasks and notifications)")
    commands = group.add_subparsers(dest="users_command", required=True, metavar="{add,list,disable}")
    add = commands.add_parser("add", help="add a user to a company")
    add.add_argument("--company", required=True, help="company code, e.g. BEG")
    add.add_argument("--name", required=True)
    add.add_argument("--email", required=True)
    add.add_argument("--role", required=True, choices=ROLES)
    add.set_defaults(handler=_add)
    listing = commands.add_parser("list", help="id, company, role, state, name, e-mail")
    listing.add_argument("--company", help="only this company's users")
    listing.add_argument("--all", action="store_true", help="include disabled users")
    listing.set_defaults(handler=_list)
    disable = commands.add_parser("disable", help="disable a user (by id or e-mail); nothing is deleted")
    disable.add_argument("user", help="user id or e-mail")
    disable.set_defaults(handler=_disable)
    for parser in (add, listing, disable):
        parser.add_argument(
            "--url", help="database URL (default: ROUTINES_DATABASE_URL or the embedded SQLite)"
        )
