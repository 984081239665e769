"""Errors shown to users: one clear line naming the file, line or field at fault."""

from __future__ import annotations


class UserError(ValueError):
    """Bad input or configuration. The CLI prints it as one line and exits with status 2."""


class InputFileError(UserError):
    """A problem in an input file, located by file, line and field when known."""

    def __init__(self, file: str, message: str, line: int | None = None, field: str | None = None):
        self.file = file
        self.line = line
        self.field = field
        self.reason = message
        where = file
        if line is not None:
            where += f", line {line}"
        if field:
            where += f", field {field}"
        super().__init__(f"{where}: {message}")


class ConflictError(RuntimeError):
    """Someone else changed the data between our read and our write; nothing was written. The CLI prints it as
    one line and exits with status 2 (re-read and try again)."""
