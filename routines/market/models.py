"""Tables of the market domain: B3 daily quotes, CVM fund quotas, consolidated trade prices."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Date, Index, Integer, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from routines.database.base import Base, ExactDecimal, UtcDateTime, utcnow

# SQLite only aliases the rowid (autoincrement) for a column declared exactly INTEGER PRIMARY KEY.
BIGINT_ID = BigInteger().with_variant(Integer(), "sqlite")


class B3Quote(Base):
    """One COTAHIST quote record (type 01): one instrument on one market on one session.

    Natural key: (trade_date, ticker, market_type, term_days, expiry_date, strike). term_days (PRAZOT) is part of
    it: forward-market records share ticker, market and expiry and differ only by their term. term_days and
    expiry_date are NULL for spot records, so the key is checked by the asset check `unique_natural_key` (NULLs are
    distinct in a unique index), not by a constraint.

    Physical design for bulk loads (~1.9 million rows a year, replaced by day): no surrogate id and a BRIN index
    on trade_date (PostgreSQL; a B-tree on SQLite): a day's delete finds its blocks and a COPY pays almost nothing
    for index upkeep. A B-tree on (ticker, trade_date) would make COPY ~45% slower; add one if queries need it.
    The ORM maps the natural key as the identity.
    """

    __tablename__ = "b3_quotes"
    __table_args__ = (Index("ix_b3_quotes_trade_date", "trade_date", postgresql_using="brin"),)
    __mapper_args__ = {
        "primary_key": ["trade_date", "ticker", "market_type", "term_days", "expiry_date", "strike"],
    }

    trade_date: Mapped[date] = mapped_column(Date, nullable=False)
    bdi_code: Mapped[str] = mapped_column(String(2), nullable=False)
    ticker: Mapped[str] = mapped_column(String(12), nullable=False)
    market_type: Mapped[str] = mapped_column(String(3), nullable=False)
    company_name: Mapped[str] = mapped_column(String(12), nullable=False)
    specification: Mapped[str] = mapped_column(String(10), nullable=False)
    term_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    currency: Mapped[str] = mapped_column(String(4), nullable=False)
    open: Mapped[Decimal] = mapped_column(ExactDecimal(13, 2), nullable=False)
    high: Mapped[Decimal] = mapped_column(ExactDecimal(13, 2), nullable=False)
    low: Mapped[Decimal] = mapped_column(ExactDecimal(13, 2), nullable=False)
    average: Mapped[Decimal] = mapped_column(ExactDecimal(13, 2), nullable=False)
    close: Mapped[Decimal] = mapped_column(ExactDecimal(13, 2), nullable=False)
    best_bid: Mapped[Decimal] = mapped_column(ExactDecimal(13, 2), nullable=False)
    best_ask: Mapped[Decimal] = mapped_column(ExactDecimal(13, 2), nullable=False)
    trades: Mapped[int] = mapped_column(Integer, nullable=False)
    quantity: Mapped[int] = mapped_column(BigInteger, nullable=False)
    volume: Mapped[Decimal] = mapped_column(ExactDecimal(18, 2), nullable=False)
    strike: Mapped[Decimal] = mapped_column(ExactDecimal(13, 2), nullable=False)
    strike_correction: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    expiry_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    quote_factor: Mapped[int] = mapped_column(Integer, nullable=False)
    strike_points: Mapped[Decimal] = mapped_column(ExactDecimal(13, 6), nullable=False)
    isin: Mapped[str] = mapped_column(String(12), nullable=False)
    distribution: Mapped[int] = mapped_column(SmallInteger, nullable=False)


class CvmFundQuota(Base):
    """One row of CVM's "Informe Diário" of investment funds: a fund (class) and subclass on one date.

    subclass_id is '' when the fund has no subclass (every pre-Resolution-175 row, most current rows), so the
    unique key (fund_cnpj, subclass_id, report_date) holds without NULLs.
    """

    __tablename__ = "cvm_fund_quotas"
    __table_args__ = (
        UniqueConstraint("fund_cnpj", "subclass_id", "report_date"),
        Index("ix_cvm_fund_quotas_report_date", "report_date"),
    )

    id: Mapped[int] = mapped_column(BIGINT_ID, primary_key=True, autoincrement=True)
    fund_cnpj: Mapped[str] = mapped_column(String(18), nullable=False)
    subclass_id: Mapped[str] = mapped_column(String(40), nullable=False, default="")
    fund_type: Mapped[str] = mapped_column(String(40), nullable=False, default="")
    report_date: Mapped[date] = mapped_column(Date, nullable=False)
    total_value: Mapped[Decimal | None] = mapped_column(ExactDecimal(24, 2), nullable=True)
    quota_value: Mapped[Decimal | None] = mapped_column(ExactDecimal(30, 12), nullable=True)
    net_assets: Mapped[Decimal | None] = mapped_column(ExactDecimal(24, 2), nullable=True)
    inflows: Mapped[Decimal | None] = mapped_column(ExactDecimal(24, 2), nullable=True)
    redemptions: Mapped[Decimal | None] = mapped_column(ExactDecimal(24, 2), nullable=True)
    shareholders: Mapped[int | None] = mapped_column(Integer, nullable=True)
    source_file: Mapped[str] = mapped_column(String(200), nullable=False)
    loaded_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False, default=utcnow)


class ConsolidatedTradePrice(Base):
    """One price of a dropped consolidated trade prices file (format: docs/market_trade_prices.md).

    A file carries the full price set of its date: loading it replaces that date's rows.
    """

    __tablename__ = "consolidated_trade_prices"
    __table_args__ = (UniqueConstraint("price_date", "instrument"),)

    id: Mapped[int] = mapped_column(BIGINT_ID, primary_key=True, autoincrement=True)
    price_date: Mapped[date] = mapped_column(Date, nullable=False)
    instrument: Mapped[str] = mapped_column(String(40), nullable=False)
    instrument_type: Mapped[str] = mapped_column(String(20), nullable=False)
    price: Mapped[Decimal] = mapped_column(ExactDecimal(24, 8), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    source_file: Mapped[str] = mapped_column(String(200), nullable=False)
    source_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    source_line: Mapped[int] = mapped_column(Integer, nullable=False)
    loaded_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False, default=utcnow)
