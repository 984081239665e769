"""Market: B3 quotes, CVM fund quotas, consolidated trade prices.

Revision ID: 0003_market
Revises: 0002_calendar
"""

import sqlalchemy as sa
from alembic import op

from routines.database.base import ExactDecimal, UtcDateTime

revision = "0003_market"
down_revision = "0002_calendar"
branch_labels = None
depends_on = None

BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "b3_quotes",
        sa.Column("trade_date", sa.Date(), nullable=False),
        sa.Column("bdi_code", sa.String(2), nullable=False),
        sa.Column("ticker", sa.String(12), nullable=False),
        sa.Column("market_type", sa.String(3), nullable=False),
        sa.Column("company_name", sa.String(12), nullable=False),
        sa.Column("specification", sa.String(10), nullable=False),
        sa.Column("term_days", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(4), nullable=False),
        sa.Column("open", ExactDecimal(13, 2), nullable=False),
        sa.Column("high", ExactDecimal(13, 2), nullable=False),
        sa.Column("low", ExactDecimal(13, 2), nullable=False),
        sa.Column("average", ExactDecimal(13, 2), nullable=False),
        sa.Column("close", ExactDecimal(13, 2), nullable=False),
        sa.Column("best_bid", ExactDecimal(13, 2), nullable=False),
        sa.Column("best_ask", ExactDecimal(13, 2), nullable=False),
        sa.Column("trades", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("volume", ExactDecimal(18, 2), nullable=False),
        sa.Column("strike", ExactDecimal(13, 2), nullable=False),
        sa.Column("strike_correction", sa.SmallInteger(), nullable=False),
        sa.Column("expiry_date", sa.Date(), nullable=True),
        sa.Column("quote_factor", sa.Integer(), nullable=False),
        sa.Column("strike_points", ExactDecimal(13, 6), nullable=False),
        sa.Column("isin", sa.String(12), nullable=False),
        sa.Column("distribution", sa.SmallInteger(), nullable=False),
    )
    op.create_index("ix_b3_quotes_trade_date", "b3_quotes", ["trade_date"], postgresql_using="brin")

    op.create_table(
        "cvm_fund_quotas",
        sa.Column("id", BIGINT_ID, primary_key=True, autoincrement=True),
        sa.Column("fund_cnpj", sa.String(18), nullable=False),
        sa.Column("subclass_id", sa.String(40), nullable=False),
        sa.Column("fund_type", sa.String(40), nullable=False),
        sa.Column("report_date", sa.Date(), nullable=False),
        sa.Column("total_value", ExactDecimal(24, 2), nullable=True),
        sa.Column("quota_value", ExactDecimal(30, 12), nullable=True),
        sa.Column("net_assets", ExactDecimal(24, 2), nullable=True),
        sa.Column("inflows", ExactDecimal(24, 2), nullable=True),
        sa.Column("redemptions", ExactDecimal(24, 2), nullable=True),
        sa.Column("shareholders", sa.Integer(), nullable=True),
        sa.Column("source_file", sa.String(200), nullable=False),
        sa.Column("loaded_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cvm_fund_quotas")),
        sa.UniqueConstraint(
            "fund_cnpj",
            "subclass_id",
            "report_date",
            name=op.f("uq_cvm_fund_quotas_fund_cnpj_subclass_id_report_date"),
        ),
    )
    op.create_index("ix_cvm_fund_quotas_report_date", "cvm_fund_quotas", ["report_date"])

    op.create_table(
        "consolidated_trade_prices",
        sa.Column("id", BIGINT_ID, primary_key=True, autoincrement=True),
        sa.Column("price_date", sa.Date(), nullable=False),
        sa.Column("instrument", sa.String(40), nullable=False),
        sa.Column("instrument_type", sa.String(20), nullable=False),
        sa.Column("price", ExactDecimal(24, 8), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("source_file", sa.String(200), nullable=False),
        sa.Column("source_sha256", sa.String(64), nullable=False),
        sa.Column("source_line", sa.Integer(), nullable=False),
        sa.Column("loaded_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consolidated_trade_prices")),
        sa.UniqueConstraint(
            "price_date", "instrument", name=op.f("uq_consolidated_trade_prices_price_date_instrument")
        ),
    )


def downgrade() -> None:
    op.drop_table("consolidated_trade_prices")
    op.drop_index("ix_cvm_fund_quotas_report_date", table_name="cvm_fund_quotas")
    op.drop_table("cvm_fund_quotas")
    op.drop_index("ix_b3_quotes_trade_date", table_name="b3_quotes")
    op.drop_table("b3_quotes")
