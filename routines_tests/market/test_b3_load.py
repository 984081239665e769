"""Loading COTAHIST into b3_quotes on SQLite and PostgreSQL: exact values, idempotence, all-or-nothing."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from routines.cli import main
from routines.database.engine import session_scope
from routines.errors import InputFileError
from routines.market.b3_load import count_rows, duplicate_keys, load_cotahist, price_order_violations
from routines.market.cotahist import COLUMNS
from routines.market.models import B3Quote
from routines_tests.market.fixtures import REAL_DAY, build_txt, quote, real_txt, real_zip, sample_quotes

DAY = date(2024, 3, 5)


def _table(engine) -> list[tuple]:
    """Every row's content (not its id), in a stable order."""
    statement = select(*[getattr(B3Quote, c) for c in COLUMNS]).order_by(
        B3Quote.trade_date, B3Quote.ticker, B3Quote.market_type, B3Quote.term_days, B3Quote.expiry_date
    )
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(statement)]


def test_real_file_loads_with_exact_values_and_is_idempotent(engine):
    result = load_cotahist(real_zip(), engine, name="COTAHIST_D25062021.ZIP", expected_date=REAL_DAY)
    assert result.rows == 7518 and result.days == [REAL_DAY]
    assert result.summary.trailer_count == 7520
    first = _table(engine)
    assert len(first) == 7518
    with session_scope(engine) as connection:
        petr4 = connection.execute(
            select(B3Quote).where(B3Quote.ticker == "PETR4", B3Quote.trade_date == REAL_DAY)
        ).scalar_one()
        option = connection.execute(select(B3Quote).where(B3Quote.ticker == "PETRG75")).scalar_one()
        bova = connection.execute(select(B3Quote).where(B3Quote.ticker == "BOVA11")).scalar_one()
    assert (petr4.open, petr4.high, petr4.low, petr4.close, petr4.average) == tuple(
        Decimal(v) for v in ("29.69", "29.79", "28.95", "29.10", "29.41")
    )
    assert (petr4.trades, petr4.quantity, petr4.volume) == (78340, 84950900, Decimal("2498432530.00"))
    assert (petr4.bdi_code, petr4.market_type, petr4.isin, petr4.expiry_date) == (
        "02",
        "010",
        "BRPETRACNPR6",
        None,
    )
    assert bova.volume == Decimal("696219547.22") and bova.bdi_code == "14"
    from routines_tests.market.test_cotahist import KNOWN

    with session_scope(engine) as session:
        for ticker, (bdi, market, o, h, lo, c, avg, trades, quantity, volume, isin) in KNOWN.items():
            row = session.execute(
                select(B3Quote).where(B3Quote.ticker == ticker, B3Quote.market_type == market)
            ).scalar_one()
            assert (row.bdi_code, row.open, row.high, row.low, row.close, row.average) == (
                bdi,
                *(Decimal(v) for v in (o, h, lo, c, avg)),
            )
            assert (row.trades, row.quantity, row.volume, row.isin, row.quote_factor) == (
                trades,
                quantity,
                Decimal(volume),
                isin,
                1,
            )
    assert (option.close, option.strike, option.expiry_date) == (
        Decimal("0.01"),
        Decimal("38.21"),
        date(2021, 7, 16),
    )
    assert option.term_days == 0

    again = load_cotahist(real_txt(), engine, expected_date=REAL_DAY)
    assert again.rows == 7518
    assert _table(engine) == first  # same content, nothing doubled
    assert duplicate_keys(engine, [REAL_DAY]) == (0, [])
    assert price_order_violations(engine, [REAL_DAY])[0] == 0


def test_a_failed_load_leaves_the_table_as_it_was(engine):
    load_cotahist(build_txt(DAY, sample_quotes(DAY)), engine, expected_date=DAY)
    other = date(2024, 3, 4)
    load_cotahist(build_txt(other, sample_quotes(other)[:2]), engine, expected_date=other)
    before = _table(engine)
    bad_quotes = sample_quotes(DAY) + [quote(DAY, "ZZZZ3")]
    # The trailer is only read at the end, after the rows were sent: the transaction must roll back.
    with pytest.raises(InputFileError, match="TOTREG"):
        load_cotahist(build_txt(DAY, bad_quotes, count=99), engine, expected_date=DAY)
    assert _table(engine) == before
    broken = sample_quotes(DAY)
    broken[4] = broken[4][:100] + "x" + broken[4][101:]
    with pytest.raises(InputFileError, match="line 6, field PREMED"):
        load_cotahist(build_txt(DAY, broken), engine, expected_date=DAY, chunk_records=2)
    assert _table(engine) == before
    # A good new file for DAY replaces DAY only.
    load_cotahist(build_txt(DAY, sample_quotes(DAY)[:3]), engine, expected_date=DAY)
    assert count_rows(engine, DAY) == 3 and count_rows(engine, other) == 2


def test_multi_day_file_replaces_exactly_the_requested_days(engine):
    days = [date(2024, 3, 4), date(2024, 3, 5), date(2024, 3, 6)]
    quotes = [q for d in days for q in sample_quotes(d)]
    monthly = build_txt(date(2024, 3, 28), quotes)
    load_cotahist(build_txt(days[0], sample_quotes(days[0])[:1]), engine, expected_date=days[0])
    result = load_cotahist(monthly, engine, name="COTAHIST_M032024.TXT", days=days[1:])
    assert result.rows_per_day == {days[1]: 5, days[2]: 5}
    assert [count_rows(engine, d) for d in days] == [1, 5, 5]
    everything = load_cotahist(monthly, engine, name="COTAHIST_M032024.TXT")  # the file's own days
    assert everything.days == days and [count_rows(engine, d) for d in days] == [5, 5, 5]
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(B3Quote)).scalar_one() == 15


def test_cli_parse_prints_csv_with_the_table_columns(tmp_path, capsys):
    path = tmp_path / "COTAHIST_D05032024.TXT"
    path.write_bytes(build_txt(DAY, sample_quotes(DAY)))
    assert main(["prices", "parse-cotahist", str(path), "--date", "2024-03-05"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert tuple(rows[0]) == COLUMNS
    assert len(rows) == 6
    assert rows[3][COLUMNS.index("strike")] == "38.21" and rows[1][COLUMNS.index("expiry_date")] == ""


def test_cli_parse_bad_file_exits_non_zero_naming_line_and_field(tmp_path, capsys):
    quotes = sample_quotes(DAY)
    quotes[1] = quotes[1][:150] + "??" + quotes[1][152:]
    path = tmp_path / "COTAHIST_D05032024.TXT"
    path.write_bytes(build_txt(DAY, quotes))
    assert main(["prices", "parse-cotahist", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "COTAHIST_D05032024.TXT, line 3, field TOTNEG" in captured.err


def test_cli_load_is_idempotent(db_url, tmp_path, capsys):
    path = tmp_path / "COTAHIST_D25062021.TXT"
    path.write_bytes(real_txt())
    from routines.database.engine import get_engine

    for _ in range(2):
        assert main(["prices", "load-cotahist", str(path), "--date", "2021-06-25"]) == 0
        assert "7518 quote records loaded" in capsys.readouterr().out
        assert count_rows(get_engine(db_url), REAL_DAY) == 7518
    assert main(["prices", "load-cotahist", str(path), "--date", "2021-06-24"]) == 2
    assert (
        "expected the session 2021-06-24 but the file name says session 2021-06-25" in capsys.readouterr().err
    )
    renamed = tmp_path / "cotacoes.txt"
    renamed.write_bytes(real_txt())
    assert main(["prices", "load-cotahist", str(renamed), "--date", "2021-06-24"]) == 2
    assert "cotacoes.txt, line 1, field DATGER" in capsys.readouterr().err
    assert count_rows(get_engine(db_url), REAL_DAY) == 7518


def _cli_load(path) -> tuple[int, str]:
    import contextlib

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        status = main(["prices", "load-cotahist", str(path)])
    return status, err.getvalue()


def test_cli_refuses_bad_files_and_leaves_every_session_as_it_was(db_url, tmp_path):
    """The failures of the CLI path quoted by issue 11, each refused with exit 2 and nothing changed."""
    from routines.database.engine import get_engine

    engine = get_engine(db_url)
    daily = tmp_path / "COTAHIST_D25062021.TXT"
    daily.write_bytes(real_txt())
    assert _cli_load(daily)[0] == 0  # no --date: the name gives the session
    before = date(2021, 6, 24)
    previous = tmp_path / "COTAHIST_D24062021.TXT"
    previous.write_bytes(build_txt(before, sample_quotes(before)))
    assert _cli_load(previous)[0] == 0
    table = _table(engine)
    assert len(table) == 7518 + 5

    # Header and trailer but no quote record: used to wipe the session (7,518 -> 0, exit 0).
    daily.write_bytes(build_txt(REAL_DAY, []))
    status, err = _cli_load(daily)
    assert status == 2 and "COTAHIST_D25062021.TXT, line 2, field TIPREG: no quote record (type 01)" in err

    # A daily file with one stray record of another day: used to replace that other day with one row.
    stray = sample_quotes(REAL_DAY)
    stray.insert(2, quote(before, "STRAY3"))
    daily.write_bytes(build_txt(REAL_DAY, stray))
    status, err = _cli_load(daily)
    assert status == 2 and "COTAHIST_D25062021.TXT, line 4, field DATPRE" in err
    assert "trade date 2021-06-24 differs from the file's session 2021-06-25" in err

    # Sessions on days B3 is closed: a Saturday and Tiradentes.
    for day, reason in ((date(2021, 6, 26), "sábado"), (date(2021, 4, 21), "Tiradentes")):
        closed = tmp_path / f"COTAHIST_D{day:%d%m%Y}.TXT"
        closed.write_bytes(build_txt(day, sample_quotes(day)))
        status, err = _cli_load(closed)
        assert (
            status == 2 and f"line 1, field DATGER: {day:%d/%m/%Y} is not a B3 business day ({reason})" in err
        )

    # A duplicate record: used to be loaded with a warning.
    twice = sample_quotes(REAL_DAY)
    twice.append(twice[0])
    daily.write_bytes(build_txt(REAL_DAY, twice))
    status, err = _cli_load(daily)
    assert status == 2 and "line 7, field CODNEG: same natural key as line 2" in err

    assert _table(engine) == table


def test_cli_loads_a_daily_file_in_one_pass(sqlite_db_url, tmp_path, monkeypatch):
    from routines.market import b3_load

    passes = []

    class CountingReader(b3_load.CotahistReader):
        def __iter__(self):
            passes.append(self.name)
            return super().__iter__()

    monkeypatch.setattr(b3_load, "CotahistReader", CountingReader)
    daily = tmp_path / "COTAHIST_D25062021.ZIP"
    daily.write_bytes(real_zip())
    assert _cli_load(daily)[0] == 0
    assert passes == ["COTAHIST_D25062021.ZIP"]
    monthly = tmp_path / "COTAHIST_M062021.TXT"  # sessions known only from the content: validated first
    monthly.write_bytes(build_txt(REAL_DAY, sample_quotes(REAL_DAY)))
    passes.clear()
    assert _cli_load(monthly)[0] == 0
    assert passes == ["COTAHIST_M062021.TXT"] * 2


def test_backslashes_and_latin1_text_survive_the_copy(engine):
    quotes = [quote(DAY, "BKSL3", company="A\\B ÇÃO", spec="ON\\N"), quote(DAY, "NULL3", company="\\N")]
    load_cotahist(build_txt(DAY, quotes), engine, expected_date=DAY)
    with engine.connect() as connection:
        rows = dict(connection.execute(select(B3Quote.ticker, B3Quote.company_name)).all())
        specs = dict(connection.execute(select(B3Quote.ticker, B3Quote.specification)).all())
        terms = dict(connection.execute(select(B3Quote.ticker, B3Quote.term_days)).all())
    assert rows == {"BKSL3": "A\\B ÇÃO", "NULL3": "\\N"}
    assert specs["BKSL3"] == "ON\\N"
    assert terms == {"BKSL3": None, "NULL3": None}


def test_cli_reads_zip_files_and_rejects_a_truncated_one(tmp_path, capsys):
    good = tmp_path / "COTAHIST_D25062021.ZIP"
    good.write_bytes(real_zip())
    assert main(["prices", "parse-cotahist", str(good)]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 7519
    petr4 = next(r for r in rows if r[COLUMNS.index("ticker")] == "PETR4")
    assert [petr4[COLUMNS.index(c)] for c in ("open", "close", "volume", "expiry_date")] == [
        "29.69",
        "29.10",
        "2498432530.00",
        "",
    ]
    bad = tmp_path / "COTAHIST_D24062021.ZIP"
    bad.write_bytes(real_zip()[:5000])
    assert main(["prices", "parse-cotahist", str(bad)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "COTAHIST_D24062021.ZIP: corrupt or truncated ZIP" in captured.err
