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


def _token(args: argparse.Namespace) -> int:
    from routines.api.tokens import issue_token, parse_expiry
    from routines.database.engine import get_engine, session_scope

    with session_scope(get_engine(args.url)) as session:
        issued = issue_token(session, args.user, expires_at=parse_expiry(args.expires), label=args.label)
        user = issued.record.user
        until = f"{issued.record.expires_at:%Y-%m-%d %H:%M} UTC" if issued.record.expires_at else "no expiry"
        print(f"token {issued.record.id} for {user.email} ({user.role} of {user.company.code}), {until}:")
        print(issued.token)
        print("shown only now: it is stored as a hash; revoke it with `routines users revoke-token ID`")
    return 0


def _tokens(args: argparse.Namespace) -> int:
    from routines.api.tokens import list_tokens
    from routines.database.engine import get_engine, session_scope

    def when(value):
        return f"{value:%Y-%m-%d %H:%M}" if value else "-"

    with session_scope(get_engine(args.url)) as session:
        tokens = list_tokens(session, args.user)
        for token in tokens:
            state = "revoked" if token.revoked_at else "active"
            print(
                f"{token.id}\t{token.prefix}…\t{state}\tcreated {when(token.created_at)}\t"
                f"expires {when(token.expires_at)}\tlast used {when(token.last_used_at)}\t{token.label or ''}"
            )
        if not tokens:
            print("no tokens")
    return 0


def _revoke_token(args: argparse.Namespace) -> int:
    from routines.api.tokens import revoke_token, revoke_user_tokens
    from routines.database.engine import get_engine, session_scope
    from routines.errors import UserError

    if (args.token_id is None) == (args.all_of is None):
        raise UserError("revoke-token: give a token id or --all-of USER (one of the two)")
    with session_scope(get_engine(args.url)) as session:
        if args.token_id is not None:
            token = revoke_token(session, args.token_id)
            print(f"token {token.id} of {token.user.email} revoked")
        else:
            print(f"{revoke_user_tokens(session, args.all_of)} token(s) of {args.all_of} revoked")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    from routines.companies.models import ROLES

    group = subparsers.add_parser("users", help="people of each company (owners of tasks and notifications)")
    commands = group.add_subparsers(
        dest="users_command", required=True, metavar="{add,list,disable,token,tokens,revoke-token}"
    )
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
    token = commands.add_parser(
        "token", help="issue an API token for a user (printed once, stored as a hash)"
    )
    token.add_argument("user", help="user id or e-mail")
    token.add_argument(
        "--expires", help="30d, 12h or a date (2026-12-31, valid through that day); default none"
    )
    token.add_argument("--label", help="what the token is for, shown in `routines users tokens`")
    token.set_defaults(handler=_token)
    tokens = commands.add_parser("tokens", help="a user's API tokens: id, prefix, state, dates, label")
    tokens.add_argument("user", help="user id or e-mail")
    tokens.set_defaults(handler=_tokens)
    revoke = commands.add_parser("revoke-token", help="revoke an API token (by id) or every token of a user")
    revoke.add_argument("token_id", nargs="?", type=int, help="token id (see `routines users tokens`)")
    revoke.add_argument("--all-of", metavar="USER", help="revoke every token of this user (id or e-mail)")
    revoke.set_defaults(handler=_revoke_token)
    for parser in (add, listing, disable, token, tokens, revoke):
        parser.add_argument(
            "--url", help="database URL (default: ROUTINES_DATABASE_URL or the embedded SQLite)"
        )
