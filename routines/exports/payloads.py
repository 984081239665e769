"""Payload schemas of the export types (pydantic), and the one-line errors that name the field at fault.

A payload is the JSON the business application writes in `export_tasks.payload`. Each type's model validates
it when the task is created (the CLI, later the API) and again when it runs (a plain INSERT skipped the first
check). Unknown fields are refused, so a typo does not pass silently.
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from routines.companies.users import normalize_email
from routines.errors import UserError

MAX_RANGE_DAYS = 3660  # about ten years of days per export
MAX_CSV_CHARS = 5_000_000


class PayloadError(UserError):
    """A payload refused; the message names the field (`payload.month: ...`)."""

    def __init__(self, message: str, field: str | None = None):
        self.field = field
        super().__init__(message)


def _month(value: str) -> str:
    match = re.fullmatch(r"(\d{4})-(\d{2})", value.strip())
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 2000:
        raise ValueError(f"expected a month as YYYY-MM (e.g. 2025-06), got {value!r}")
    return f"{match.group(1)}-{match.group(2)}"


def _ticker(value: str) -> str:
    ticker = value.strip().upper()
    if not re.fullmatch(r"[A-Z0-9]{4,12}", ticker):
        raise ValueError(f"invalid B3 ticker {value!r} (4 to 12 letters and digits, e.g. PETR4)")
    return ticker


def cnpj_digits_valid(digits: str) -> bool:
    """The two check digits of a 14-digit CNPJ."""
    if len(digits) != 14 or not digits.isdigit() or len(set(digits)) == 1:
        return False
    for size in (12, 13):
        weights = list(range(size - 7, 1, -1)) + list(range(9, 1, -1))
        total = sum(int(d) * w for d, w in zip(digits[:size], weights, strict=True))
        check = 11 - total % 11
        if int(digits[size]) != (0 if check >= 10 else check):
            return False
    return True


def format_cnpj(value: str) -> str:
    """`11.222.333/0001-81` from any spelling of a valid CNPJ; ValueError otherwise."""
    digits = re.sub(r"\D", "", value or "")
    if not cnpj_digits_valid(digits):
        raise ValueError(f"invalid CNPJ {value!r}")
    return f"{digits[:2]}.{digits[2:5]}.{digits[5:8]}/{digits[8:12]}-{digits[12:]}"


def _email(value: str) -> str:
    try:
        return normalize_email(value)
    except UserError as exc:
        raise ValueError(str(exc)) from None


Month = Annotated[str, AfterValidator(_month)]
Ticker = Annotated[str, AfterValidator(_ticker)]
Cnpj = Annotated[str, AfterValidator(format_cnpj)]
Email = Annotated[str, AfterValidator(_email)]


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class MonthPayload(Payload):
    month: Month = Field(description="billing month, YYYY-MM")

    @property
    def first_day(self) -> date:
        return date.fromisoformat(f"{self.month}-01")

    @property
    def label(self) -> str:
        return f"{self.month[5:]}/{self.month[:4]}"


class DateRangePayload(Payload):
    start: date = Field(description="first day, YYYY-MM-DD")
    end: date = Field(description="last day, YYYY-MM-DD (included)")

    @model_validator(mode="after")
    def _range(self):
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        if (self.end - self.start).days > MAX_RANGE_DAYS:
            raise ValueError(f"the range is longer than {MAX_RANGE_DAYS} days: split it")
        return self


class InvoicesMonthPayload(MonthPayload):
    pass


class InvoiceFilesPayload(MonthPayload):
    pass


class ApprovalLetterPayload(MonthPayload):
    pass


class B3QuotesPayload(DateRangePayload):
    tickers: list[Ticker] = Field(min_length=1, max_length=200, description="B3 tickers, e.g. PETR4")


class CvmFundHistoryPayload(DateRangePayload):
    funds: list[Cnpj] = Field(min_length=1, max_length=100, description="fund CNPJs")


class ReportPayload(Payload):
    report_id: int = Field(gt=0, description="id of one of the company's report definitions")
    day: date = Field(description="reference day, YYYY-MM-DD")
    format: Literal["xlsx", "pdf", "csv"] = "xlsx"


class ImportClientsPayload(Payload):
    csv_text: str | None = Field(default=None, max_length=MAX_CSV_CHARS, description="the CSV itself")
    file_key: str | None = Field(default=None, description="or a CSV already in the file store")

    @model_validator(mode="after")
    def _one_source(self):
        if bool(self.csv_text) == bool(self.file_key):
            raise ValueError("give the CSV in csv_text or a file store key in file_key (exactly one)")
        return self


class SendEmailPayload(Payload):
    to: list[Email] = Field(min_length=1, max_length=50)
    cc: list[Email] = Field(default_factory=list, max_length=50)
    subject: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=100_000)
    attach_task_id: int | None = Field(
        default=None, gt=0, description="a completed task whose file is attached"
    )


def _field_name(location: tuple) -> str:
    return ".".join(str(part) for part in ("payload", *location))


def parse_payload(model: type[Payload], raw: dict | str | None) -> Payload:
    """Validate `raw` (a dict or JSON text) against `model`; PayloadError naming every bad field otherwise."""
    if raw is None or raw == "":
        raw = {}
    if isinstance(raw, (str, bytes)):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise PayloadError(
                f"payload: invalid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}", "payload"
            ) from None
    if not isinstance(raw, dict):
        raise PayloadError(f"payload: expected a JSON object, got {type(raw).__name__}", "payload")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                known = ", ".join(model.model_fields)
                message = f"unknown field (known: {known})"
            problems.append(f"{_field_name(error['loc'])}: {message}")
        first = _field_name(exc.errors()[0]["loc"]) if exc.errors() else "payload"
        raise PayloadError("; ".join(problems), first) from None
