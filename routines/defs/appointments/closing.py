"""Closing past appointments (thin glue over `routines.appointments.service`).

- `close_past_appointments_job`: the set-based close (one transaction per batch), every due appointment or
  only the ids in its config.
- `close_past_appointments_schedule`: hourly by default (ROUTINES_APPOINTMENTS_CLOSE_CRON, São Paulo time).
- `appointments_saved_sensor`: the legacy "on save" trigger: appointments saved with a past time (watched by an
  `updated_at` cursor) are closed within one interval (ROUTINES_APPOINTMENTS_SENSOR_INTERVAL seconds), run
  key = the batch's ids.
"""

from datetime import datetime

import dagster as dg
from pydantic import Field

from routines import settings
from routines.lib.resources import DatabaseResource
from routines.lib.schedules import cron_job_schedule

CRON_ENV = "ROUTINES_APPOINTMENTS_CLOSE_CRON"
INTERVAL_ENV = "ROUTINES_APPOINTMENTS_SENSOR_INTERVAL"
SENSOR_BATCH = 1000


class CloseAppointmentsConfig(dg.Config):
    appointment_ids: list[int] = Field(
        default_factory=list, description="fechar só estes agendamentos (vazio = todos os vencidos)"
    )
    batch_size: int = Field(default=10_000, description="agendamentos por transação")


@dg.op(
    out=dg.Out(dg.Nothing),
    description=(
        "Encerra os agendamentos ativos cujo horário já passou: cria um atendimento para cada um (diagnóstico "
        "'Consulta finalizada automaticamente via sistema', tratamento = observações do agendamento ou "
        "'Realizado conforme agendamento') e os desativa, em SQL por lotes (uma transação por lote). Nunca cria "
        "um segundo atendimento para o mesmo agendamento."
    ),
)
def close_past_appointments(
    context: dg.OpExecutionContext, config: CloseAppointmentsConfig, database: DatabaseResource
) -> None:
    from routines.appointments import service

    summary = service.close_past_appointments(
        database.get_engine(),
        ids=config.appointment_ids or None,
        batch_size=config.batch_size,
        actor=f"run:{context.run_id}",
    )
    context.log.info(
        f"{summary.closed} agendamento(s) encerrado(s), {summary.attendances} atendimento(s) criado(s) "
        f"em {summary.batches} lote(s)"
    )
    context.add_output_metadata(
        {
            "closed": summary.closed,
            "attendances_created": summary.attendances,
            "batches": summary.batches,
            "requested_ids": len(config.appointment_ids) if config.appointment_ids else "todos",
            "id_ranges": dg.MetadataValue.json([list(pair) for pair in summary.id_ranges[:100]]),
        }
    )


@dg.job(
    description="Encerra agendamentos vencidos e registra seus atendimentos (agendamento horário e sensor 'ao salvar').",
    tags={"routines/domain": "appointments"},
)
def close_past_appointments_job():
    close_past_appointments()


def build_close_schedule(cron: str | None = None) -> dg.ScheduleDefinition:
    cron = cron or settings.env_cron(CRON_ENV, "0 * * * *")
    return cron_job_schedule(
        name="close_past_appointments_schedule",
        job=close_past_appointments_job,
        cron=cron,
        description=f"Encerra os agendamentos vencidos (cron `{cron}`, horário de São Paulo; {CRON_ENV}).",
    )


close_past_appointments_schedule = build_close_schedule()


def _cursor(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


@dg.sensor(
    name="appointments_saved_sensor",
    job=close_past_appointments_job,
    minimum_interval_seconds=settings.env_int(INTERVAL_ENV, 60, 10),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Gatilho 'ao salvar': agendamentos gravados (updated_at) com horário já passado são encerrados no "
        "intervalo seguinte, sem esperar o agendamento horário (chave da execução = ids do lote)."
    ),
)
def appointments_saved_sensor(context: dg.SensorEvaluationContext, database: DatabaseResource):
    from routines.appointments import service
    from routines.database.base import utcnow

    since = _cursor(context.cursor)
    with database.session() as session:
        batch = service.saved_due_appointments(session, since=since, now=utcnow(), limit=SENSOR_BATCH)
    cursor = batch.cursor.isoformat() if batch.cursor else context.cursor
    if not batch.ids:
        return dg.SensorResult(cursor=cursor, skip_reason="nenhum agendamento vencido foi salvo")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=service.batch_run_key(batch.ids),
                run_config={
                    "ops": {"close_past_appointments": {"config": {"appointment_ids": list(batch.ids)}}}
                },
                tags={"routines/appointments": str(len(batch.ids))},
            )
        ],
        cursor=cursor,
    )
