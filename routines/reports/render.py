"""Report files rendered in memory: Excel (xlsxwriter), PDF (fpdf2) and CSV. Pure (no DB, no Dagster).

Formats follow pt-BR conventions: dates dd/mm/aaaa, decimal comma in CSV, currency "R$" for money-like
columns (name contains valor, preco, preço, price, amount, total, saldo, custo).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
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


@dataclass
class ReportTable:
    columns: list[str]
    rows: Sequence[Sequence[object]]
    truncated: bool = False  # the row limit cut the result

    @property
    def row_count(self) -> int:
        return len(self.rows)


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
def column_kinds(table: ReportTable) -> list[str]:
    """Per column: datetime, date, time, int, decimal, money, bool or text (first non-null value decides)."""
    kinds = []
    for index, name in enumerate(table.columns):
        kind = "text"
        for row in table.rows[:WIDTH_SAMPLE_ROWS]:
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


def _column_widths(table: ReportTable, kinds: list[str]) -> list[float]:
    widths = []
    fixed = {"datetime": 17, "date": 11, "time": 9, "bool": 6}
    for index, name in enumerate(table.columns):
        width = fixed.get(kinds[index], 8)
        if kinds[index] not in fixed:
            for row in table.rows[:WIDTH_SAMPLE_ROWS]:
                value = row[index]
                if value is not None:
                    width = max(width, len(str(value)) + (4 if kinds[index] == "money" else 1))
        widths.append(min(MAX_COLUMN_WIDTH, max(width, len(str(name)) + 3)))
    return widths


def render_xlsx(table: ReportTable, context: ReportContext, constant_memory: bool = True) -> bytes:
    """Excel workbook: sheet 'Relatório' (bold filled header, frozen, autofilter, typed number/date/currency
    formats, column widths) and sheet 'Informações' (title, company, period, generated at, rows).

    constant_memory=True streams rows to a temporary file (bounded memory for big reports)."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(
        buffer,
        {"constant_memory": constant_memory, "default_date_format": "dd/mm/yyyy", "strings_to_urls": False},
    )
    sheet = workbook.add_worksheet("Relatório")
    header = workbook.add_format(
        {"bold": True, "font_color": "#FFFFFF", "bg_color": "#1F4E78", "border": 1, "text_wrap": True,
         "valign": "vcenter"}
    )  # fmt: skip
    kinds = column_kinds(table)
    formats = [
        workbook.add_format({"num_format": EXCEL_FORMATS[k]}) if k in EXCEL_FORMATS else None for k in kinds
    ]
    for index, width in enumerate(_column_widths(table, kinds)):
        sheet.set_column(index, index, width, formats[index])
    sheet.freeze_panes(1, 0)
    sheet.write_row(0, 0, table.columns, header)

    # Hot loop: per column, the exact value types written directly with the column's typed writer; any other
    # value (mixed column, tz-aware datetime, bool in a number column...) goes through `other`.
    zone = ZoneInfo(context.timezone)
    write_string, write_blank, write_datetime = sheet.write_string, sheet.write_blank, sheet.write_datetime

    def other(row_index: int, col: int, value: object) -> None:
        kind, fmt = kinds[col], formats[col]
        if isinstance(value, datetime) and kind in ("datetime", "date"):
            local = value.astimezone(zone).replace(tzinfo=None) if value.tzinfo else value
            write_datetime(row_index, col, local, fmt)
        elif isinstance(value, date) and kind in ("datetime", "date"):
            write_datetime(row_index, col, value, fmt)
        elif (
            isinstance(value, (int, float, Decimal)) and not isinstance(value, bool) and kind in NUMERIC_KINDS
        ):
            sheet.write_number(row_index, col, value, fmt)
        else:
            text = value if isinstance(value, str) else _display(value)
            write_string(row_index, col, text) if text else write_blank(row_index, col, None)

    direct = {
        "int": ({int, Decimal, float}, sheet.write_number),
        "decimal": ({int, Decimal, float}, sheet.write_number),
        "money": ({int, Decimal, float}, sheet.write_number),
        "date": ({date}, sheet.write_datetime),
        "time": ({time}, sheet.write_datetime),
        "bool": ({bool}, sheet.write_boolean),
        "text": ({str}, sheet.write_string),
        "datetime": (set(), None),  # time zones: always through `other`
    }
    plan = [(col, direct[kind][0], direct[kind][1], formats[col]) for col, kind in enumerate(kinds)]
    row_index = 0
    for row_index, row in enumerate(table.rows, start=1):
        for col, types, writer, fmt in plan:
            value = row[col]
            if value is None:
                continue
            if value.__class__ in types:
                writer(row_index, col, value, fmt)
            else:
                other(row_index, col, value)
    sheet.autofilter(0, 0, max(row_index, 0), max(len(table.columns) - 1, 0))

    info = workbook.add_worksheet("Informações")
    bold = workbook.add_format({"bold": True})
    info.set_column(0, 0, 22)
    info.set_column(1, 1, 60)
    lines = [
        ("Relatório", context.title),
        ("Empresa", context.company),
        ("Período", context.period),
        ("Gerado em", f"{context.generated_label} ({context.timezone})"),
        ("Linhas", str(table.row_count)),
    ]
    if table.truncated:
        lines.append(("Atenção", f"resultado limitado a {table.row_count} linhas"))
    lines.extend(context.extra.items())
    for index, (label, value) in enumerate(lines):
        info.write_string(index, 0, label, bold)
        info.write_string(index, 1, value)
    workbook.close()
    return buffer.getvalue()


# -- CSV ---------------------------------------------------------------------------------------------------
def render_csv(table: ReportTable, context: ReportContext | None = None) -> bytes:
    """UTF-8 with BOM, `;` separator, decimal comma, dd/mm/aaaa dates (opens directly in a pt-BR Excel)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow([_display(value) for value in row])
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


# -- PDF ---------------------------------------------------------------------------------------------------
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


def render_pdf(table: ReportTable, context: ReportContext, max_rows: int = PDF_MAX_ROWS) -> bytes:
    """A4 PDF (landscape beyond 6 columns): title, company, period, generated-at, then a table whose header
    repeats on every page, and "Página X de Y" in the footer. At most `max_rows` rows (noted when cut)."""
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    class _Pdf(FPDF):
        def footer(self) -> None:
            self.set_y(-12)
            self.set_font("Helvetica", size=8)
            self.set_text_color(100)
            label = _latin1(f"{context.title} - {context.company}")
            self.cell(0, 8, label, align="L")
            self.set_x(self.l_margin)
            self.cell(0, 8, f"Página {self.page_no()} de {{nb}}", align="R")

    orientation = "L" if len(table.columns) > 6 else "P"
    pdf = _Pdf(orientation=orientation, format="A4")
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
        f"Linhas: {table.row_count}",
    ):
        pdf.cell(0, 6, _latin1(line), new_x="LMARGIN", new_y="NEXT")
    shown = table.rows[:max_rows]
    if table.truncated or len(table.rows) > len(shown):
        pdf.set_text_color(180, 0, 0)
        pdf.cell(0, 6, _latin1(f"Atenção: exibidas {len(shown)} linhas (resultado limitado)."), new_x="LMARGIN",
                 new_y="NEXT")  # fmt: skip
        pdf.set_text_color(0)
    pdf.ln(3)
    kinds = column_kinds(table)
    font_size = 8 if len(table.columns) <= 8 else 6
    pdf.set_font("Helvetica", size=font_size)
    aligns = tuple("RIGHT" if k in ("int", "decimal", "money") else "LEFT" for k in kinds)
    widths = _column_widths(table, kinds)
    if not table.rows or not table.columns:
        pdf.cell(0, 6, _latin1("Nenhuma linha retornada pela consulta."), new_x="LMARGIN", new_y="NEXT")
    else:
        with pdf.table(
            col_widths=tuple(widths),
            text_align=aligns,
            headings_style=FontFace(emphasis="BOLD", color=255, fill_color=(31, 78, 120)),
            line_height=font_size * 0.55,
            repeat_headings=1,
            first_row_as_headings=True,
        ) as pdf_table:
            pdf_table.row([_latin1(str(c)) for c in table.columns])
            for row in shown:
                cells = []
                for value, kind in zip(row, kinds, strict=True):
                    cells.append(
                        _latin1(_money(value) if kind == "money" and value is not None else _display(value))
                    )
                pdf_table.row(cells)
    return bytes(pdf.output())


def render(table: ReportTable, context: ReportContext, fmt: str) -> bytes:
    if fmt == "xlsx":
        return render_xlsx(table, context)
    if fmt == "pdf":
        return render_pdf(table, context)
    if fmt == "csv":
        return render_csv(table, context)
    raise ValueError(f"unknown report format {fmt!r}")


def preview_markdown(table: ReportTable, max_rows: int = 10) -> str:
    """The first rows as a Markdown table (Dagster metadata preview)."""

    def cell(value: object) -> str:
        return _display(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(c) for c in table.columns) + " |", "|" + "---|" * len(table.columns)]
    for row in table.rows[:max_rows]:
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    if table.row_count > max_rows:
        lines.append(f"\n… {table.row_count - max_rows} more rows")
    return "\n".join(lines)
