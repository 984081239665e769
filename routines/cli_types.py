"""Argument types shared by the `routines` subcommands: bad input is one line naming the value."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def at_least(minimum: int) -> Callable[[str], int]:
    """An argparse `type=` for a whole number >= `minimum` (`--limit`, `--batch-size`, `--quiet-minutes`...)."""

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid number {value!r}") from None
        if number < minimum:
            raise argparse.ArgumentTypeError(f"{value!r}: expected a number >= {minimum}")
        return number

    return parse
