"""`routines reports ...` subcommands."""

from __future__ import annotations

import argparse
import os
import sys


def _engine(args):
    from routines.database.engine import get_engine

    return get_engine(args.url)


def _list(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from routines.database.engine import session_scope
    from routines.reports.models import ReportDefinition
    from routines.reports.slugs import partition_key

    with session_scope(_engine(args)) as session:
        query = select(ReportDefinition).order_by(ReportDefinition.id)
        rows = list(session.scalars(query))
        if args.company:
            rows = [r for r in rows if r.company.code == args.company]
        if not rows:
            print("no report definitions")
            return 0
        print(f"{'id':>5}  {'company':<8} {'active':<6} {'format':<12} {'next run (UTC)':<20} name")
        for r in rows:
            next_run = f"{r.next_run_at:%Y-%m-%d %H:%M}" if r.next_run_at else "-"
            flags = "yes" if r.active else "no"
            print(f"{r.id:>5}  {r.company.code:<8} {flags:<6} {r.format:<12} {next_run:<20} {r.name}")
            schedule = f"cron '{r.cron}' {r.timezone}"
            if r.calendar_name:
                if r.nth_business_day is not None:
                    schedule += f", business day {r.nth_business_day} of the month ({r.calendar_name})"
                elif r.business_days_only:
                    schedule += f", business days only ({r.calendar_name}, shift {r.shift})"
            key = partition_key(r.company.code, r.slug) if r.slug else "-"
            print(f"{'':>7}{schedule}; to: {', '.join(r.recipients_to)}; partition {key}")
    return 0


def _read_query(args) -> str | None:
    if args.query_file:
        try:
            with open(args.query_file, encoding="utf-8") as handle:
                return handle.read()
        except OSError as exc:
            from routines.errors import UserError

            raise UserError(f"{args.query_file}: {exc.strerror}") from None
    return args.query


def _add(args: argparse.Namespace) -> int:
    from routines.database.engine import session_scope
    from routines.reports.models import ReportDefinition
    from routines.reports.service import company_by_code, save_definition
    from routines.reports.validation import validate_addresses

    with session_scope(_engine(args)) as session:
        company = company_by_code(session, args.company)
        definition = ReportDefinition(
            company_id=company.id,
            company=company,
            name=args.name,
            query_sql=_read_query(args),
            dataset=args.dataset,
            format=args.format,
            recipients_to=validate_addresses(args.to, "recipients_to", args.name),
            recipients_cc=validate_addresses(args.cc, "recipients_cc", args.name),
            subject_template=args.subject,
            body_template=args.body,
            cron=args.cron,
            timezone=args.timezone,
            calendar_name=args.calendar,
            business_days_only=args.business_days_only,
            shift=args.shift,
            nth_business_day=args.nth_business_day,
            active=not args.inactive,
        )
        save_definition(session, definition)
        next_run = (
            f"{definition.next_run_at:%Y-%m-%d %H:%M} UTC" if definition.next_run_at else "never (inactive)"
        )
        print(f"report {definition.id} {definition.name!r} added; next run {next_run}")
    return 0


def _set_active(args: argparse.Namespace, active: bool) -> int:
    from routines.database.engine import session_scope
    from routines.reports.service import set_active

    with session_scope(_engine(args)) as session:
        definition = set_active(session, args.report_id, active)
        state = f"enabled, next run {definition.next_run_at:%Y-%m-%d %H:%M} UTC" if active else "disabled"
        print(f"report {definition.id} {definition.name!r} {state}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from routines.database.engine import session_scope
    from routines.reports.service import ReportRunError, request_run, run_execution

    if not args.in_process:
        with session_scope(_engine(args)) as session:
            request = request_run(session, args.report_id, requested_by=args.requested_by)
            print(
                f"run request {request.id} queued for report {args.report_id}: the sensor runs it on its next tick"
            )
        return 0
    from routines.errors import UserError
    from routines.files import FileStore
    from routines.settings import file_store_root

    try:
        result = run_execution(
            _engine(args), FileStore(file_store_root()), report_id=args.report_id, trigger="manual"
        )
    except ReportRunError as exc:
        raise UserError(f"execution {exc.execution_id} failed: {exc}") from None
    if result.already_done:
        print(result.not_sent_reason)
        return 0
    print(
        f"execution {result.execution_id}: {result.row_count} rows, "
        f"{', '.join(f['key'] for f in result.files)}, sent to {', '.join(result.recipients)} ({result.message_id})"
    )
    return 0


def _smtp(args: argparse.Namespace) -> int:
    from routines.database.engine import session_scope
    from routines.reports.service import company_by_code, set_smtp_settings

    password = None
    if args.password_env:
        password = os.environ.get(args.password_env)
        if password is None:
            from routines.errors import UserError

            raise UserError(f"--password-env {args.password_env}: that environment variable is not set")
    elif args.username and sys.stdin.isatty():
        import getpass

        password = getpass.getpass(f"SMTP password for {args.username}: ") or None
    with session_scope(_engine(args)) as session:
        company = company_by_code(session, args.company)
        set_smtp_settings(
            session,
            company.id,
            host=args.host,
            port=args.port,
            security=args.security,
            from_address=args.from_address,
            username=args.username,
            password=password,
            from_name=args.from_name,
        )
    print(f"SMTP settings of {args.company} saved ({args.host}:{args.port}, {args.security})")
    return 0


def _rotate_key(args: argparse.Namespace) -> int:
    from routines.database.engine import session_scope
    from routines.errors import UserError
    from routines.reports.service import rotate_smtp_passwords

    old = None
    if args.old_key_env:
        old = os.environ.get(args.old_key_env, "").strip()
        if not old:
            raise UserError(f"--old-key-env {args.old_key_env}: that environment variable is not set")
    with session_scope(_engine(args)) as session:
        count = rotate_smtp_passwords(session, old)
    print(f"{count} SMTP passwords re-encrypted with the current ROUTINES_SECRET_KEY")
    return 0


def _domains(args: argparse.Namespace) -> int:
    from routines.database.engine import session_scope
    from routines.reports.service import company_by_code, set_allowed_domains

    with session_scope(_engine(args)) as session:
        company = company_by_code(session, args.company)
        domains = set_allowed_domains(session, company.id, add=args.add or [], remove=args.remove or [])
    listed = ", ".join(domains) if domains else "any domain (no allow-list)"
    print(f"{args.company} reports may be sent to: {listed}")
    return 0


def _secret_key(args: argparse.Namespace) -> int:
    from routines.reports.secrets import generate_key

    print(generate_key())
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this domain's subcommands to the `routines` parser."""
    reports = subparsers.add_parser("reports", help="scheduled reports: definitions, SMTP, run now")
    sub = reports.add_subparsers(
        dest="reports_command",
        required=True,
        metavar="{list,add,enable,disable,run,smtp,domains,secret-key,rotate-key}",
    )

    def with_url(parser):
        parser.add_argument(
            "--url", help="database URL (default: ROUTINES_DATABASE_URL or the embedded SQLite)"
        )
        return parser

    listing = with_url(sub.add_parser("list", help="list report definitions"))
    listing.add_argument("--company", help="only this company code")
    listing.set_defaults(handler=_list)

    add = with_url(sub.add_parser("add", help="add a report definition (query and recipients validated)"))
    add.add_argument("--company", required=True, help="company code (companies.code)")
    add.add_argument("--name", required=True)
    source = add.add_mutually_exclusive_group(required=True)
    source.add_argument("--query", help="one read-only SELECT/WITH statement")
    source.add_argument("--query-file", help="file holding the SQL query")
    source.add_argument("--dataset", help="named dataset (empresas, execucoes_relatorios)")
    add.add_argument("--format", default="xlsx", help="xlsx, pdf, csv or several: xlsx,pdf (default xlsx)")
    add.add_argument("--to", required=True, help="recipients, separated by commas")
    add.add_argument("--cc", default="", help="copy recipients, separated by commas")
    add.add_argument("--subject", help="subject template, e.g. '{relatorio} - {data}'")
    add.add_argument("--body", help="body template (placeholders: {relatorio} {empresa} {data} {linhas} ...)")
    add.add_argument("--cron", required=True, help="cron expression, e.g. '0 8 * * 1-5'")
    add.add_argument("--timezone", default="America/Sao_Paulo")
    add.add_argument("--calendar", help="business-day calendar (ANBIMA, B3, BR, BR-SP, company calendar)")
    add.add_argument("--business-days-only", action="store_true", help="fire only on business days")
    add.add_argument(
        "--shift",
        default="skip",
        choices=["skip", "following", "preceding", "modified_following", "modified_preceding"],
        help="with --business-days-only: what to do on a non-business day (default skip)",
    )
    add.add_argument(
        "--nth-business-day", type=int, help="fire on the Nth business day of the month (-1 = last)"
    )
    add.add_argument("--inactive", action="store_true", help="add it disabled")
    add.set_defaults(handler=_add)

    for name, active in (("enable", True), ("disable", False)):
        parser = with_url(sub.add_parser(name, help=f"{name} a report definition"))
        parser.add_argument("report_id", type=int)
        parser.set_defaults(handler=lambda args, active=active: _set_active(args, active))

    run = with_url(
        sub.add_parser("run", help="run a report now (default: queue a run request for the sensor)")
    )
    run.add_argument("report_id", type=int)
    run.add_argument(
        "--in-process",
        action="store_true",
        help="run here and now (query, render, e-mail) instead of queueing",
    )
    run.add_argument("--requested-by", default=os.environ.get("USER"), help="recorded on the run request")
    run.set_defaults(handler=_run)

    smtp = with_url(sub.add_parser("smtp", help="set a company's SMTP settings (password encrypted)"))
    smtp.add_argument("--company", required=True)
    smtp.add_argument("--host", required=True)
    smtp.add_argument("--port", type=int, default=587)
    smtp.add_argument("--security", choices=["none", "starttls", "tls"], default="starttls")
    smtp.add_argument("--username")
    smtp.add_argument("--password-env", help="name of the environment variable holding the password")
    smtp.add_argument("--from", dest="from_address", required=True, help="sender address")
    smtp.add_argument("--from-name", help="sender display name")
    smtp.set_defaults(handler=_smtp)

    key = sub.add_parser("secret-key", help="print a new ROUTINES_SECRET_KEY (Fernet key)")
    key.set_defaults(handler=_secret_key)

    rotate = with_url(
        sub.add_parser(
            "rotate-key",
            help="re-encrypt every SMTP password with the current ROUTINES_SECRET_KEY (new key or new derivation)",
        )
    )
    rotate.add_argument(
        "--old-key-env",
        help="environment variable holding the previous key (default: the current key, to upgrade the derivation)",
    )
    rotate.set_defaults(handler=_rotate_key)

    domains = with_url(
        sub.add_parser(
            "domains", help="a company's allowed recipient domains (none = any): list, add, remove"
        )
    )
    domains.add_argument("--company", required=True)
    domains.add_argument(
        "--add", action="append", metavar="DOMAIN", help="allow this domain (and its subdomains)"
    )
    domains.add_argument("--remove", action="append", metavar="DOMAIN")
    domains.set_defaults(handler=_domains)
