"""`routines prices ...` subcommands (market domain): the same functions the assets call."""

from __future__ import annotations

import argparse
from datetime import date


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date YYYY-MM-DD") from None


def _parse_cotahist(args: argparse.Namespace) -> int:
    import csv
    import sys

    from routines.market.cotahist import COLUMNS, CotahistReader

    # Validate the whole file first: nothing is printed for a bad file.
    for _ in CotahistReader(args.path, expected_date=args.date, chunk_records=16384):
        pass
    writer = csv.writer(sys.stdout, lineterminator="\n")
    try:
        writer.writerow(COLUMNS)
        for chunk in CotahistReader(args.path, expected_date=args.date):
            lines = chunk.text(null=b"").decode("latin-1").split("\n")
            lines.pop()
            writer.writerows(line.split("\t") for line in lines)
        sys.stdout.flush()
    except BrokenPipeError:  # `... | head`: the reader has gone; not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _load_cotahist(args: argparse.Namespace) -> int:
    from routines.database.engine import describe_url, get_engine
    from routines.market.b3_load import load_cotahist, price_order_violations
    from routines.settings import database_url

    url = args.url or database_url()
    engine = get_engine(url)
    result = load_cotahist(args.path, engine, expected_date=args.date)
    days = ", ".join(day.isoformat() for day in result.days)
    print(
        f"{result.file_name}: {result.rows} quote records loaded into b3_quotes for {days} "
        f"(trailer {result.summary.trailer_count} records) at {describe_url(url)}"
    )
    disorder, rows = price_order_violations(engine, result.days)
    if disorder:
        print(f"warning: {disorder} rows with prices outside [low, high], e.g. {rows[0]}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this domain's subcommands to the `routines` parser."""
    prices = subparsers.add_parser("prices", help="market prices: B3 COTAHIST files").add_subparsers(
        dest="prices_command", required=True, metavar="{parse-cotahist,load-cotahist}"
    )
    parse = prices.add_parser(
        "parse-cotahist", help="print the quote records of a COTAHIST TXT or ZIP as CSV (b3_quotes columns)"
    )
    load = prices.add_parser(
        "load-cotahist",
        help="load a COTAHIST TXT or ZIP into b3_quotes (replaces the file's sessions in one transaction)",
    )
    for parser in (parse, load):
        parser.add_argument("path", help="COTAHIST_D/M/A....TXT or .ZIP")
        parser.add_argument(
            "--date",
            type=_date,
            default=None,
            help="session of a daily file whose name is not COTAHIST_DDDMMYYYY (YYYY-MM-DD)",
        )
    load.add_argument("--url", help="database URL (default: ROUTINES_DATABASE_URL or the embedded SQLite)")
    parse.set_defaults(handler=_parse_cotahist)
    load.set_defaults(handler=_load_cotahist)
