"""The business database: migrations up and down, exact decimals and aware timestamps, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy import inspect

from routines.companies.models import Company
from routines.database import migrate
from routines.database.base import Base, ExactDecimal, UtcDateTime
from routines.database.engine import get_engine, session_scope


def test_migrations_reach_head_and_go_back_to_base(empty_db_url):
    migrate.upgrade(empty_db_url)
    assert migrate.current_revision(empty_db_url) == migrate.head_revision()
    tables = set(inspect(get_engine(empty_db_url)).get_table_names())
    assert "companies" in tables
    # Every table the models declare is created by the migrations (no create_all anywhere).
    assert set(Base.metadata.tables) <= tables
    migrate.downgrade(empty_db_url, "base")
    assert migrate.current_revision(empty_db_url) is None
    assert "companies" not in set(inspect(get_engine(empty_db_url)).get_table_names())


def test_migrations_match_the_models(db_url):
    """Alembic autogenerate finds nothing to add: the hand-written migrations and the models agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from routines.database.models import metadata

    with get_engine(db_url).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, metadata)
    assert differences == []


PROBE = sa.Table(
    "probe_values",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("price", ExactDecimal(18, 2)),
    sa.Column("quota", ExactDecimal(27, 12)),
    sa.Column("at", UtcDateTime()),
)


def test_exact_decimals_and_aware_timestamps_round_trip(db_url):
    engine = get_engine(db_url)
    PROBE.create(engine)
    sao_paulo = timezone(timedelta(hours=-3))
    values = {
        "id": 1,
        "price": Decimal("2498432530.01"),
        "quota": Decimal("123456789012345.123456789012"),
        "at": datetime(2021, 6, 25, 18, 30, tzinfo=sao_paulo),
    }
    with engine.begin() as connection:
        connection.execute(PROBE.insert(), values)
    with engine.connect() as connection:
        row = connection.execute(sa.select(PROBE)).one()
    assert row.price == Decimal("2498432530.01") and isinstance(row.price, Decimal)
    assert row.quota == Decimal("123456789012345.123456789012")
    assert row.at == datetime(2021, 6, 25, 21, 30, tzinfo=UTC)
    assert row.at.tzinfo is not None


def test_floats_and_naive_timestamps_are_refused(sqlite_db_url):
    engine = get_engine(sqlite_db_url)
    PROBE.create(engine)
    with pytest.raises(sa.exc.StatementError, match="float"):
        with engine.begin() as connection:
            connection.execute(PROBE.insert(), {"id": 1, "price": 29.1})
    with pytest.raises(sa.exc.StatementError, match="naive"):
        with engine.begin() as connection:
            connection.execute(PROBE.insert(), {"id": 2, "at": datetime(2021, 6, 25)})


def test_session_scope_rolls_back_on_error(db_url):
    engine = get_engine(db_url)
    with pytest.raises(RuntimeError):
        with session_scope(engine) as session:
            session.add(Company(code="X", name="Rolled back"))
            session.flush()
            raise RuntimeError("boom")
    with session_scope(engine) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Company)) == 0


def test_postgres_url_without_driver_is_refused():
    with pytest.raises(ValueError, match="psycopg2"):
        get_engine("postgresql://postgres@127.0.0.1/test")
