"""`routines invoices ...` subcommands: list, show, approve, reject, retry, attach."""

from __future__ import annotations

import argparse
import getpass


def _user(args: argparse.Namespace) -> str:
    return args.by or getpass.getuser()


def _process_id(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid process id {value!r}: expected a number") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"invalid process id {value!r}: expected a positive number")
    return number


def _approve(args: argparse.Namespace) -> int:
    from routines.database.engine import get_engine, session_scope
    from routines.invoices import service

    with session_scope(get_engine(args.url)) as session:
        process = service.approve(session, args.id, _user(args))
        print(f"process {process.id}: {process.status} (approved by {process.approved_by})")
    return 0


def _reject(args: argparse.Namespace) -> int:
    from routines.database.engine import get_engine, session_scope
    from routines.invoices import service

    with session_scope(get_engine(args.url)) as session:
        process = service.reject(session, args.id, _user(args), args.reason)
        print(
            f"process {process.id}: {process.status} (rejected by {process.rejected_by}: {process.rejection_reason})"
        )
    return 0


def _retry(args: argparse.Namespace) -> int:
    from routines.database.engine import get_engine, session_scope
    from routines.invoices import service

    with session_scope(get_engine(args.url)) as session:
        process = service.retry(session, args.id, _user(args))
        print(f"process {process.id}: {process.status}")
    return 0


def _attach(args: argparse.Namespace) -> int:
    from routines import settings
    from routines.database.engine import get_engine, session_scope
    from routines.files import FileStore
    from routines.invoices import service

    store = FileStore(args.file_store or settings.file_store_root())
    with session_scope(get_engine(args.url)) as session:
        process = service.attach_file(session, store, args.id, args.file, _user(args))
        print(
            f"process {process.id}: {process.status} (file {process.file_key}, sha256 {process.file_sha256})"
        )
    return 0


def _list(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from routines.database.engine import get_engine, session_scope
    from routines.errors import UserError
    from routines.invoices import service
    from routines.invoices import status as sm
    from routines.invoices.models import InvoiceProcess

    query = select(InvoiceProcess).order_by(InvoiceProcess.billing_month, InvoiceProcess.id)
    if args.month:
        try:
            query = query.where(InvoiceProcess.billing_month == service.month_start(args.month))
        except ValueError as exc:
            raise UserError(f"--month: {exc}") from None
    if args.status:
        try:
            query = query.where(InvoiceProcess.status == sm.parse(args.status.upper()).value)
        except ValueError as exc:
            raise UserError(f"--status: {exc}") from None
    with session_scope(get_engine(args.url)) as session:
        rows = session.scalars(query).all()
        print(f"{'id':>6}  {'month':7}  {'operator':10}  {'status':22}  client")
        for process in rows:
            print(
                f"{process.id:>6}  {service.month_label(process.billing_month):7}  {process.operator.code:10}  "
                f"{process.status:22}  {process.client.name}"
            )
        print(f"{len(rows)} process(es)")
    return 0


def _show(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from routines.database.engine import get_engine, session_scope
    from routines.errors import UserError
    from routines.invoices import service
    from routines.invoices.models import InvoiceProcess, ProcessTransition

    with session_scope(get_engine(args.url)) as session:
        process = session.get(InvoiceProcess, args.id)
        if process is None:
            raise UserError(f"invoice process {args.id} does not exist")
        print(
            f"process {process.id}: {process.client.name} / {process.operator.code} / "
            f"{service.month_label(process.billing_month)}: {process.status}"
        )
        for label, value in [
            ("job", process.job_id),
            ("file", process.file_key),
            ("sha256", process.file_sha256),
            ("size", process.file_size),
            ("error", process.error),
            ("approved", process.approved_by),
            ("rejected", process.rejected_by),
            ("rejection reason", process.rejection_reason),
            ("SAT protocol", process.sat_protocol),
        ]:
            if value is not None:
                print(f"  {label}: {value}")
        if process.last_log_lines:
            print("  last log lines:")
            for line in process.last_log_lines.splitlines():
                print(f"    {line}")
        print("  transitions:")
        for record in session.scalars(
            select(ProcessTransition)
            .where(ProcessTransition.process_id == process.id)
            .order_by(ProcessTransition.id)
        ):
            print(
                f"    {record.at:%Y-%m-%d %H:%M:%S}Z  {record.from_status or '-'} -> {record.to_status}  "
                f"by {record.actor}" + (f": {record.reason}" if record.reason else "")
            )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this domain's subcommands to the `routines` parser."""
    invoices = subparsers.add_parser(
        "invoices", help="telecom invoices: approval and follow-up"
    ).add_subparsers(
        dest="invoices_command", required=True, metavar="{list,show,approve,reject,retry,attach}"
    )
    listing = invoices.add_parser("list", help="list invoice processes")
    listing.add_argument("--month", help="billing month YYYY-MM")
    listing.add_argument("--status", help="only this status, e.g. AGUARDANDO_APROVACAO")
    listing.set_defaults(handler=_list)
    show = invoices.add_parser("show", help="one process: files, error, last RPA log lines, transitions")
    show.add_argument("id", type=_process_id)
    show.set_defaults(handler=_show)
    approve = invoices.add_parser(
        "approve", help="approve an invoice (AGUARDANDO_APROVACAO -> AGUARDANDO_ENVIO_SAT)"
    )
    approve.add_argument("id", type=_process_id)
    approve.set_defaults(handler=_approve)
    reject = invoices.add_parser("reject", help="reject an invoice (AGUARDANDO_APROVACAO -> REJEITADO)")
    reject.add_argument("id", type=_process_id)
    reject.add_argument("--reason", required=True, help="why the invoice is rejected")
    reject.set_defaults(handler=_reject)
    retry = invoices.add_parser(
        "retry", help="send a failed/rejected process back (to AGUARDANDO_DOWNLOAD or AGUARDANDO_ENVIO_SAT)"
    )
    retry.add_argument("id", type=_process_id)
    retry.set_defaults(handler=_retry)
    attach = invoices.add_parser(
        "attach", help="attach an invoice downloaded by hand (operators without RPA) -> AGUARDANDO_APROVACAO"
    )
    attach.add_argument("id", type=_process_id)
    attach.add_argument("file", help="the invoice file")
    attach.add_argument("--file-store", help="file store root (default: ROUTINES_FILE_STORE_ROOT)")
    attach.set_defaults(handler=_attach)
    for parser in (listing, show, approve, reject, retry, attach):
        parser.add_argument(
            "--url", help="database URL (default: ROUTINES_DATABASE_URL or the embedded SQLite)"
        )
    for parser in (approve, reject, retry, attach):
        parser.add_argument("--by", help="who decides (default: the login name)")
