"""`routines reports ...` subcommands."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this domain's subcommands to the `routines` parser."""
