"""Tables of export files: typed columns written to XLSX (xlsxwriter, constant memory) or CSV (pt-BR), with
progress reported while rows are written. Pure: no database, no Dagster.

Each export type declares its columns up front (`Column(name, kind)`), so the writer knows every column's cell
writer and format before the first row: the hot loop is one typed call per cell, as fast as a bare xlsxwriter
`write()` (see `benchmarks/exports.py`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from routines import TIMEZONE

Progress = Callable[[int, str], None]  # (rows written so far, message)
PROGRESS_EVERY = 1000  # rows between two progress calls

# kind -> Excel number format (None: text)
EXCEL_FORMATS = {
    "text": None,
    "int": "#,##0",
    "decimal": "#,##0.00",
    "quota": "#,##0.00000000",
    "money": '"R$" #,##0.00',
    "date": "dd/mm/yyyy",
    "datetime": "dd/mm/yyyy hh:mm",
}
DEFAULT_WIDTHS = {"text": 18, "int": 10, "decimal": 14, "quota": 16, "money": 16, "date": 11, "datetime": 17}


@dataclass(frozen=True)
class Column:
    name: str
    kind: str = "text"  # text, int, decimal, quota, money, date, datetime
    width: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in EXCEL_FORMATS:
            raise ValueError(f"column {self.name!r}: unknown kind {self.kind!r}")


@dataclass
class Sheet:
    name: str
    columns: Sequence[Column]
    rows: Iterable[Sequence[object]]


def local_naive(value: datetime, zone: ZoneInfo = ZoneInfo(TIMEZONE)) -> datetime:
    """Excel has no time zones: aware timestamps are shown in São Paulo time."""
    return value.astimezone(zone).replace(tzinfo=None) if value.tzinfo else value


def write_xlsx(sheets: Sequence[Sheet], progress: Progress | None = None, label: str = "linhas") -> bytes:
    """One workbook: per sheet a bold frozen header with autofilter, typed cells and column widths."""
    import xlsxwriter

    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(
        buffer, {"constant_memory": True, "strings_to_urls": False, "strings_to_formulas": False}
    )
    header = workbook.add_format(
        {"bold": True, "font_color": "#FFFFFF", "bg_color": "#1F4E78", "border": 1, "text_wrap": True}
    )
    written = 0
    for sheet_spec in sheets:
        sheet = workbook.add_worksheet(sheet_spec.name)
        columns = list(sheet_spec.columns)
        formats = [
            workbook.add_format({"num_format": EXCEL_FORMATS[c.kind]}) if EXCEL_FORMATS[c.kind] else None
            for c in columns
        ]
        for index, column in enumerate(columns):
            width = column.width or max(DEFAULT_WIDTHS[column.kind], len(column.name) + 2)
            sheet.set_column(index, index, width, formats[index])
        sheet.freeze_panes(1, 0)
        sheet.write_row(0, 0, [c.name for c in columns], header)
        plan = [
            (index, _cell_writer(sheet, column.kind), formats[index]) for index, column in enumerate(columns)
        ]
        row_index = 0
        for row_index, row in enumerate(sheet_spec.rows, start=1):
            for index, writer, fmt in plan:
                value = row[index]
                if value is not None:
                    writer(row_index, index, value, fmt)
            if progress is not None and row_index % PROGRESS_EVERY == 0:
                progress(written + row_index, f"{written + row_index} {label} escritas")
        written += row_index
        sheet.autofilter(0, 0, max(row_index, 1), max(len(columns) - 1, 0))
    workbook.close()
    return buffer.getvalue()


def _cell_writer(sheet, kind: str):
    """The xlsxwriter call for one column kind; values of another type fall back to text."""
    write_string, write_number, write_datetime = sheet.write_string, sheet.write_number, sheet.write_datetime

    if kind == "text":

        def text(row: int, col: int, value: object, fmt) -> None:
            write_string(row, col, value if value.__class__ is str else str(value))

        return text
    if kind in ("int", "decimal", "quota", "money"):

        def number(row: int, col: int, value: object, fmt) -> None:
            if value.__class__ in (int, Decimal, float):
                write_number(row, col, value, fmt)
            else:
                write_string(row, col, str(value))

        return number

    def moment(row: int, col: int, value: object, fmt) -> None:
        if isinstance(value, datetime):
            write_datetime(row, col, local_naive(value), fmt)
        elif isinstance(value, date):
            write_datetime(row, col, value, fmt)
        else:
            write_string(row, col, str(value))

    return moment


def csv_text(value: object, kind: str) -> str:
    """pt-BR text of a cell: decimal comma, dd/mm/aaaa, São Paulo time."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return f"{local_naive(value):%d/%m/%Y %H:%M:%S}"
    if isinstance(value, date):
        return f"{value:%d/%m/%Y}"
    if isinstance(value, (Decimal, float)) and kind != "text":
        return format(value, "f").replace(".", ",")
    return str(value)


def write_csv(
    columns: Sequence[Column],
    rows: Iterable[Sequence[object]],
    progress: Progress | None = None,
    label: str = "linhas",
) -> bytes:
    """UTF-8 with BOM, `;` separator, decimal comma, dd/mm/aaaa dates: opens as is in a pt-BR Excel."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([c.name for c in columns])
    kinds = [c.kind for c in columns]
    count = 0
    for count, row in enumerate(rows, start=1):
        writer.writerow([csv_text(value, kind) for value, kind in zip(row, kinds, strict=True)])
        if progress is not None and count % PROGRESS_EVERY == 0:
            progress(count, f"{count} {label} escritas")
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")
