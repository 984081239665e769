"""Demo data of the calendar domain for `routines demo seed` (idempotent)."""

from __future__ import annotations

from sqlalchemy.orm import Session


def seed_demo(session: Session) -> int:
    """Insert the missing demo rows; returns how many were added."""
    return 0
