"""The nightly re-download (legacy EXECUTAR_DOWNLOADS at 02:00 with `apenas_processos_pendentes`).

- `invoice_nightly_downloads_schedule`: at ROUTINES_INVOICES_NIGHTLY_TIME (default 02:00 São Paulo), on ANBIMA
  business days or every day (ROUTINES_INVOICES_NIGHTLY_DAYS = `business` | `every`), requests one
  `downloaded_invoices` run per month x operator partition holding a process in AGUARDANDO_DOWNLOAD, or in
  FALHA_DOWNLOAD with fewer than ROUTINES_INVOICES_MAX_ATTEMPTS attempts.
- `invoice_download_attempts_sensor`: a process whose last allowed attempt failed notifies its company's
  operators, once.
"""

import os
import re

import dagster as dg

from routines import TIMEZONE
from routines.defs.invoices.assets import (
    invoice_downloads_job,
    month_operator_key,
    month_partitions,
    operator_partitions,
)
from routines.errors import UserError
from routines.lib.resources import DatabaseResource

TIME_ENV = "ROUTINES_INVOICES_NIGHTLY_TIME"
DAYS_ENV = "ROUTINES_INVOICES_NIGHTLY_DAYS"
CALENDAR = "ANBIMA"


def nightly_time() -> tuple[int, int]:
    raw = os.environ.get(TIME_ENV, "").strip() or "02:00"
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", raw)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise UserError(f"{TIME_ENV}={raw!r}: expected a local time HH:MM")
    return int(match.group(1)), int(match.group(2))


def nightly_days() -> str:
    raw = os.environ.get(DAYS_ENV, "").strip().lower() or "business"
    if raw not in ("business", "every"):
        raise UserError(f"{DAYS_ENV}={raw!r}: expected 'business' (ANBIMA business days) or 'every'")
    return raw


def build_nightly_downloads_schedule() -> dg.ScheduleDefinition:
    hour, minute = nightly_time()
    days = nightly_days()
    which = "dias úteis ANBIMA" if days == "business" else "todos os dias"

    @dg.schedule(
        name="invoice_nightly_downloads_schedule",
        cron_schedule=f"{minute} {hour} * * *",
        execution_timezone=TIMEZONE,
        job=invoice_downloads_job,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=(
            f"Download noturno ({hour:02d}:{minute:02d}, {which}): pede novo download de todo processo em "
            "AGUARDANDO_DOWNLOAD, ou em FALHA_DOWNLOAD com menos de ROUTINES_INVOICES_MAX_ATTEMPTS tentativas; "
            "uma execução por partição mês x operadora."
        ),
    )
    def invoice_nightly_downloads_schedule(context: dg.ScheduleEvaluationContext, database: DatabaseResource):
        from zoneinfo import ZoneInfo

        from routines.calendar.registry import get_calendar
        from routines.calendar.ticks import business_day_tick
        from routines.invoices import service

        day = context.scheduled_execution_time.astimezone(ZoneInfo(TIMEZONE)).date()
        if days == "business":
            decision = business_day_tick(get_calendar(CALENDAR), day)
            if decision.run_day is None:
                return dg.SkipReason(decision.skip_reason)
        with database.session() as session:
            pending = service.pending_downloads(session, service.max_download_attempts())
        start = month_partitions.start.strftime("%Y-%m-%d")
        partitions: dict[tuple[str, str], list[int]] = {}
        for item in pending:
            month_key = f"{item.billing_month:%Y-%m-01}"
            if month_key >= start:
                partitions.setdefault((month_key, item.operator_code), []).append(item.process_id)
        if not partitions:
            return dg.SkipReason("nenhum processo aguardando download ou com tentativas restantes")
        # an operator partition the partitions sensor has not added yet (schedules cannot request it)
        existing = set(context.instance.get_dynamic_partitions(operator_partitions.name))
        missing = sorted({code for _, code in partitions} - existing)
        if missing:
            context.instance.add_dynamic_partitions(operator_partitions.name, missing)
        return [
            dg.RunRequest(
                run_key=f"nightly:{day.isoformat()}:{month_key}|{code}",
                partition_key=month_operator_key(month_key, code),
                tags={"routines/invoices": "nightly_download", "routines/processes": ",".join(map(str, ids))},
            )
            for (month_key, code), ids in sorted(partitions.items())
        ]

    return invoice_nightly_downloads_schedule


invoice_nightly_downloads_schedule = build_nightly_downloads_schedule()


@dg.sensor(
    name="invoice_download_attempts_sensor",
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Processo cujo download falhou na última tentativa permitida (ROUTINES_INVOICES_MAX_ATTEMPTS): "
        "notifica uma vez os operadores da empresa."
    ),
)
def invoice_download_attempts_sensor(context: dg.SensorEvaluationContext, database: DatabaseResource):
    from routines.invoices import service
    from routines.invoices.status import Status

    cursor = int(context.cursor) if (context.cursor or "").isdigit() else 0
    with database.session() as session:
        last = service.last_transition_id(session)
        failed = [
            row[1]
            for row in service.transitions_after(session, cursor, Status.FALHA_DOWNLOAD)
            if row[0] <= last
        ]
        exhausted = service.notify_exhausted_downloads(session, failed, service.max_download_attempts())
    context.update_cursor(str(max(last, cursor)))
    if exhausted:
        context.log.info(f"operadores notificados: tentativas esgotadas nos processos {exhausted}")
        return dg.SkipReason(
            f"operadores notificados sobre os processos {exhausted} (nenhuma execução a pedir)"
        )
    return dg.SkipReason("nenhum processo esgotou as tentativas de download")
