"""Consolidated trade prices: format, the watched-folder sensor and the asset (processed/ and rejected/)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
from sqlalchemy import select

from routines.database.engine import get_engine, session_scope
from routines.defs.market.trade_prices import (
    TAG_FILE,
    TAG_SHA256,
    build_trade_prices_sensor,
    consolidated_trade_prices,
    consolidated_trade_prices_job,
)
from routines.errors import InputFileError
from routines.lib.resources import BusinessCalendarResource, DatabaseResource
from routines.market.models import ConsolidatedTradePrice
from routines.market.trade_prices import parse_trade_prices, sha256_bytes

SP = ZoneInfo("America/Sao_Paulo")
DAY = date(2024, 3, 5)
GOOD = (
    "data;codigo;tipo;preco;moeda\r\n"
    "05/03/2024;PETR4;ACAO;37,12;BRL\r\n"
    "05/03/2024;NTN-B 2035;TITULO;4.123,45678901;BRL\r\n"
    "05/03/2024;AÇÃO ÚNICA;ACAO;1234;BRL\r\n"
).encode()


@pytest.fixture
def drops(tmp_path, monkeypatch):
    folder = tmp_path / "drops"
    folder.mkdir()
    monkeypatch.setenv("ROUTINES_TRADE_PRICES_DIR", str(folder))
    return folder


def test_format_pt_br_decimals_exact():
    prices = parse_trade_prices(GOOD, "precos_trade_20240305.csv", DAY)
    assert [(p.line, p.instrument, p.price) for p in prices] == [
        (2, "PETR4", Decimal("37.12")),
        (3, "NTN-B 2035", Decimal("4123.45678901")),
        (4, "AÇÃO ÚNICA", Decimal("1234")),
    ]
    latin1 = GOOD.decode().encode("latin-1")
    assert parse_trade_prices(latin1, "x.csv", DAY)[2].instrument == "AÇÃO ÚNICA"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("05/03/2024;VALE3;ACAO;37.12;BRL", "line 5, field preco"),
        ("05/03/2024;VALE3;ACAO;37,123456789;BRL", "line 5, field preco"),
        ("06/03/2024;VALE3;ACAO;37,12;BRL", "line 5, field data"),
        ("05/03/2024;PETR4;ACAO;37,12;BRL", "line 5, field codigo"),
        ("05/03/2024;VALE3;ACAO;37,12;real", "line 5, field moeda"),
        ("05/03/2024;VALE3;ACAO;37,12", "line 5: 4 fields"),
        # NUMERIC(24, 8): 16 digits before the decimal point (PostgreSQL: numeric field overflow)
        (
            "05/03/2024;VALE3;ACAO;12345678901234567,5;BRL",
            "line 5, field preco: value does not fit: .*17 digits",
        ),
        ("05/03/2024;VALE3;ACAO;12.345.678.901.234.567;BRL", "line 5, field preco: value does not fit"),
    ],
)
def test_bad_lines_name_line_and_field(line, expected):
    with pytest.raises(InputFileError, match=expected):
        parse_trade_prices(GOOD + line.encode() + b"\r\n", "f.csv", DAY)


def _definitions(sensor):
    return dg.Definitions(
        assets=[consolidated_trade_prices],
        jobs=[consolidated_trade_prices_job],
        sensors=[sensor],
        resources={
            "anbima_calendar": BusinessCalendarResource(name="ANBIMA"),
            "database": DatabaseResource(),
        },
    )


def _tick(instance, moment):
    sensor = build_trade_prices_sensor(min_age_seconds=0, now=lambda: moment)
    with dg.build_sensor_context(
        instance=instance,
        definitions=_definitions(sensor),
        resources={
            "anbima_calendar": BusinessCalendarResource(name="ANBIMA"),
            "database": DatabaseResource(),
        },
    ) as context:
        return sensor.evaluate_tick(context)


def _run(db_url, request):
    return dg.materialize(
        [consolidated_trade_prices],
        resources={"database": DatabaseResource(url=db_url)},
        partition_key=request.partition_key,
        tags=request.tags,
        raise_on_error=False,
    )


def test_sensor_one_run_per_file_content_then_processed(drops, db_url):
    (drops / "precos_trade_20240305.csv").write_bytes(GOOD)
    (drops / "leia-me.txt").write_text("not a price file")
    with dg.instance_for_test() as instance:
        data = _tick(instance, datetime(2024, 3, 5, 18, 0, tzinfo=SP))
        (request,) = data.run_requests
        sha = sha256_bytes(GOOD)
        assert request.run_key.startswith(f"precos_trade_20240305.csv:{sha}:")
        # The next tick, before the run: the same drop, the same run key (Dagster starts it once).
        again = _tick(instance, datetime(2024, 3, 5, 18, 1, tzinfo=SP)).run_requests
        assert [r.run_key for r in again] == [request.run_key]
        assert request.partition_key == "2024-03-05"
        assert request.tags[TAG_FILE] == "precos_trade_20240305.csv" and request.tags[TAG_SHA256] == sha
        result = _run(db_url, request)
    assert result.success
    assert (drops / "processed" / "precos_trade_20240305.csv").read_bytes() == GOOD
    assert not (drops / "precos_trade_20240305.csv").exists()
    with session_scope(get_engine(db_url)) as session:
        rows = session.scalars(
            select(ConsolidatedTradePrice).order_by(ConsolidatedTradePrice.source_line)
        ).all()
        assert [(r.instrument, r.price, r.source_sha256) for r in rows] == [
            ("PETR4", Decimal("37.12"), sha),
            ("NTN-B 2035", Decimal("4123.45678901"), sha),
            ("AÇÃO ÚNICA", Decimal("1234"), sha),
        ]
    # A corrected file with the same name: another content, another run key; it replaces the day.
    corrected = GOOD.replace(b"37,12", b"37,15")
    (drops / "precos_trade_20240305.csv").write_bytes(corrected)
    with dg.instance_for_test() as instance:
        (request,) = _tick(instance, datetime(2024, 3, 5, 19, 0, tzinfo=SP)).run_requests
        assert request.run_key.startswith(f"precos_trade_20240305.csv:{sha256_bytes(corrected)}:")
        assert _run(db_url, request).success
    with session_scope(get_engine(db_url)) as session:
        prices = session.scalars(select(ConsolidatedTradePrice.price)).all()
    assert sorted(prices) == [Decimal("37.15"), Decimal("1234"), Decimal("4123.45678901")]


def test_a_second_drop_of_the_loaded_content_goes_to_duplicates_and_an_older_one_loads_again(drops, db_url):
    name = "precos_trade_20240305.csv"
    corrected = GOOD.replace(b"37,12", b"37,15")
    with dg.instance_for_test() as instance:
        for moment, content in ((18, GOOD), (19, corrected)):
            (drops / name).write_bytes(content)
            (request,) = _tick(instance, datetime(2024, 3, 5, moment, 0, tzinfo=SP)).run_requests
            assert _run(db_url, request).success
        # The corrected content again: already loaded -> duplicates/ with a note, no run, nothing left behind.
        (drops / name).write_bytes(corrected)
        data = _tick(instance, datetime(2024, 3, 5, 20, 0, tzinfo=SP))
        assert data.run_requests == [] and "já carregado" in data.skip_message
        assert not (drops / name).exists()
        assert (drops / "duplicates" / name).read_bytes() == corrected
        note = (drops / "duplicates" / f"{name}.note.txt").read_text()
        assert "conteúdo idêntico ao já carregado para 05/03/2024" in note and sha256_bytes(corrected) in note
        # The first content again is not what is loaded now: a new drop, a new run key, loaded again.
        (drops / name).write_bytes(GOOD)
        (request,) = _tick(instance, datetime(2024, 3, 5, 21, 0, tzinfo=SP)).run_requests
        assert _run(db_url, request).success
    assert not (drops / name).exists()
    with session_scope(get_engine(db_url)) as session:
        prices = session.scalars(select(ConsolidatedTradePrice.price)).all()
    assert sorted(prices) == [Decimal("37.12"), Decimal("1234"), Decimal("4123.45678901")]


def test_the_largest_price_the_column_holds_is_loaded_exactly(drops, db_url):
    largest = GOOD.replace(b"4.123,45678901", b"-9.999.999.999.999.999,99999999")
    (drops / "precos_trade_20240305.csv").write_bytes(largest)
    with dg.instance_for_test() as instance:
        (request,) = _tick(instance, datetime(2024, 3, 5, 18, 0, tzinfo=SP)).run_requests
    assert _run(db_url, request).success
    with session_scope(get_engine(db_url)) as session:
        prices = session.scalars(select(ConsolidatedTradePrice.price)).all()
    assert Decimal("-9999999999999999.99999999") in prices


def test_an_overflowing_price_is_rejected_with_an_error_file(drops, db_url):
    """Used to pass validation, fail in PostgreSQL (numeric field overflow) and stay in the folder."""
    (drops / "precos_trade_20240305.csv").write_bytes(GOOD.replace(b"1234;", b"12345678901234567;"))
    with dg.instance_for_test() as instance:
        (request,) = _tick(instance, datetime(2024, 3, 5, 18, 0, tzinfo=SP)).run_requests
    result = _run(db_url, request)
    assert not result.success
    assert not (drops / "precos_trade_20240305.csv").exists()
    error = (drops / "rejected" / "precos_trade_20240305.csv.error.txt").read_text()
    assert "line 4, field preco: value does not fit: 12345678901234567 has 17 digits" in error
    with session_scope(get_engine(db_url)) as session:
        assert session.scalars(select(ConsolidatedTradePrice)).all() == []


def test_a_database_error_rejects_the_file_with_an_error_file(drops, db_url):
    """Any failure of the load moves the file out of the folder: here the table is gone when the run loads."""
    from sqlalchemy import text

    (drops / "precos_trade_20240305.csv").write_bytes(GOOD)
    with dg.instance_for_test() as instance:
        (request,) = _tick(instance, datetime(2024, 3, 5, 18, 0, tzinfo=SP)).run_requests
    with get_engine(db_url).begin() as connection:
        # CASCADE: on PostgreSQL the reporting view of the table depends on it
        cascade = " CASCADE" if connection.dialect.name == "postgresql" else ""
        connection.execute(text(f"DROP TABLE consolidated_trade_prices{cascade}"))
    result = _run(db_url, request)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "the database refused the load" in failure.event_specific_data.error.message
    assert not (drops / "precos_trade_20240305.csv").exists()
    assert (drops / "rejected" / "precos_trade_20240305.csv").read_bytes() == GOOD
    error = (drops / "rejected" / "precos_trade_20240305.csv.error.txt").read_text()
    assert error.startswith("precos_trade_20240305.csv: the database refused the load (")
    assert "consolidated_trade_prices" in error and "nothing was loaded" in error


def test_bad_file_loads_nothing_and_is_rejected_with_an_error_file(drops, db_url):
    (drops / "precos_trade_20240305.csv").write_bytes(GOOD)
    with dg.instance_for_test() as instance:
        (request,) = _tick(instance, datetime(2024, 3, 5, 18, 0, tzinfo=SP)).run_requests
    assert _run(db_url, request).success
    bad = GOOD + b"05/03/2024;VALE3;ACAO;abc;BRL\r\n"
    (drops / "precos_trade_20240305.csv").write_bytes(bad)
    with dg.instance_for_test() as instance:
        (request,) = _tick(instance, datetime(2024, 3, 5, 19, 0, tzinfo=SP)).run_requests
    result = _run(db_url, request)
    assert not result.success
    rejected = drops / "rejected" / "precos_trade_20240305.csv"
    assert rejected.read_bytes() == bad
    error = (drops / "rejected" / "precos_trade_20240305.csv.error.txt").read_text()
    assert "precos_trade_20240305.csv, line 5, field preco" in error
    with session_scope(get_engine(db_url)) as session:
        assert (
            len(session.scalars(select(ConsolidatedTradePrice)).all()) == 3
        )  # the first file's rows, intact


def test_non_business_day_file_is_rejected_with_the_holiday_name(drops):
    (drops / "precos_trade_20240212.csv").write_bytes(GOOD.replace(b"05/03/2024", b"12/02/2024"))
    (drops / "precos_trade_20240231.csv").write_bytes(GOOD)
    with dg.instance_for_test() as instance:
        data = _tick(instance, datetime(2024, 3, 5, 18, 0, tzinfo=SP))
    assert data.run_requests == []
    error = (drops / "rejected" / "precos_trade_20240212.csv.error.txt").read_text()
    assert "12/02/2024 não é dia útil no calendário ANBIMA: Carnaval" in error
    assert (
        "invalid date '20240231'" in (drops / "rejected" / "precos_trade_20240231.csv.error.txt").read_text()
    )
    assert "Carnaval" in data.skip_message
