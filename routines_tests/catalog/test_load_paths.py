"""`load_file` of CSV files: the same rows and the same errors on SQLite (validated in Python) and on PostgreSQL
(validated after COPY into a temporary table)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, text

from routines.catalog.runner import load_bytes
from routines.errors import InputFileError
from routines_tests.catalog.support import spec

HEADER = "Codigo;Data;Preco;Quantidade;Obs"


def _routine(key=False):
    return spec(
        {
            "name": "prices",
            "schedule": {"type": "daily", "time": "09:00", "business_days_late": 1},
            "execution": {
                "type": "load_file",
                "source": {"path": "x"},
                "format": {"kind": "csv", "delimiter": ";", "decimal_comma": True, "encoding": "latin-1"},
                "table": {
                    "name": "prices",
                    "key": ["code"] if key else [],
                    "columns": [
                        {"name": "code", "type": "text", "source": "Codigo", "nullable": False},
                        {"name": "day", "type": "date", "format": "%d/%m/%Y", "source": "Data"},
                        {"name": "price", "type": "decimal", "precision": 10, "scale": 2, "source": "Preco"},
                        {"name": "quantity", "type": "integer", "source": "Quantidade"},
                        {"name": "note", "type": "text", "source": "Obs"},
                    ],
                },
            },
        }
    )


def _load(db_url, lines, key=False):
    engine = create_engine(db_url)
    try:
        data = ("\n".join([HEADER, *lines]) + "\n").encode("latin-1")
        return load_bytes(_routine(key), data, "precos.csv", date(2025, 3, 5), engine, partitioned=True)
    finally:
        engine.dispose()


def test_rows_are_the_same_on_both_databases(db_url):
    metadata = _load(
        db_url, ["PETR4;05/03/2025;1.234,50;100;ação", "VALE3;05/03/2025;-0,5;;", "ITUB4;;10;7;x"]
    )
    assert metadata["row_count"] == 3
    engine = create_engine(db_url)
    with engine.connect() as connection:
        rows = connection.execute(
            text("select code, day, price, quantity, note, reference_date from prices order by code")
        ).all()
    engine.dispose()
    assert [(r[0], str(r[1])[:10] if r[1] else None, Decimal(str(r[2])), r[3], r[4]) for r in rows] == [
        ("ITUB4", None, Decimal("10"), 7, "x"),
        ("PETR4", "2025-03-05", Decimal("1234.5"), 100, "ação"),
        ("VALE3", "2025-03-05", Decimal("-0.5"), None, None),
    ]
    assert {str(r[5])[:10] for r in rows} == {"2025-03-05"}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("PETR4;32/01/2025;1,00;1;x", "precos.csv, line 3, field day: '32/01/2025' is not a date %d/%m/%Y"),
        (
            "PETR4;05/03/2025;1,001;1;x",
            "precos.csv, line 3, field price: '1,001' has more than 2 decimal places",
        ),
        (
            "PETR4;05/03/2025;123456789,00;1;x",
            "precos.csv, line 3, field price: '123456789,00' has more than 8 digits before the decimal point",
        ),
        ("PETR4;05/03/2025;1,00;1.5;x", "precos.csv, line 3, field quantity: '1.5' is not an integer"),
        (";05/03/2025;1,00;1;x", "precos.csv, line 3, field code: empty value in a column that is required"),
    ],
)
def test_errors_are_the_same_on_both_databases(db_url, line, message):
    with pytest.raises(InputFileError) as caught:
        _load(db_url, ["VALE3;05/03/2025;1,00;1;ok", line])
    assert str(caught.value) == message
    engine = create_engine(db_url)
    from sqlalchemy import inspect

    with engine.connect() as connection:
        exists = inspect(connection).has_table("prices")
        count = connection.execute(text("select count(*) from prices")).scalar() if exists else 0
    engine.dispose()
    assert count == 0


def test_repeated_key_is_refused_and_upsert_updates(db_url):
    with pytest.raises(InputFileError, match=r"key \(code\) = \(PETR4\) repeated"):
        _load(db_url, ["PETR4;05/03/2025;1,00;1;a", "PETR4;05/03/2025;2,00;1;b"], key=True)
    _load(db_url, ["PETR4;05/03/2025;1,00;1;a"], key=True)
    _load(db_url, ["PETR4;05/03/2025;3,00;2;b", "VALE3;05/03/2025;4,00;1;c"], key=True)
    engine = create_engine(db_url)
    with engine.connect() as connection:
        rows = connection.execute(text("select code, price, quantity, note from prices order by code")).all()
    engine.dispose()
    assert [(r[0], Decimal(str(r[1])), r[2], r[3]) for r in rows] == [
        ("PETR4", Decimal("3"), 2, "b"),
        ("VALE3", Decimal("4"), 1, "c"),
    ]
