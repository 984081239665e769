"""COTAHIST parser: the real 2021-06-25 file and small files built from the layout."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

import numpy as np
import pytest

from routines.errors import InputFileError
from routines.market.cotahist import COLUMNS, QUOTE_FIELDS, CotahistReader, read_quotes
from routines_tests.market.fixtures import (
    REAL_DAY,
    build_txt,
    quote,
    real_txt,
    real_zip,
    sample_quotes,
    zip_bytes,
)

DAY = date(2024, 3, 5)

KNOWN = {
    # ticker: (bdi, market, open, high, low, close, average, trades, quantity, volume, isin)
    "PETR4": (
        "02",
        "010",
        "29.69",
        "29.79",
        "28.95",
        "29.10",
        "29.41",
        78340,
        84950900,
        "2498432530.00",
        "BRPETRACNPR6",
    ),
    "VALE3": (
        "02",
        "010",
        "111.60",
        "113.97",
        "111.40",
        "112.40",
        "112.99",
        67026,
        26139200,
        "2953567362.00",
        "BRVALEACNOR0",
    ),
    "BOVA11": (
        "14",
        "010",
        "124.93",
        "124.93",
        "121.76",
        "122.50",
        "123.08",
        71900,
        5656441,
        "696219547.22",
        "BRBOVACTF003",
    ),
    "PETR4F": (
        "96",
        "020",
        "29.63",
        "29.78",
        "28.96",
        "29.11",
        "29.44",
        5509,
        89821,
        "2644934.49",
        "BRPETRACNPR6",
    ),
}


def reference_rows(data: bytes) -> list[dict[str, object]]:
    """A plain per-field parser written from the layout, to check the vectorised one against."""
    rows = []
    for line in data.decode("latin-1").split("\r\n"):
        if not line.startswith("01"):
            continue
        row: dict[str, object] = {}
        for f in QUOTE_FIELDS:
            raw = line[f.start : f.end]
            if f.kind == "text":
                row[f.column] = raw.rstrip(" ")
            elif f.kind == "term":
                row[f.column] = None if not raw.strip() else int(raw)
            elif f.kind in ("date", "date_or_null"):
                row[f.column] = None if raw == "99991231" else date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
            elif f.kind == "dec":
                row[f.column] = Decimal(int(raw)).scaleb(-f.scale)
            else:
                row[f.column] = int(raw)
        rows.append(row)
    return rows


def test_real_file_known_values():
    rows, summary = read_quotes(real_txt(), name="COTAHIST_D25062021.TXT", expected_date=REAL_DAY)
    assert summary.generated == REAL_DAY
    assert summary.records == summary.trailer_count == 7520
    assert summary.quotes == len(rows) == 7518
    assert summary.trade_dates == {REAL_DAY}
    by_key = {(r["ticker"], r["market_type"]): r for r in rows}
    for ticker, (bdi, market, o, h, lo, c, avg, trades, quantity, volume, isin) in KNOWN.items():
        row = by_key[(ticker, market)]
        assert row["bdi_code"] == bdi
        assert (row["open"], row["high"], row["low"], row["close"], row["average"]) == tuple(
            Decimal(v) for v in (o, h, lo, c, avg)
        )
        assert str(row["close"]) == c  # exact decimals, two places
        assert (row["trades"], row["quantity"], row["volume"], row["isin"]) == (
            trades,
            quantity,
            Decimal(volume),
            isin,
        )
        assert row["expiry_date"] is None  # 9999-12-31 = no expiry
        assert row["quote_factor"] == 1
        assert row["term_days"] is None
    option = by_key[("PETRG75", "070")]
    assert option["bdi_code"] == "78"
    assert option["close"] == Decimal("0.01")
    assert option["strike"] == Decimal("38.21")
    assert option["expiry_date"] == date(2021, 7, 16)
    assert option["term_days"] == 0


def test_vectorised_parser_equals_a_plain_field_by_field_parser():
    data = real_txt()
    expected = reference_rows(data)
    for chunk_records in (7, 4096):  # chunk boundaries anywhere
        rows, _ = read_quotes(data) if chunk_records == 4096 else _read_chunked(data, chunk_records)
        assert rows == expected


def _read_chunked(data: bytes, chunk_records: int):
    reader = CotahistReader(data, chunk_records=chunk_records)
    rows = []
    for chunk in reader:
        rows.extend(chunk.rows())
    return rows, reader.summary


def test_forward_records_differ_only_by_term():
    rows, _ = read_quotes(real_txt())
    groups: dict[tuple, set] = defaultdict(set)
    counts: dict[tuple, int] = defaultdict(int)
    for row in rows:
        groups[(row["ticker"], row["market_type"], row["expiry_date"])].add(row["term_days"])
        counts[(row["ticker"], row["market_type"], row["expiry_date"])] += 1
    shared = [key for key, n in counts.items() if n > 1]
    assert len(shared) == 133
    assert all(key[1] == "030" for key in shared)
    assert all(len(groups[key]) == counts[key] for key in shared)  # PRAZOT tells them apart
    natural = [
        tuple(r[c] for c in ("trade_date", "ticker", "market_type", "term_days", "expiry_date", "strike"))
        for r in rows
    ]
    assert len(set(natural)) == len(natural)


def test_zip_gives_the_same_rows_as_the_txt():
    rows_txt, _ = read_quotes(real_txt())
    rows_zip, summary = read_quotes(real_zip(), name="COTAHIST_D25062021.ZIP")
    assert rows_zip == rows_txt
    assert summary.file_name == "COTAHIST_D25062021.ZIP[COTAHIST_D25062021.TXT]"


def test_typed_columns_are_exact():
    reader = CotahistReader(build_txt(DAY, sample_quotes(DAY)))
    (chunk,) = list(reader)
    columns = chunk.columns(decode=True)
    assert list(columns) == list(COLUMNS)
    assert chunk.columns()["ticker"][0] == b"AAAA3"  # without decode: latin-1 bytes
    assert columns["ticker"].tolist() == ["AAAA3", "BBBB11", "PETRG75", "PETR4T", "PETR4T"]
    assert columns["company_name"][1] == "BETA ÇÃO"  # latin-1
    assert columns["open"][0] == 1000  # cents
    assert columns["strike_points"][2] == 12345678  # 12.345678, 6 decimals
    assert columns["term_days"].tolist() == [-1, -1, 0, 30, 60]
    assert np.isnat(columns["expiry_date"][0]) and columns["expiry_date"][2] == np.datetime64("2021-07-16")
    assert columns["trade_date"][0] == np.datetime64(DAY.isoformat())


def test_unknown_codes_decimals_and_nulls():
    rows, summary = read_quotes(build_txt(DAY, sample_quotes(DAY)), name="x.txt", expected_date=DAY)
    assert summary.quotes == 5 and summary.records == 7
    assert (rows[1]["bdi_code"], rows[1]["market_type"]) == ("93", "021")
    assert rows[1]["company_name"] == "BETA ÇÃO"
    assert rows[0]["volume"] == Decimal("12345.67")
    assert rows[2]["strike_points"] == Decimal("12.345678")
    assert rows[2]["best_bid"] == Decimal("0.00")
    assert [r["term_days"] for r in rows] == [None, None, 0, 30, 60]


def test_lf_line_ends_and_missing_final_newline_are_accepted():
    lf = build_txt(DAY, sample_quotes(DAY), eol="\n")
    assert read_quotes(lf)[1].quotes == 5
    crlf = build_txt(DAY, sample_quotes(DAY))
    assert read_quotes(crlf[:-2])[1].quotes == 5
    assert read_quotes(crlf + b"\r\n\x1a")[1].quotes == 5


def _error(data: bytes, name: str = "COTAHIST_D05032024.TXT", **kwargs) -> InputFileError:
    with pytest.raises(InputFileError) as info:
        for _ in CotahistReader(data, name=name, **kwargs):
            pass
    return info.value


@pytest.mark.parametrize("chunk_records", [2, 4096])
def test_wrong_record_length_names_the_line(chunk_records):
    quotes = sample_quotes(DAY)
    quotes[3] = quotes[3][:-1]  # 244 characters on line 5
    error = _error(build_txt(DAY, quotes), chunk_records=chunk_records)
    assert error.line == 5
    assert "244 characters, expected 245" in str(error)
    assert str(error).startswith("COTAHIST_D05032024.TXT, line 5")
    long = sample_quotes(DAY)
    long[0] = long[0] + "X"
    error = _error(build_txt(DAY, long), chunk_records=chunk_records)
    assert (error.line, "246 characters" in str(error)) == (2, True)


@pytest.mark.parametrize("chunk_records", [2, 4096])
def test_non_numeric_field_names_line_and_field(chunk_records):
    quotes = sample_quotes(DAY)
    quotes[2] = quotes[2][:56] + "00000000A0100" + quotes[2][69:]
    error = _error(build_txt(DAY, quotes), chunk_records=chunk_records)
    assert (error.line, error.field) == (4, "PREABE")
    assert "00000000A0100" in str(error)
    quotes = sample_quotes(DAY)
    quotes[4] = quotes[4][:170] + "1".rjust(18) + quotes[4][188:]  # spaces in VOLTOT
    error = _error(build_txt(DAY, quotes), chunk_records=chunk_records)
    assert (error.line, error.field) == (6, "VOLTOT")


def test_bad_dates_and_terms():
    quotes = sample_quotes(DAY)
    quotes[0] = quotes[0][:2] + "20240231" + quotes[0][10:]
    error = _error(build_txt(DAY, quotes))
    assert (error.line, error.field) == (2, "DATPRE")
    quotes = sample_quotes(DAY)
    quotes[1] = quotes[1][:49] + "3X0" + quotes[1][52:]
    error = _error(build_txt(DAY, quotes))
    assert (error.line, error.field) == (3, "PRAZOT")
    error = _error(build_txt(DAY, sample_quotes(date(2024, 3, 4))), expected_date=DAY)
    assert (error.line, error.field) == (2, "DATPRE")


def test_header_date_must_equal_the_expected_date():
    error = _error(build_txt(DAY, sample_quotes(DAY)), name="cotacoes.txt", expected_date=date(2024, 3, 6))
    assert (error.line, error.field) == (1, "DATGER")
    assert "2024-03-05" in str(error) and "2024-03-06" in str(error)
    error = _error(build_txt(DAY, sample_quotes(DAY)), name="COTAHIST_D06032024.TXT")  # the name says the day
    assert (error.line, error.field) == (1, "DATGER")
    assert "header date 2024-03-05 differs from the file's session 2024-03-06" in str(error)


def test_the_name_the_zip_member_and_the_expected_date_must_agree():
    data = build_txt(DAY, sample_quotes(DAY))
    error = _error(data, name="COTAHIST_D05032024.TXT", expected_date=date(2024, 3, 6))
    assert "expected the session 2024-03-06 but the file name says session 2024-03-05" in str(error)
    archive = zip_bytes({"COTAHIST_D04032024.TXT": data})
    error = _error(archive, name="COTAHIST_D05032024.ZIP")
    assert "the file name says session 2024-03-05 but the ZIP member says session 2024-03-04" in str(error)
    # A renamed daily ZIP keeps the rules of its member's name.
    stray = build_txt(DAY, [*sample_quotes(DAY), quote(date(2024, 3, 4), "OLD3")])
    error = _error(zip_bytes({"COTAHIST_D05032024.TXT": stray}), name="download.zip")
    assert (error.line, error.field) == (7, "DATPRE")
    assert "impossible date" in str(_error(data, name="COTAHIST_D32132024.TXT"))


def test_a_daily_file_holds_its_session_only():
    quotes = sample_quotes(DAY)
    quotes[3] = quote(date(2024, 3, 4), "OLD3")  # a stray record of the day before, on line 5
    error = _error(build_txt(DAY, quotes), name="COTAHIST_D05032024.TXT")
    assert (error.line, error.field) == (5, "DATPRE")
    assert "trade date 2024-03-04 differs from the file's session 2024-03-05" in str(error)


def test_monthly_and_yearly_files_hold_their_period_only():
    march = [q for day in (date(2024, 3, 4), DAY) for q in sample_quotes(day)]
    assert read_quotes(build_txt(DAY, march), name="COTAHIST_M032024.TXT")[1].quotes == 10
    assert read_quotes(build_txt(DAY, march), name="COTAHIST_A2024.TXT")[1].quotes == 10
    april = [*march, quote(date(2024, 4, 1), "ABRIL3")]
    error = _error(build_txt(DAY, april), name="COTAHIST_M032024.TXT")
    assert (error.line, error.field) == (12, "DATPRE")
    assert "trade date 2024-04-01 is outside the file's month 2024-03" in str(error)
    error = _error(build_txt(DAY, march), name="COTAHIST_A2023.TXT")
    assert (error.line, "outside the file's year 2023" in str(error)) == (2, True)


@pytest.mark.parametrize(
    ("day", "reason"),
    [(date(2021, 4, 21), "Tiradentes"), (date(2021, 4, 24), "sábado"), (date(2021, 4, 25), "domingo")],
)
def test_a_session_on_a_day_b3_is_closed_is_refused_naming_the_holiday(day, reason):
    error = _error(build_txt(day, sample_quotes(day)), name=f"COTAHIST_D{day:%d%m%Y}.TXT")
    assert (error.line, error.field) == (1, "DATGER")
    assert f"{day:%d/%m/%Y} is not a B3 business day ({reason})" in str(error)
    monthly = [*sample_quotes(date(2021, 4, 20)), *sample_quotes(day)]
    error = _error(build_txt(date(2021, 4, 30), monthly), name="COTAHIST_M042021.TXT", chunk_records=3)
    assert (error.line, error.field) == (7, "DATPRE")
    assert f"{day:%d/%m/%Y} is not a B3 business day ({reason})" in str(error)


def test_a_file_without_quote_records_is_refused():
    error = _error(build_txt(DAY, []), name="COTAHIST_D05032024.TXT")
    assert (error.line, error.field) == (2, "TIPREG")
    assert "no quote record (type 01) for the session 2024-03-05" in str(error)
    error = _error(build_txt(DAY, []), name="cotacoes.txt")
    assert "no quote record (type 01)" in str(error)


def test_every_session_asked_for_must_be_in_the_file():
    data = build_txt(DAY, sample_quotes(DAY))
    error = _error(data, name="COTAHIST_M032024.TXT", sessions=[date(2024, 3, 4), DAY, date(2024, 3, 6)])
    assert error.field == "DATPRE"
    assert "no quote record for the session(s) 2024-03-04, 2024-03-06" in str(error)


@pytest.mark.parametrize("chunk_records", [2, 4096])
def test_a_duplicate_natural_key_is_refused_naming_both_lines(chunk_records):
    quotes = sample_quotes(DAY)  # PETR4T 030 and 060 share everything but PRAZOT: not duplicates
    quotes.append(quotes[1])  # line 7 repeats line 3
    error = _error(build_txt(DAY, quotes), chunk_records=chunk_records)
    assert (error.line, error.field) == (7, "CODNEG")
    assert "same natural key as line 3" in str(error) and "CODNEG BBBB11" in str(error)
    # Records differing in any key field other than the rest of the record are duplicates too.
    again = sample_quotes(DAY)
    again.insert(1, quote(DAY, "PETR4T", bdi="62", market="030", term="060", company="OUTRA", volume=1))
    error = _error(build_txt(DAY, again), chunk_records=chunk_records)
    assert (error.line, "same natural key as line 3" in str(error)) == (7, True)


def test_trade_dates_must_equal_the_file_date_when_asked():
    quotes = sample_quotes(DAY)
    quotes[2] = quote(date(2024, 3, 4), "OLD3")
    error = _error(build_txt(DAY, quotes), expected_date=DAY)
    assert (error.line, error.field) == (4, "DATPRE")


@pytest.mark.parametrize("chunk_records", [3, 4096])
def test_trailer_count_mismatch_and_missing_trailer(chunk_records):
    error = _error(build_txt(DAY, sample_quotes(DAY), count=8), chunk_records=chunk_records)
    assert (error.line, error.field) == (7, "TOTREG")
    assert "trailer counts 8 records but the file has 7" in str(error)
    data = build_txt(DAY, sample_quotes(DAY))
    truncated = data[: data.rindex(b"99COTAHIST")]
    error = _error(truncated, chunk_records=chunk_records)
    assert error.field == "TIPREG" and "no trailer" in str(error)
    error = _error(data[:1000], chunk_records=chunk_records)  # cut inside a record
    assert error.line == 5 and "truncated" in str(error)


def test_record_types():
    quotes = sample_quotes(DAY)
    quotes[1] = "02" + quotes[1][2:]
    error = _error(build_txt(DAY, quotes))
    assert (error.line, error.field) == (3, "TIPREG")
    data = build_txt(DAY, sample_quotes(DAY)) + build_txt(DAY, [])[:247]
    error = _error(data)
    assert error.line == 8 and "after the trailer" in str(error)
    error = _error(build_txt(DAY, sample_quotes(DAY))[247:])
    assert (error.line, error.field) == (1, "TIPREG")


def test_control_characters_are_rejected():
    quotes = sample_quotes(DAY)
    quotes[0] = quotes[0][:30] + "\t" + quotes[0][31:]
    error = _error(build_txt(DAY, quotes))
    assert (error.line, error.field) == (2, "NOMRES")


def test_zip_problems_are_named():
    good = zip_bytes({"COTAHIST_D05032024.TXT": build_txt(DAY, sample_quotes(DAY))})
    assert read_quotes(good, name="COTAHIST_D05032024.ZIP")[1].quotes == 5
    error = _error(good[: len(good) // 2], name="COTAHIST_D05032024.ZIP")
    assert "corrupt or truncated ZIP" in str(error) and error.file == "COTAHIST_D05032024.ZIP"
    corrupt = bytearray(good)
    corrupt[60:80] = b"\xff" * 20  # inside the compressed data
    error = _error(bytes(corrupt), name="COTAHIST_D05032024.ZIP")
    assert "ZIP" in str(error)
    two = zip_bytes({"a.TXT": b"x", "b.TXT": b"y"})
    assert "exactly one TXT" in str(_error(two, name="COTAHIST_D05032024.ZIP"))
    html = b"<!DOCTYPE html><html><body>Servico indisponivel</body></html>"
    error = _error(html, name="COTAHIST_D05032024.ZIP")
    assert "HTML page" in str(error) and error.line == 1
    assert "not a ZIP" in str(_error(b"garbage" * 100, name="COTAHIST_D05032024.ZIP"))
    assert "empty" in str(_error(b"", name="COTAHIST_D05032024.ZIP"))


def test_text_output_for_the_database():
    (chunk,) = list(CotahistReader(build_txt(DAY, sample_quotes(DAY))))
    lines = chunk.copy_text().decode("latin-1").split("\n")
    assert lines[-1] == ""
    first = lines[0].split("\t")
    assert len(first) == len(COLUMNS)
    assert first[:8] == ["2024-03-05", "02", "AAAA3", "010", "ALFA", "ON      NM", "\\N", "R$"]
    assert first[8:15] == ["10.00", "11.00", "9.90", "10.50", "10.20", "10.19", "10.21"]
    assert first[20] == "\\N"  # expiry 9999-12-31
    option = lines[2].split("\t")
    assert (option[6], option[18], option[20], option[22]) == ("0", "38.21", "2021-07-16", "12.345678")
