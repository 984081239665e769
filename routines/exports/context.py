"""What an export type's `run` function gets (`ExportContext`) and returns (`ExportOutput`). Pure."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine

from routines.files import FileStore


@dataclass(frozen=True)
class CompanyRef:
    id: int
    code: str
    name: str
    cnpj: str | None = None


@dataclass(frozen=True)
class UserRef:
    id: int
    name: str
    email: str


@dataclass
class ExportContext:
    engine: Engine
    store: FileStore
    task_id: int
    company: CompanyRef
    user: UserRef
    now: datetime
    # progress(done, total, message): the share done so far (written to the task row, throttled)
    report_progress: Callable[[int, int, str], None] = lambda done, total, message: None

    def progress(self, done: int, total: int, message: str) -> None:
        self.report_progress(done, max(total, 1), message)

    def rows_progress(self, total: int, start: int = 10, end: int = 95) -> Callable[[int, str], None]:
        """A callback for `tables.write_*`: rows written out of `total` -> start..end percent."""
        span = end - start

        def callback(rows: int, message: str) -> None:
            self.report_progress(start * max(total, 1) + span * rows, 100 * max(total, 1), message)

        return callback


@dataclass
class ExportOutput:
    """What a task produced: a file (`data` + `file_name` as the user downloads it) or nothing, a pt-BR
    one-line summary for the notification and `result` counts for the task row."""

    summary: str
    data: bytes | None = None
    file_name: str | None = None
    result: dict = field(default_factory=dict)

    @property
    def extension(self) -> str | None:
        if not self.file_name or "." not in self.file_name:
            return None
        return self.file_name.rsplit(".", 1)[1].lower()


def slug(text: str, limit: int = 60) -> str:
    """ASCII, lower-case, dashes: safe in file names."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^A-Za-z0-9]+", "-", ascii_text).strip("-").lower()[:limit] or "arquivo"


def thousands(value: int) -> str:
    """pt-BR thousands separator: 12.345."""
    return f"{value:,}".replace(",", ".")
