"""Sensors of the invoices flow. Cursors are ids of `invoice_process_transitions` (monotonic): a tick looks at
the transitions in (cursor, last id read at the start of the tick] and moves the cursor to that last id.

- `invoice_operator_partitions_sensor`: keeps the `invoice_operators` dynamic partitions equal to the active
  operators with RPA in the database (adds new ones, removes disabled ones).
- `invoice_downloads_sensor`: processes that (re)entered AGUARDANDO_DOWNLOAD -> runs of `downloaded_invoices`
  for their month x operator partitions.
- `invoice_approval_sensor`: applies the decisions the business application wrote in the approval columns,
  then turns newly approved invoices (transitions to AGUARDANDO_ENVIO_SAT) into runs of `sat_uploads`.
"""

import dagster as dg

from routines.defs.invoices.assets import (
    invoice_downloads_job,
    month_operator_key,
    month_partitions,
    operator_partitions,
    sat_uploads_job,
)
from routines.lib.resources import DatabaseResource


def _cursor(context: dg.SensorEvaluationContext) -> int:
    try:
        return int(context.cursor or 0)
    except ValueError:
        return 0


def _transitions_into(session, cursor: int, status) -> tuple[int, list]:
    """The last transition id now, and the transitions into `status` in (cursor, that id]: a transition
    committed while the tick reads is left for the next tick, never skipped."""
    from routines.invoices import service

    last = service.last_transition_id(session)
    rows = [row for row in service.transitions_after(session, cursor, status) if row[0] <= last]
    return last, rows


def _month_key(month) -> str | None:
    key = f"{month:%Y-%m-01}"
    return key if key >= month_partitions.start.strftime("%Y-%m-%d") else None


@dg.sensor(
    name="invoice_operator_partitions_sensor",
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Mantém as partições de operadora de `downloaded_invoices` iguais às operadoras ativas com RPA.",
)
def invoice_operator_partitions_sensor(context: dg.SensorEvaluationContext, database: DatabaseResource):
    from routines.invoices import service

    with database.session() as session:
        wanted = set(service.rpa_operator_codes(session))
    current = set(context.instance.get_dynamic_partitions(operator_partitions.name))
    added, removed = sorted(wanted - current), sorted(current - wanted)
    if not added and not removed:
        return dg.SkipReason(f"operator partitions up to date ({len(current)})")
    requests = []
    if added:
        requests.append(operator_partitions.build_add_request(added))
    if removed:
        requests.append(operator_partitions.build_delete_request(removed))
    context.log.info(f"operator partitions: added {added}, removed {removed}")
    return dg.SensorResult(dynamic_partitions_requests=requests)


@dg.sensor(
    name="invoice_downloads_sensor",
    job=invoice_downloads_job,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Processos que entraram em AGUARDANDO_DOWNLOAD viram execuções de `downloaded_invoices`.",
)
def invoice_downloads_sensor(context: dg.SensorEvaluationContext, database: DatabaseResource):
    from routines.invoices import service
    from routines.invoices.status import Status

    cursor = _cursor(context)
    with database.session() as session:
        last, rows = _transitions_into(session, cursor, Status.AGUARDANDO_DOWNLOAD)
        rpa_codes = set(service.rpa_operator_codes(session))
    partitions: dict[tuple[str, str], int] = {}
    for transition_id, _process_id, month, code, from_status, actor in rows:
        # a run retrying its own failed downloads already handles them: no new run for that
        if from_status == Status.FALHA_DOWNLOAD and actor.startswith("run:"):
            continue
        month_key = _month_key(month)
        if code not in rpa_codes or month_key is None:
            continue
        partitions[(month_key, code)] = max(partitions.get((month_key, code), 0), transition_id)
    existing = set(context.instance.get_dynamic_partitions(operator_partitions.name))
    missing = sorted({code for _, code in partitions} - existing)
    run_requests = [
        dg.RunRequest(
            run_key=f"download:{month_key}|{code}:{transition_id}",
            partition_key=month_operator_key(month_key, code),
            tags={"routines/invoices": "download"},
        )
        for (month_key, code), transition_id in sorted(partitions.items())
    ]
    return dg.SensorResult(
        run_requests=run_requests,
        cursor=str(max(last, cursor)),
        dynamic_partitions_requests=[operator_partitions.build_add_request(missing)] if missing else [],
        skip_reason=None if run_requests else "no process entered AGUARDANDO_DOWNLOAD",
    )


@dg.sensor(
    name="invoice_approval_sensor",
    job=sat_uploads_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Faturas aprovadas (AGUARDANDO_ENVIO_SAT) viram execuções de `sat_uploads`; rejeitadas são registradas.",
)
def invoice_approval_sensor(context: dg.SensorEvaluationContext, database: DatabaseResource):
    from routines.invoices import service
    from routines.invoices.status import Status

    cursor = _cursor(context)
    with database.session() as session:
        applied = service.apply_recorded_decisions(session)
    for process_id, new_status in applied:
        context.log.info(f"processo {process_id}: decisão registrada pela aplicação aplicada -> {new_status}")
    with database.session() as session:
        last, rows = _transitions_into(session, cursor, Status.AGUARDANDO_ENVIO_SAT)
    months: dict[str, int] = {}
    for transition_id, _process_id, month, _code, _from, _actor in rows:
        month_key = _month_key(month)
        if month_key is not None:
            months[month_key] = max(months.get(month_key, 0), transition_id)
    run_requests = [
        dg.RunRequest(
            run_key=f"sat:{month_key}:{transition_id}",
            partition_key=month_key,
            tags={"routines/invoices": "sat"},
        )
        for month_key, transition_id in sorted(months.items())
    ]
    return dg.SensorResult(
        run_requests=run_requests,
        cursor=str(max(last, cursor)),
        skip_reason=None if run_requests else "no newly approved invoice",
    )
