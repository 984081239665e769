"""Report files: Excel (xlsxwriter), PDF (fpdf2) and CSV, written while the rows stream in. Pure (no DB, no Dagster).

`render_files()` reads the rows once and feeds every format at the same time, so memory does not grow with the
result: Excel in xlsxwriter's constant_memory mode (rows go to a temporary file), CSV straight to its file, PDF
bounded (at most `PDF_MAX_ROWS` rows, cells cut at `PDF_MAX_CELL_CHARS` characters). Column kinds and widths come
from a bounded sample of the first rows. `render()` does the same for a small in-memory table.

Formats follow pt-BR conventions: dates dd/mm/aaaa, decimal comma in CSV, currency "R$" for money-like
columns (name contains valor, preco, preço, price, amount, total, saldo, custo).
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO
from zoneinfo import ZoneInfo

import xlsxwriter

MIME_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
    "csv": "text/csv",
}
MONEY_COLUMN_RE = re.compile(r"valor|pre[cç]o|price|amount|total|saldo|custo|montante", re.IGNORECASE)
WIDTH_SAMPLE_ROWS = 1000
MAX_COLUMN_WIDTH = 60
PDF_MAX_ROWS = 5000
PDF_MAX_CELL_CHARS = 200
SAMPLE_MAX_BYTES = (
    4 * 1024 * 1024
)  # the sample deciding kinds and widths: WIDTH_SAMPLE_ROWS rows or this much
EXCEL_MAX_CELL_CHARS = 32767  # Excel's own limit per cell


@dataclass
class ReportTable:
    """A small result held in memory (tests, previews, `render()`)."""

    columns: list[str]
    rows: Sequence[Sequence[object]]
    truncated: bool = False  # a limit cut the result
    note: str | None = None  # why, in pt-BR (default: the row limit)

    @property
    def row_count(self) -> int:
        return len(self.rows)


@dataclass(frozen=True)
class RenderSummary:
    """What the files say about the whole result, known once every row was read."""

    row_count: int
    truncated: bool = False
    note: str | None = None  # pt-BR, e.g. "resultado limitado a 100000 linhas"

    @property
    def warning(self) -> str | None:
        if not self.truncated:
            return None
        return self.note or f"resultado limitado a {self.row_count} linhas"


@dataclass
class ReportContext:
    title: str
    company: str
    period: str  # e.g. "22/11/2026"
    generated_at: datetime
    timezone: str = "America/Sao_Paulo"
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def generated_label(self) -> str:
        local = self.generated_at.astimezone(ZoneInfo(self.timezone))
        return f"{local:%d/%m/%Y %H:%M}"


# -- column kinds ------------------------------------------------------------------------------------------
def column_kinds(columns: Sequence[str], sample: Sequence[Sequence[object]]) -> list[str]:
    """Per column: datetime, date, time, int, decimal, money, bool or text (first non-null value decides)."""
    kinds = []
    for index, name in enumerate(columns):
        kind = "text"
        for row in sample:
            value = row[index]
            if value is None:
                continue
            if isinstance(value, bool):
                kind = "bool"
            elif isinstance(value, datetime):
                kind = "datetime"
            elif isinstance(value, date):
                kind = "date"
            elif isinstance(value, time):
                kind = "time"
            elif isinstance(value, int):
                kind = "money" if MONEY_COLUMN_RE.search(name) else "int"
            elif isinstance(value, (float, Decimal)):
                kind = "money" if MONEY_COLUMN_RE.search(name) else "decimal"
            break
        kinds.append(kind)
    return kinds


def _display(value: object) -> str:
    """pt-BR text of a value (PDF cells, CSV fields, previews)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Sim" if value else "Não"
    if isinstance(value, datetime):
        return f"{value:%d/%m/%Y %H:%M:%S}"
    if isinstance(value, date):
        return f"{value:%d/%m/%Y}"
    if isinstance(value, (Decimal, float)):
        return str(value).replace(".", ",") if isinstance(value, Decimal) else repr(value).replace(".", ",")
    return str(value)


def _money(value: object) -> str:
    if value is None:
        return ""
    amount = Decimal(str(value)).quantize(Decimal("0.01"))
    text = f"{amount:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
    return f"R$ {text}"


# -- Excel -------------------------------------------------------------------------------------------------
NUMERIC_KINDS = ("int", "decimal", "money")
EXCEL_FORMATS = {
    "datetime": "dd/mm/yyyy hh:mm",
    "date": "dd/mm/yyyy",
    "time": "hh:mm:ss",
    "int": "#,##0",
    "decimal": "#,##0.00",
    "money": '"R$" #,##0.00',
}


def column_widths(
    columns: Sequence[str], sample: Sequence[Sequence[object]], kinds: list[str]
) -> list[float]:
    widths = []
    fixed = {"datetime": 17, "date": 11, "time": 9, "bool": 6}
    for index, name in enumerate(columns):
        width = fixed.get(kinds[index], 8)
        if kinds[index] not in fixed:
            for row in sample:
                value = row[index]
                if value is not None:
                    width = max(
                        width, min(len(str(value)), MAX_COLUMN_WIDTH) + (4 if kinds[index] == "money" else 1)
                    )
        widths.append(min(MAX_COLUMN_WIDTH, max(width, len(str(name)) + 3)))
    return widths


def _latin1(text: str) -> str:
    """The PDF core fonts are latin-1: keep pt-BR accents, approximate anything else."""
    try:
        text.encode("latin-1")
        return text
    except UnicodeEncodeError:
        replaced = {"\u2013": "-", "\u2014": "-", "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                    "\u2026": "...", "\u20ac": "EUR"}  # fmt: skip
        out = []
        for ch in text:
            ch = replaced.get(ch, ch)
            try:
                ch.encode("latin-1")
                out.append(ch)
            except UnicodeEncodeError:
                decomposed = unicodedata.normalize("NFKD", ch).encode("latin-1", "ignore").decode("latin-1")
                out.append(decomposed or "?")
        return "".join(out)


@dataclass(frozen=True)
class Layout:
    """What every format needs before the first row: columns, their kinds and widths (from the sample)."""

    columns: list[str]
    kinds: list[str]
    widths: list[float]

    @classmethod
    def of(cls, columns: Sequence[str], sample: Sequence[Sequence[object]]) -> Layout:
        columns = [str(c) for c in columns]
        kinds = column_kinds(columns, sample)
        return cls(columns, kinds, column_widths(columns, sample, kinds))


def take_sample(
    rows: Iterable[Sequence[object]],
) -> tuple[list[Sequence[object]], Iterable[Sequence[object]]]:
    """The first rows (at most WIDTH_SAMPLE_ROWS and about SAMPLE_MAX_BYTES), and all rows again from the start."""
    iterator = iter(rows)
    sample, size = [], 0
    for row in iterator:
        sample.append(row)
        size += sum(len(v) if isinstance(v, (str, bytes)) else 8 for v in row)
        if len(sample) >= WIDTH_SAMPLE_ROWS or size >= SAMPLE_MAX_BYTES:
            break
    return sample, itertools.chain(sample, iterator)


class XlsxWriter:
    """Sheet 'Relatório' (bold filled header, frozen, autofilter, typed number/date/currency formats, widths) and
    sheet 'Informações' (title, company, period, generated at, rows, warning), in constant_memory mode."""

    def __init__(
        self, target: str | Path | BinaryIO, layout: Layout, context: ReportContext, constant_memory=True
    ):
        self.context, self.layout = context, layout
        self.workbook = xlsxwriter.Workbook(
            target if not isinstance(target, Path) else str(target),
            {
                "constant_memory": constant_memory,
                "default_date_format": "dd/mm/yyyy",
                "strings_to_urls": False,
            },
        )
        workbook = self.workbook
        sheet = self.sheet = workbook.add_worksheet("Relatório")
        header = workbook.add_format(
            {"bold": True, "font_color": "#FFFFFF", "bg_color": "#1F4E78", "border": 1, "text_wrap": True,
             "valign": "vcenter"}
        )  # fmt: skip
        kinds = layout.kinds
        self.formats = formats = [
            workbook.add_format({"num_format": EXCEL_FORMATS[k]}) if k in EXCEL_FORMATS else None
            for k in kinds
        ]
        for index, width in enumerate(layout.widths):
            sheet.set_column(index, index, width, formats[index])
        sheet.freeze_panes(1, 0)
        sheet.write_row(0, 0, layout.columns, header)
        self.zone = ZoneInfo(context.timezone)
        direct = {
            "int": ({int, Decimal, float}, sheet.write_number),
            "decimal": ({int, Decimal, float}, sheet.write_number),
            "money": ({int, Decimal, float}, sheet.write_number),
            "date": ({date}, sheet.write_datetime),
            "time": ({time}, sheet.write_datetime),
            "bool": ({bool}, sheet.write_boolean),
            "text": (set(), None),  # strings: through `other` (Excel's 32,767-character cell limit)
            "datetime": (set(), None),  # time zones: always through `other`
        }
        self.plan = [(col, direct[kind][0], direct[kind][1], formats[col]) for col, kind in enumerate(kinds)]
        self.row_index = 0

    def _other(self, row_index: int, col: int, value: object) -> None:
        sheet, kind, fmt = self.sheet, self.layout.kinds[col], self.formats[col]
        if isinstance(value, datetime) and kind in ("datetime", "date"):
            local = value.astimezone(self.zone).replace(tzinfo=None) if value.tzinfo else value
            sheet.write_datetime(row_index, col, local, fmt)
        elif isinstance(value, date) and kind in ("datetime", "date"):
            sheet.write_datetime(row_index, col, value, fmt)
        elif (
            isinstance(value, (int, float, Decimal)) and not isinstance(value, bool) and kind in NUMERIC_KINDS
        ):
            sheet.write_number(row_index, col, value, fmt)
        else:
            text = value if isinstance(value, str) else _display(value)
            if text:
                sheet.write_string(row_index, col, text[:EXCEL_MAX_CELL_CHARS])
            else:
                sheet.write_blank(row_index, col, None)

    def write_row(self, row: Sequence[object]) -> None:
        # Hot loop: per column, the exact value types go straight to the column's typed writer.
        self.row_index += 1
        row_index, other = self.row_index, self._other
        for col, types, writer, fmt in self.plan:
            value = row[col]
            if value is None:
                continue
            if value.__class__ in types:
                writer(row_index, col, value, fmt)
            else:
                other(row_index, col, value)

    def close(self, summary: RenderSummary) -> None:
        self.sheet.autofilter(0, 0, self.row_index, max(len(self.layout.columns) - 1, 0))
        info = self.workbook.add_worksheet("Informações")
        bold = self.workbook.add_format({"bold": True})
        info.set_column(0, 0, 22)
        info.set_column(1, 1, 60)
        context = self.context
        lines = [
            ("Relatório", context.title),
            ("Empresa", context.company),
            ("Período", context.period),
            ("Gerado em", f"{context.generated_label} ({context.timezone})"),
            ("Linhas", str(summary.row_count)),
        ]
        if summary.warning:
            lines.append(("Atenção", summary.warning))
        lines.extend(context.extra.items())
        for index, (label, value) in enumerate(lines):
            info.write_string(index, 0, label, bold)
            info.write_string(index, 1, value)
        self.workbook.close()


class CsvWriter:
    """UTF-8 with BOM, `;` separator, decimal comma, dd/mm/aaaa dates (opens directly in a pt-BR Excel)."""

    def __init__(self, target: BinaryIO, layout: Layout, context: ReportContext | None = None):
        self.target = target
        target.write(b"\xef\xbb\xbf")
        self.text = io.TextIOWrapper(target, encoding="utf-8", newline="", write_through=False)
        self.writer = csv.writer(self.text, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
        self.writer.writerow(layout.columns)

    def write_row(self, row: Sequence[object]) -> None:
        self.writer.writerow([_display(value) for value in row])

    def close(self, summary: RenderSummary) -> None:
        self.text.flush()
        self.text.detach()


class PdfWriter:
    """A4 PDF (landscape beyond 6 columns): title, company, period, generated-at, then a table whose header repeats
    on every page, and "Página X de Y" in the footer. Keeps at most `max_rows` rows, each cell cut at
    PDF_MAX_CELL_CHARS characters, and draws the document when the row count is known."""

    def __init__(
        self, target: BinaryIO, layout: Layout, context: ReportContext, max_rows: int = PDF_MAX_ROWS
    ):
        self.target, self.layout, self.context, self.max_rows = target, layout, context, max_rows
        self.cells: list[list[str]] = []

    def write_row(self, row: Sequence[object]) -> None:
        if len(self.cells) >= self.max_rows:
            return
        cells = []
        for value, kind in zip(row, self.layout.kinds, strict=True):
            text = _money(value) if kind == "money" and value is not None else _display(value)
            if len(text) > PDF_MAX_CELL_CHARS:
                text = text[: PDF_MAX_CELL_CHARS - 1] + "…"
            cells.append(_latin1(text))
        self.cells.append(cells)

    def close(self, summary: RenderSummary) -> None:
        from fpdf import FPDF
        from fpdf.fonts import FontFace

        context, layout = self.context, self.layout

        class _Pdf(FPDF):
            def footer(self) -> None:
                self.set_y(-12)
                self.set_font("Helvetica", size=8)
                self.set_text_color(100)
                self.cell(0, 8, _latin1(f"{context.title} - {context.company}"), align="L")
                self.set_x(self.l_margin)
                self.cell(0, 8, f"Página {self.page_no()} de {{nb}}", align="R")

        pdf = _Pdf(orientation="L" if len(layout.columns) > 6 else "P", format="A4")
        pdf.set_title(_latin1(context.title))
        pdf.set_author(_latin1(context.company))
        pdf.set_creator("routines")
        pdf.set_auto_page_break(True, margin=15)
        pdf.alias_nb_pages()
        pdf.add_page()
        pdf.set_font("Helvetica", style="B", size=14)
        pdf.multi_cell(0, 8, _latin1(context.title), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=10)
        for line in (
            f"Empresa: {context.company}",
            f"Período: {context.period}",
            f"Gerado em: {context.generated_label} ({context.timezone})",
            f"Linhas: {summary.row_count}",
        ):
            pdf.cell(0, 6, _latin1(line), new_x="LMARGIN", new_y="NEXT")
        shown = len(self.cells)
        if summary.truncated or summary.row_count > shown:
            reason = summary.warning or "resultado limitado"
            pdf.set_text_color(180, 0, 0)
            pdf.multi_cell(0, 6, _latin1(f"Atenção: exibidas {shown} linhas ({reason})."), new_x="LMARGIN",
                           new_y="NEXT")  # fmt: skip
            pdf.set_text_color(0)
        pdf.ln(3)
        font_size = 8 if len(layout.columns) <= 8 else 6
        pdf.set_font("Helvetica", size=font_size)
        aligns = tuple("RIGHT" if k in NUMERIC_KINDS else "LEFT" for k in layout.kinds)
        if not self.cells or not layout.columns:
            pdf.cell(0, 6, _latin1("Nenhuma linha retornada pela consulta."), new_x="LMARGIN", new_y="NEXT")
        else:
            with pdf.table(
                col_widths=tuple(layout.widths),
                text_align=aligns,
                headings_style=FontFace(emphasis="BOLD", color=255, fill_color=(31, 78, 120)),
                line_height=font_size * 0.55,
                repeat_headings=1,
                first_row_as_headings=True,
            ) as pdf_table:
                pdf_table.row([_latin1(str(c)) for c in layout.columns])
                for cells in self.cells:
                    pdf_table.row(cells)
        self.cells = []
        self.target.write(bytes(pdf.output()))


WRITERS = {"xlsx": XlsxWriter, "pdf": PdfWriter, "csv": CsvWriter}


def render_files(
    columns: Sequence[str],
    rows: Iterable[Sequence[object]],
    context: ReportContext,
    targets: dict[str, BinaryIO],
    summary_of=None,
) -> tuple[RenderSummary, list[Sequence[object]]]:
    """Read `rows` once and write every format of `targets` ({"xlsx": file, ...}) at the same time.

    `summary_of(row_count)` returns the RenderSummary once the rows are read (default: not truncated).
    Returns it and the first rows (the sample, for a preview)."""
    sample, all_rows = take_sample(rows)
    layout = Layout.of(columns, sample)
    writers = [WRITERS[fmt](target, layout, context) for fmt, target in targets.items()]
    count = 0
    for row in all_rows:
        count += 1
        for writer in writers:
            writer.write_row(row)
    summary = summary_of(count) if summary_of else RenderSummary(count)
    for writer in writers:
        writer.close(summary)
    return summary, sample[:10]


def render(table: ReportTable, context: ReportContext, fmt: str) -> bytes:
    """One format of a small in-memory table, as bytes."""
    if fmt not in WRITERS:
        raise ValueError(f"unknown report format {fmt!r}")
    buffer = io.BytesIO()
    summary = RenderSummary(table.row_count, table.truncated, table.note)
    render_files(table.columns, table.rows, context, {fmt: buffer}, lambda _count: summary)
    return buffer.getvalue()


def render_xlsx(table: ReportTable, context: ReportContext, constant_memory: bool = True) -> bytes:
    buffer = io.BytesIO()
    sample, rows = take_sample(table.rows)
    writer = XlsxWriter(buffer, Layout.of(table.columns, sample), context, constant_memory=constant_memory)
    for row in rows:
        writer.write_row(row)
    writer.close(RenderSummary(table.row_count, table.truncated, table.note))
    return buffer.getvalue()


def render_pdf(table: ReportTable, context: ReportContext) -> bytes:
    return render(table, context, "pdf")


def render_csv(table: ReportTable, context: ReportContext | None = None) -> bytes:
    return render(table, context or ReportContext("", "", "", datetime.now().astimezone()), "csv")


def preview_markdown(
    columns: Sequence[str], rows: Sequence[Sequence[object]], row_count: int, max_rows: int = 10
) -> str:
    """The first rows as a Markdown table (Dagster metadata preview)."""

    def cell(value: object) -> str:
        text = _display(value).replace("|", "\\|").replace("\n", " ")
        return text if len(text) <= 80 else text[:79] + "…"

    lines = ["| " + " | ".join(cell(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    for row in rows[:max_rows]:
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    if row_count > max_rows:
        lines.append(f"\n… {row_count - max_rows} more rows")
    return "\n".join(lines)
