"""B3 COTAHIST publication sensor and the business-day schedule that backs it up.

The sensor ticks every few minutes. On a B3 business day, from ROUTINES_B3_PUBLICATION_START (local time), it asks
the B3 site cheaply (HEAD) whether the session's file is there and, once it is, requests the partition's run with
a run key made of the day and the file's identity (ETag / Last-Modified / size): each published file is loaded
once, and a file re-published with other content is loaded again. The previous business day is also checked
if it was never requested (file published after midnight, sensor stopped). Past ROUTINES_B3_PUBLICATION_DEADLINE
a missing file is reported late: a warning in the sensor's log and the tick's skip reason in the UI.

The fallback schedule runs the previous session's load every business day at 08:00 (idempotent if the sensor
already loaded it).
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import dagster as dg

from routines.defs.market.b3 import B3_PARTITIONS, b3_quotes_job
from routines.defs.market.resources import B3CotahistSite
from routines.lib.partitions import TIMEZONE
from routines.lib.resources import BusinessCalendarResource
from routines.lib.schedules import business_day_schedule

KEEP_DAYS = 10


@dataclass
class FileState:
    published: bool
    identity: str = ""
    detail: str = ""


def probe_file(client, name: str) -> FileState:
    """HEAD the file (GET without reading the body if HEAD is refused); 404 = not published yet."""
    from routines.http import HttpError, RetryableHttpError

    try:
        try:
            response = client.head(name)
        except HttpError as exc:
            if exc.retryable or exc.status not in (405, 501):
                raise
            response = client.get(name, stream=True)
            response.close()
    except RetryableHttpError as exc:
        if exc.status == 404:
            return FileState(False, detail="404")
        return FileState(False, detail=str(exc))
    content_type = response.headers.get("Content-Type", "")
    if "html" in content_type.lower():
        return FileState(False, detail=f"HTML page instead of the file ({content_type})")
    identity = (
        response.headers.get("ETag")
        or response.headers.get("Last-Modified")
        or response.headers.get("Content-Length")
        or "unknown"
    )
    return FileState(True, identity=identity.strip('"').replace(" ", "_"))


def _load_cursor(cursor: str | None) -> dict[str, str]:
    if not cursor:
        return {}
    try:
        value = json.loads(cursor)
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in value.get("requested", {}).items()} if isinstance(value, dict) else {}


def _dump_cursor(requested: dict[str, str]) -> str:
    kept = dict(sorted(requested.items())[-KEEP_DAYS:])
    return json.dumps({"requested": kept}, sort_keys=True)


def build_publication_sensor(
    name: str = "b3_cotahist_publication_sensor",
    now: Callable[[], datetime] | None = None,
    minimum_interval_seconds: int = 300,
) -> dg.SensorDefinition:
    """The sensor; `now` (tz-aware) is injectable for tests."""

    def current_time() -> datetime:
        return (now() if now else datetime.now(ZoneInfo(TIMEZONE))).astimezone(ZoneInfo(TIMEZONE))

    @dg.sensor(
        name=name,
        job=b3_quotes_job,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description=(
            "Verifica a publicação do COTAHIST do pregão a partir do horário configurado e dispara a carga "
            "minutos depois da publicação; avisa atraso após o horário limite."
        ),
    )
    def publication_sensor(
        context: dg.SensorEvaluationContext,
        b3_cotahist_site: B3CotahistSite,
        b3_calendar: BusinessCalendarResource,
    ):
        from routines.market import settings
        from routines.market.cotahist import daily_file_name

        calendar = b3_calendar.calendar
        moment = current_time()
        today = moment.date()
        start, deadline = settings.b3_publication_start(), settings.b3_publication_deadline()
        requested = _load_cursor(context.cursor)

        candidates: list[date] = []
        previous = calendar.offset(today, -1)
        if previous.isoformat() not in requested:
            candidates.append(previous)
        notes: list[str] = []
        closed = calendar.closed_reason(today)
        if closed:
            notes.append(f"{today:%d/%m/%Y}: B3 fechada ({closed})")
        elif moment.time() < start:
            notes.append(f"{today:%d/%m/%Y}: verificação começa às {start:%H:%M}")
        elif today.isoformat() not in requested or moment.time() < deadline:
            candidates.append(today)  # also re-checked until the deadline: a re-published file is reloaded
        else:
            notes.append(f"{today:%d/%m/%Y}: arquivo já carregado")

        run_requests: list[dg.RunRequest] = []
        client = b3_cotahist_site.client()
        try:
            for day in candidates:
                file_name = daily_file_name(day)
                state = probe_file(client, file_name)
                key = day.isoformat()
                if state.published:
                    run_key = f"{key}:{file_name}:{state.identity}"
                    if requested.get(key) == run_key:
                        notes.append(f"{file_name} sem alteração")
                        continue
                    requested[key] = run_key
                    context.log.info(f"{file_name} publicado ({state.identity}): pedindo a carga de {key}")
                    run_requests.append(
                        dg.RunRequest(
                            run_key=run_key,
                            partition_key=key,
                            tags={
                                "routines/source_file": file_name,
                                "routines/file_identity": state.identity,
                            },
                        )
                    )
                    continue
                late = day < today or moment.time() >= deadline
                if late:
                    message = (
                        f"ATRASADO: {file_name} (pregão de {day:%d/%m/%Y}) ainda não publicado "
                        f"em {moment:%d/%m/%Y %H:%M}, limite {day:%d/%m/%Y} {deadline:%H:%M}"
                    )
                    context.log.warning(message)
                else:
                    message = f"{file_name} ainda não publicado ({state.detail or 'aguardando'})"
                notes.append(message)
        finally:
            client.close()
        cursor = _dump_cursor(requested)
        if run_requests:
            return dg.SensorResult(run_requests=run_requests, cursor=cursor)
        return dg.SensorResult(
            skip_reason=dg.SkipReason("; ".join(notes) or "nada a verificar"), cursor=cursor
        )

    return publication_sensor


b3_publication_sensor = build_publication_sensor()

b3_fallback_schedule = business_day_schedule(
    name="b3_quotes_fallback_schedule",
    target=b3_quotes_job,
    calendar_name="B3",
    hour=8,
    minute=0,
    business_days_late=1,
    partitions_def=B3_PARTITIONS,
    description="Reserva do sensor: carrega o COTAHIST do pregão anterior às 08:00 de cada dia útil da B3",
)
