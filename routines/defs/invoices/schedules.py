"""The monthly schedule of `invoice_processes`: the Nth business day (ANBIMA) of each month, 06:00 São Paulo.

N comes from ROUTINES_INVOICES_BUSINESS_DAY (default 1; negative counts from the end, -1 = last business day).
The run's partition is the month of the tick (the billing month whose processes are created).
"""

from datetime import date

import dagster as dg

from routines.defs.invoices.assets import business_day_setting, invoice_processes_job
from routines.lib.schedules import monthly_business_day_schedule

CALENDAR = "ANBIMA"
HOUR = 6


def billing_month_key(day: date) -> str:
    return f"{day:%Y-%m}-01"


def build_invoice_processes_schedule(nth: int | None = None) -> dg.ScheduleDefinition:
    nth = business_day_setting() if nth is None else nth
    return monthly_business_day_schedule(
        name="invoice_processes_schedule",
        target=invoice_processes_job,
        calendar_name=CALENDAR,
        nth=nth,
        hour=HOUR,
        partition_key_fn=billing_month_key,
        tags={"routines/invoices": "monthly_processes"},
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )


invoice_processes_schedule = build_invoice_processes_schedule()
