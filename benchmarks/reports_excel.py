"""Benchmark: the reports Excel renderer vs a bare xlsxwriter write of the same cells (same run).

100,000 rows x 10 columns (int, text, money Decimal, float, date, datetime, int, text, Decimal, bool).
Goal: renderer time <= 1.3x the bare write (formatting must not cost more), bounded memory (constant_memory).
Run: .venv/bin/python benchmarks/reports_excel.py [--rows N]
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import platform
import time
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import xlsxwriter

from routines.reports.render import ReportContext, ReportTable, render_xlsx

COLUMNS = ["Código", "Descrição", "Valor total", "Taxa", "Vencimento", "Atualizado em", "Quantidade", "Cliente",
           "Saldo", "Ativo"]  # fmt: skip


def make_rows(n: int) -> list[tuple]:
    base_day, base_time = date(2026, 1, 1), datetime(2026, 1, 1, 8, 0)
    return [
        (i, f"Fatura {i:07d} serviço de telecom", Decimal(i % 100000) / 100 + Decimal("1000.25"), (i % 997) / 7.0,
         base_day + timedelta(days=i % 365), base_time + timedelta(minutes=i), i % 1000, f"Cliente {i % 5000}",
         Decimal(-i % 7919) / 10, i % 2 == 0)
        for i in range(n)
    ]  # fmt: skip


def bare_write(rows: list[tuple]) -> bytes:
    """The baseline: the same cells written with xlsxwriter's generic write(), no formats, same mode."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"constant_memory": True, "default_date_format": "dd/mm/yyyy"})
    sheet = workbook.add_worksheet("Relatório")
    sheet.write_row(0, 0, COLUMNS)
    write = sheet.write
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            write(r, c, value)
    workbook.close()
    return buffer.getvalue()


def renderer(rows: list[tuple]) -> bytes:
    context = ReportContext("Benchmark", "BEG Telecomunicações Ltda.", "01/01/2026", datetime.now(UTC))
    return render_xlsx(ReportTable(COLUMNS, rows), context, constant_memory=True)


def timed(fn, rows, repeat: int) -> tuple[float, int]:
    best, size = float("inf"), 0
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        size = len(fn(rows))
        best = min(best, time.perf_counter() - start)
    return best, size


def peak_memory(fn, rows) -> float:
    gc.collect()
    tracemalloc.start()
    fn(rows)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    rows = make_rows(args.rows)
    print(
        f"{args.rows:,} rows x {len(COLUMNS)} columns ({args.rows * len(COLUMNS):,} cells), best of {args.repeat}"
    )
    bare_s, bare_size = timed(bare_write, rows, args.repeat)
    ours_s, ours_size = timed(renderer, rows, args.repeat)
    print(f"bare xlsxwriter write():  {bare_s:6.2f} s  {bare_size / 2**20:5.1f} MiB file")
    print(
        f"reports renderer:         {ours_s:6.2f} s  {ours_size / 2**20:5.1f} MiB file (formats, widths, filter, freeze)"
    )
    ratio = ours_s / bare_s
    print(f"ratio renderer / bare:    {ratio:6.2f}x  (goal <= 1.30x: {'OK' if ratio <= 1.3 else 'MISSED'})")
    small = rows[: max(1, args.rows // 10)]
    in_memory = lambda r: render_xlsx(  # noqa: E731
        ReportTable(COLUMNS, r), ReportContext("B", "C", "P", datetime.now(UTC)), constant_memory=False
    )
    print("peak Python memory while rendering (tracemalloc, input rows excluded):")
    print(f"  constant_memory, {len(rows):>7,} rows: {peak_memory(renderer, rows):7.1f} MiB")
    print(f"  constant_memory, {len(small):>7,} rows: {peak_memory(renderer, small):7.1f} MiB")
    print(f"  in-memory mode,  {len(small):>7,} rows: {peak_memory(in_memory, small):7.1f} MiB")


if __name__ == "__main__":
    main()
