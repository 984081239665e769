"""Fixtures of the invoices tests: a seeded business database, resources pointing at the fake servers."""

from __future__ import annotations

import argparse

import pytest

from routines.companies.demo import seed_demo as seed_companies
from routines.database.engine import get_engine, session_scope
from routines.defs.invoices.resources import RpaResource, SatResource
from routines.invoices.demo import seed_demo
from routines.lib.resources import DatabaseResource, FileStoreResource
from routines_tests.invoices.fakes import SAT_TOKEN, TOKEN

FAST_RPA = {
    "poll_interval_seconds": 0.02,
    "max_poll_interval_seconds": 0.1,
    "retry_base_delay_seconds": 0.01,
    "job_timeout_seconds": 5.0,
}


@pytest.fixture
def seeded_url(db_url) -> str:
    with session_scope(get_engine(db_url)) as session:
        seed_companies(session)
        seed_demo(session)
    return db_url


@pytest.fixture
def seeded_sqlite_url(sqlite_db_url) -> str:
    with session_scope(get_engine(sqlite_db_url)) as session:
        seed_companies(session)
        seed_demo(session)
    return sqlite_db_url


def make_resources(
    db_url,
    store_root,
    rpa_url="http://127.0.0.1:9",
    sat_url="http://127.0.0.1:9",
    rpa_token=TOKEN,
    sat_token=SAT_TOKEN,
    **rpa_options,
) -> dict:
    return {
        "database": DatabaseResource(url=db_url),
        "file_store": FileStoreResource(root=str(store_root)),
        "rpa": RpaResource(base_url=rpa_url, token=rpa_token, **{**FAST_RPA, **rpa_options}),
        "sat": SatResource(base_url=sat_url, token=sat_token, retry_base_delay_seconds=0.01),
    }


def run_cli(*argv: str) -> int:
    """`routines invoices ...` through this domain's own parser (the shared one imports every domain)."""
    from routines.errors import UserError
    from routines.invoices.cli import register

    parser = argparse.ArgumentParser(prog="routines")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    try:
        return int(args.handler(args) or 0)
    except UserError as exc:  # what routines.cli.main prints
        print(f"routines: error: {exc}")
        return 2
