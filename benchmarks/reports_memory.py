"""Benchmark: peak memory of a report run vs the size of the files it writes (rows streamed to the renderers).

Each case runs in a child process of its own (SQLite business database, the sandboxed query, the renderers
writing to files); the child reports its peak RSS (VmHWM). The baseline is a child that imports the same modules
and opens the same query without reading it. Goal: (peak - baseline) within a small multiple of the output.
Cases: 100,000 rows x 10 columns (xlsx, csv, pdf) and 600 rows x 1 MB (csv: the whole data; xlsx: Excel keeps
32,767 characters per cell). With --email, the 100,000-row case runs the whole execution, e-mail included, to a
local SMTP server.
Run: .venv/bin/python benchmarks/reports_memory.py [--email]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

WIDE = (
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}) "
    "SELECT i AS codigo, 'Fatura ' || i || ' servico de telecom' AS descricao, i * 1.25 AS valor_total, "
    "i % 997 / 7.0 AS taxa, date('2026-01-01', '+' || (i % 365) || ' days') AS vencimento, "
    "datetime('2026-01-01 08:00', '+' || i || ' minutes') AS atualizado_em, i % 1000 AS quantidade, "
    "'Cliente ' || (i % 5000) AS cliente, -(i % 7919) / 10.0 AS saldo, i % 2 AS ativo FROM n"
)
TALL = (
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}) "
    "SELECT i AS codigo, printf('%.*c', 1000000, 'x') AS conteudo FROM n"
)

CHILD = r"""
import json, sys, time
from datetime import UTC, datetime
from pathlib import Path
from routines.database.engine import get_engine
from routines.reports.query import QueryLimits, open_report_query
from routines.reports.render import RenderSummary, ReportContext, render_files

url, sql, formats, out, mode = sys.argv[1:6]
engine = get_engine(url)
limits = QueryLimits(max_rows=1_000_000, max_bytes=10**12, timeout_seconds=3600)
start = time.perf_counter()
with open_report_query(engine, sql, 1, limits) as rows:
    if mode == "render":
        handles = {f: open(Path(out) / f"report.{f}", "wb") for f in formats.split(",")}
        context = ReportContext("Benchmark", "BEG", "01/01/2026", datetime.now(UTC))
        summary, _ = render_files(rows.columns, rows, context, handles, lambda n: RenderSummary(n))
        for handle in handles.values():
            handle.close()
elapsed = time.perf_counter() - start
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) * 1024
print(json.dumps({"peak": peak, "seconds": elapsed}))
"""

CHILD_EMAIL = r"""
import json, sys, time
from routines.database.engine import get_engine
from routines.files import FileStore
from routines.reports.config import ReportsConfig
from routines.reports.service import run_execution
url, report_id, store = sys.argv[1:4]
start = time.perf_counter()
result = run_execution(get_engine(url), FileStore(store), report_id=int(report_id),
                       config=ReportsConfig(max_rows=1_000_000, max_bytes=10**12, smtp_attempts=1))
elapsed = time.perf_counter() - start
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) * 1024
print(json.dumps({"peak": peak, "seconds": elapsed, "size": sum(f["size"] for f in result.files)}))
"""


def child(code: str, *args: str) -> dict:
    output = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True, text=True)
    return json.loads(output.stdout.strip().splitlines()[-1])


def mib(value: float) -> str:
    return f"{value / 2**20:,.1f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--email", action="store_true", help="also the whole execution with e-mail (100k rows)"
    )
    parser.add_argument("--email-only", action="store_true", help="only the whole execution with e-mail")
    args = parser.parse_args()
    from routines.companies.demo import seed_demo
    from routines.database import migrate
    from routines.database.engine import get_engine, session_scope

    print(f"Python {platform.python_version()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/business.db"
        migrate.upgrade(url)
        with session_scope(get_engine(url)) as session:
            seed_demo(session)
        cases = [
            ("100,000 rows x 10 columns", WIDE.format(rows=100_000), "xlsx,csv,pdf"),
            ("600 rows x 1 MB", TALL.format(rows=600), "csv,xlsx"),
        ]
        if args.email_only:
            _email_case(url, folder)
            return
        print("| case | output files | baseline RSS | peak RSS | (peak - baseline) / output | time |")
        print("|---|---|---|---|---|---|")
        for name, sql, formats in cases:
            out = Path(folder) / name.split()[0].replace(",", "")
            out.mkdir()
            baseline = child(CHILD, url, sql, formats, str(out), "open")
            measured = child(CHILD, url, sql, formats, str(out), "render")
            sizes = {p.suffix[1:]: p.stat().st_size for p in out.iterdir()}
            total = sum(sizes.values())
            ratio = (measured["peak"] - baseline["peak"]) / total
            files = ", ".join(f"{fmt} {mib(size)}" for fmt, size in sizes.items())
            print(f"| {name} | {files} (total {mib(total)}) | {mib(baseline['peak'])} | {mib(measured['peak'])} "
                  f"| **{ratio:.2f}x** | {measured['seconds']:.1f} s |")  # fmt: skip
        if args.email:
            _email_case(url, folder)


def _email_case(url: str, folder: str) -> None:
    from aiosmtpd.controller import Controller

    from routines.database.engine import get_engine, session_scope
    from routines.reports.models import ReportDefinition
    from routines.reports.service import save_definition, set_smtp_settings

    class Sink:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            return "250 OK"

    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Sink(), hostname="127.0.0.1", port=port, data_size_limit=0)
    controller.start()
    try:
        with session_scope(get_engine(url)) as session:
            set_smtp_settings(
                session, 1, host="127.0.0.1", port=port, security="none", from_address="r@beg.com.br"
            )
            definition = ReportDefinition(company_id=1, name="Benchmark", query_sql=WIDE.format(rows=100_000),
                                          format="xlsx", recipients_to=["a@beg.com.br"], recipients_cc=[],
                                          cron="0 8 * * *", active=False)  # fmt: skip
            save_definition(session, definition)
            definition.active = True
            report_id = definition.id
        measured = child(CHILD_EMAIL, url, str(report_id), str(Path(folder) / "store"))
        print(f"\nwhole execution with e-mail (100,000 rows, xlsx {mib(measured['size'])}): peak RSS "
              f"{mib(measured['peak'])}, {measured['seconds']:.1f} s")  # fmt: skip
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
