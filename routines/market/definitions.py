"""Dagster definitions of the market domain: assets, checks, schedules, sensors and its own resources."""

import dagster as dg

from routines.market.b3_assets import b3_cotahist_file, b3_quotes, b3_quotes_job
from routines.market.b3_sensors import b3_fallback_schedule, b3_publication_sensor
from routines.market.cvm_assets import cvm_fund_quotas, cvm_fund_quotas_job, cvm_open_months_schedule
from routines.market.resources import B3CotahistSite, CvmFundsSite
from routines.market.trade_prices_assets import (
    consolidated_trade_prices,
    consolidated_trade_prices_job,
    consolidated_trade_prices_sensor,
)

defs = dg.Definitions(
    assets=[b3_cotahist_file, b3_quotes, cvm_fund_quotas, consolidated_trade_prices],
    jobs=[b3_quotes_job, cvm_fund_quotas_job, consolidated_trade_prices_job],
    schedules=[b3_fallback_schedule, cvm_open_months_schedule],
    sensors=[b3_publication_sensor, consolidated_trade_prices_sensor],
    resources={"b3_cotahist_site": B3CotahistSite(), "cvm_funds_site": CvmFundsSite()},
)
