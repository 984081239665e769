"""`routines calendar ...` through routines.cli.main, as an operator runs it."""

from __future__ import annotations

import pytest

from routines.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["calendar", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_is_business_day(capsys):
    assert run(capsys, "is-business-day", "2025-03-03") == (
        1,
        "2025-03-03: não é dia útil (ANBIMA): Carnaval\n",
        "",
    )
    assert run(capsys, "is-business-day", "2025-03-05", "--calendar", "B3") == (
        0,
        "2025-03-05: dia útil (B3)\n",
        "",
    )
    code, out, _ = run(capsys, "is-business-day", "2025-12-24", "--calendar", "b3")
    assert code == 1 and out.endswith("Véspera de Natal\n")
    code, out, _ = run(capsys, "is-business-day", "2025-03-08")
    assert code == 1 and out.endswith(": sábado\n")


def test_list_holidays_nth_add(capsys):
    code, out, _ = run(capsys, "list", "--calendar", "B3", "--start", "2025-12-20", "--end", "2026-01-06")
    assert code == 0
    assert out.split() == [
        "2025-12-22",
        "2025-12-23",
        "2025-12-26",
        "2025-12-29",
        "2025-12-30",
        "2026-01-02",
        "2026-01-05",
        "2026-01-06",
    ]
    code, out, _ = run(capsys, "holidays", "--calendar", "ANBIMA", "--year", "2025")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 13
    assert lines[1] == "2025-03-03\tCarnaval" and lines[-1] == "2025-12-25\tNatal"
    assert run(capsys, "nth", "--calendar", "ANBIMA", "--month", "2025-03", "5") == (0, "2025-03-11\n", "")
    assert run(capsys, "nth", "--calendar", "ANBIMA", "--month", "2025-03", "-1") == (0, "2025-03-31\n", "")
    assert run(capsys, "add", "--calendar", "ANBIMA", "2025-02-28", "1") == (0, "2025-03-05\n", "")
    assert run(capsys, "add", "--calendar", "ANBIMA", "2025-03-05", "-1") == (0, "2025-02-28\n", "")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["is-business-day", "2025-02-30"], "invalid date '2025-02-30'"),
        (["is-business-day", "2025-03-03", "--calendar", "NASDAQ"], "unknown calendar 'NASDAQ'"),
        (["list", "--start", "2025-01-10", "--end", "2025-01-01"], "is before --start"),
        (["nth", "--month", "2025-13", "1"], "invalid month '2025-13'"),
        (["nth", "--month", "2025-03", "0"], "N must be"),
        (["nth", "--month", "2025-03", "30"], "no business day number 30"),
        (["holidays", "--year", "1700"], "outside the supported range"),
        (["add", "03/05/2025", "1"], "invalid date '03/05/2025'"),
    ],
)
def test_bad_input_is_one_error_line_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("routines: error: ") and message in err


def test_set_day_writes_a_company_calendar(capsys, db_url):
    code, out, _ = run(
        capsys,
        "set-day",
        "--calendar",
        "beg",
        "2025-12-26",
        "closed",
        "Recesso de fim de ano",
        "--base",
        "ANBIMA",
    )
    assert code == 0 and out == "BEG: 2025-12-26 fechado (Recesso de fim de ano)\n"
    assert run(capsys, "is-business-day", "2025-12-26", "--calendar", "BEG")[:2] == (
        1,
        "2025-12-26: não é dia útil (BEG): Recesso de fim de ano\n",
    )
    assert run(capsys, "set-day", "--calendar", "BEG", "2025-12-26", "open", "Expediente normal")[0] == 0
    assert run(capsys, "is-business-day", "2025-12-26", "--calendar", "BEG")[0] == 0
    code, _, err = run(capsys, "set-day", "--calendar", "OTHER", "2025-12-26", "closed", "x")
    assert code == 2 and "give its base" in err
