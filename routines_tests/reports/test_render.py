"""Rendered files read back with openpyxl (cell by cell), pypdf (text) and csv."""

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import openpyxl
import pypdf

from routines.reports.render import (
    ReportContext,
    ReportTable,
    preview_markdown,
    render_csv,
    render_pdf,
    render_xlsx,
)

COLUMNS = ["Código", "Descrição", "Quantidade", "Valor total", "Taxa", "Vencimento", "Atualizado em", "Ativo"]
ROWS = [
    (
        1,
        "Fatura ção/ã",
        12,
        Decimal("15230.45"),
        Decimal("0.125"),
        date(2018, 2, 14),
        datetime(2018, 2, 14, 9, 30),
        True,
    ),
    (
        2,
        "Serviço SAT",
        3,
        Decimal("-10.50"),
        None,
        date(2026, 11, 23),
        datetime(2026, 11, 23, 18, 5, 7),
        False,
    ),
    (3, None, 0, Decimal("0"), Decimal("1"), None, None, None),
]
CONTEXT = ReportContext(
    title="Resumo de faturas",
    company="BEG Telecomunicações Ltda.",
    period="14/02/2018",
    generated_at=datetime(2018, 2, 14, 10, 0, tzinfo=UTC),
)


def table(rows=ROWS, truncated=False) -> ReportTable:
    return ReportTable(columns=COLUMNS, rows=rows, truncated=truncated)


def test_excel_cells_formats_header_filter_and_info_sheet():
    data = render_xlsx(table(), CONTEXT)
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["Relatório", "Informações"]
    sheet = book["Relatório"]
    assert [c.value for c in sheet[1]] == COLUMNS
    assert all(c.font.b for c in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:H4"
    # every data cell, value and number format
    expected_formats = [
        "#,##0",
        None,
        "#,##0",
        '"R$" #,##0.00',
        "#,##0.00",
        "dd/mm/yyyy",
        "dd/mm/yyyy hh:mm",
        None,
    ]
    for row_number, row in enumerate(ROWS, start=2):
        for col_number, value in enumerate(row, start=1):
            cell = sheet.cell(row_number, col_number)
            if value is None:
                assert cell.value is None
                continue
            if isinstance(value, Decimal):
                assert cell.value == float(value)
            elif isinstance(value, date) and not isinstance(value, datetime):
                assert cell.value == datetime(value.year, value.month, value.day)
            else:
                assert cell.value == value
            if expected_formats[col_number - 1]:
                assert cell.number_format == expected_formats[col_number - 1], (row_number, col_number)
    assert sheet.max_row == 4
    widths = {k: v.width for k, v in sheet.column_dimensions.items()}
    assert widths["B"] >= len("Fatura ção/ã")
    info = {row[0].value: row[1].value for row in book["Informações"].iter_rows()}
    assert info["Relatório"] == "Resumo de faturas"
    assert info["Empresa"] == "BEG Telecomunicações Ltda."
    assert info["Período"] == "14/02/2018"
    assert info["Gerado em"] == "14/02/2018 08:00 (America/Sao_Paulo)"  # 10:00 UTC in DST (-02:00)
    assert info["Linhas"] == "3"


def test_excel_in_memory_mode_gives_the_same_cells():
    fast = openpyxl.load_workbook(io.BytesIO(render_xlsx(table(), CONTEXT, constant_memory=True)))
    slow = openpyxl.load_workbook(io.BytesIO(render_xlsx(table(), CONTEXT, constant_memory=False)))
    for a, b in zip(
        fast["Relatório"].iter_rows(values_only=True),
        slow["Relatório"].iter_rows(values_only=True),
        strict=True,
    ):
        assert a == b


def test_pdf_text_has_header_table_and_pages():
    many = [(i, f"Item {i}", i, Decimal(i) * 10, None, date(2018, 2, 14), None, True) for i in range(120)]
    data = render_pdf(table(ROWS + many), CONTEXT)
    reader = pypdf.PdfReader(io.BytesIO(data))
    assert len(reader.pages) >= 2
    first = reader.pages[0].extract_text()
    for expected in [
        "Resumo de faturas",
        "Empresa: BEG Telecomunicações Ltda.",
        "Período: 14/02/2018",
        "Gerado em: 14/02/2018 08:00",
        "Linhas: 123",
        "Fatura ção/ã",
        "R$ 15.230,45",
        "R$ -10,50",
        "14/02/2018",
    ]:
        assert expected in first, expected
    last = reader.pages[-1].extract_text()
    assert "Código" in last  # the header repeats on every page
    assert "Item 119" in last
    assert f"Página {len(reader.pages)} de {len(reader.pages)}" in last


def test_pdf_of_an_empty_and_a_truncated_result():
    empty = pypdf.PdfReader(io.BytesIO(render_pdf(table([]), CONTEXT))).pages[0].extract_text()
    assert "Nenhuma linha retornada" in empty
    cut = (
        pypdf.PdfReader(io.BytesIO(render_pdf(table(ROWS, truncated=True), CONTEXT))).pages[0].extract_text()
    )
    assert "resultado limitado" in cut


def test_csv_is_utf8_with_bom_semicolons_and_ptbr_values():
    data = render_csv(table(), CONTEXT)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data[3:].decode("utf-8")), delimiter=";"))
    assert rows[0] == COLUMNS
    assert rows[1] == [
        "1",
        "Fatura ção/ã",
        "12",
        "15230,45",
        "0,125",
        "14/02/2018",
        "14/02/2018 09:30:00",
        "Sim",
    ]
    assert rows[3] == ["3", "", "0", "0", "1", "", "", ""]


def test_preview_is_a_markdown_table():
    preview = preview_markdown(COLUMNS, ROWS, len(ROWS), max_rows=2)
    lines = preview.splitlines()
    assert lines[0].startswith("| Código | Descrição |")
    assert len([line for line in lines if line.startswith("| ")]) == 3
    assert "1 more rows" in preview


def test_excel_mixed_columns_and_aware_datetimes():
    rows = [
        (1, datetime(2018, 2, 14, 12, 0, tzinfo=UTC), date(2018, 2, 14)),
        ("n/d", datetime(2018, 2, 15, 9, 0), datetime(2018, 2, 15, 9, 30)),
        (True, None, "sem data"),
    ]
    data = render_xlsx(ReportTable(["Número", "Quando", "Dia"], rows), CONTEXT)
    sheet = openpyxl.load_workbook(io.BytesIO(data))["Relatório"]
    values = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert values == [
        [1, datetime(2018, 2, 14, 10, 0), datetime(2018, 2, 14)],  # 12:00 UTC = 10:00 in Sao Paulo (DST)
        ["n/d", datetime(2018, 2, 15, 9, 0), datetime(2018, 2, 15, 9, 30)],
        ["Sim", None, "sem data"],
    ]
