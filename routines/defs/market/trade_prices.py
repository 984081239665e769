"""Consolidated trade prices: the watched-folder sensor and the asset that loads a dropped file (thin glue).

The sensor lists the folder (ROUTINES_TRADE_PRICES_DIR), takes the files whose name matches the pattern
(ROUTINES_TRADE_PRICES_PATTERN, group `date` = YYYYMMDD) and requests one run of that date's partition per drop
(run key = name + sha256 + the drop's change time: a file waiting for its run is requested once; a corrected
file, or an older content dropped again, is loaded again). A file whose content is already the one loaded for its
date is moved to duplicates/ with `<name>.note.txt` (never left in the folder). A file dated on a non-business day
(ANBIMA) is moved to rejected/ at once with the holiday's name. The asset validates the whole file before touching
the table, replaces the date's rows in one transaction and moves the file to processed/; any failure (bad content
or a database error) loads nothing and moves the file to rejected/ with `<name>.error.txt` saying why.
"""

import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg

from routines.errors import InputFileError
from routines.lib.partitions import TIMEZONE, business_day_partitions
from routines.lib.resources import BusinessCalendarResource, DatabaseResource

TRADE_PRICES_START = "2023-01-02"
TRADE_PRICES_PARTITIONS = business_day_partitions("ANBIMA", TRADE_PRICES_START, include_current_day=True)
TAG_FILE = "routines/trade_prices_file"
TAG_SHA256 = "routines/trade_prices_sha256"


def _database_failure(name: str, exc: Exception) -> str:
    """One line for `<name>.error.txt`: the error's first line (SQL statements and parameters left out)."""
    from sqlalchemy.exc import DBAPIError

    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    first = (str(cause).strip().splitlines() or [""])[0]
    return f"{name}: the database refused the load ({type(cause).__name__}: {first}); nothing was loaded"


def _find_file(folder: Path, day: date) -> Path:
    from routines.market import settings
    from routines.market.trade_prices import date_from_name

    pattern = settings.trade_prices_pattern()
    matches = []
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        try:
            if path.is_file() and date_from_name(path.name, pattern) == day:
                matches.append(path)
        except InputFileError:
            continue
    if len(matches) != 1:
        found = ", ".join(p.name for p in matches) or "none"
        raise dg.Failure(
            description=f"expected one file for {day.isoformat()} in {folder}, found {found}",
            allow_retries=False,
        )
    return matches[0]


@dg.asset(
    group_name="market",
    partitions_def=TRADE_PRICES_PARTITIONS,
    kinds={"sql"},
    description=(
        "Preços de trade consolidados: arquivo deixado na pasta monitorada (CSV ';' com decimais pt-BR), "
        "conferido por inteiro e carregado numa transação (substitui os preços do dia)."
    ),
)
def consolidated_trade_prices(
    context: dg.AssetExecutionContext, database: DatabaseResource
) -> dg.MaterializeResult:
    from routines.files import move_processed, move_rejected
    from routines.market import settings
    from routines.market.trade_prices import load_trade_prices, parse_trade_prices, sha256_bytes

    day = date.fromisoformat(context.partition_key)
    folder = settings.trade_prices_dir()
    tags = context.run.tags if context.run else {}
    path = folder / tags[TAG_FILE] if tags.get(TAG_FILE) else _find_file(folder, day)
    if not path.is_file():
        raise dg.Failure(description=f"{path} is gone (already processed?)", allow_retries=False)
    data = path.read_bytes()
    sha256 = sha256_bytes(data)
    if tags.get(TAG_SHA256) and tags[TAG_SHA256] != sha256:
        raise dg.Failure(
            description=f"{path.name} changed after the run was requested (sha256 {sha256}); the sensor will "
            "request a run for the new content",
            allow_retries=False,
        )
    try:
        prices = parse_trade_prices(data, path.name, day)
        rows = load_trade_prices(prices, database.get_engine(), day, path.name, sha256)
    except Exception as exc:  # bad content or a database error: the file never stays in the folder
        reason = str(exc) if isinstance(exc, InputFileError) else _database_failure(path.name, exc)
        target = move_rejected(path, reason)
        context.log.error(f"{reason} -> moved to {target}")
        line = getattr(exc, "line", None) or ""
        raise dg.Failure(
            description=reason,
            metadata={"rejected_to": str(target), "line": line, "field": getattr(exc, "field", None) or ""},
            allow_retries=False,
        ) from exc
    try:
        target = move_processed(path)
    except FileNotFoundError:  # the sensor saw the content loaded and moved the file to duplicates/ meanwhile
        target = folder / "duplicates" / path.name
    context.log.info(f"{path.name}: {rows} prices loaded for {day.isoformat()} -> {target}")
    return dg.MaterializeResult(
        metadata={
            "file": path.name,
            "sha256": sha256,
            "size_bytes": len(data),
            "processed_to": str(target),
            "dagster/row_count": rows,
            "preview": dg.MetadataValue.md(
                "| código | tipo | preço | moeda |\n|---|---|---|---|\n"
                + "\n".join(
                    f"| {p.instrument} | {p.instrument_type} | {p.price} | {p.currency} |"
                    for p in prices[:10]
                )
            ),
        }
    )


consolidated_trade_prices_job = dg.define_asset_job(
    "consolidated_trade_prices_job",
    selection=[consolidated_trade_prices],
)


def build_trade_prices_sensor(
    name: str = "consolidated_trade_prices_sensor",
    min_age_seconds: float = 10.0,
    now: Callable[[], datetime] | None = None,
    minimum_interval_seconds: int = 60,
) -> dg.SensorDefinition:
    """The watched-folder sensor. Files younger than `min_age_seconds` wait for the next tick (still being
    copied); `now` is injectable for tests."""

    @dg.sensor(
        name=name,
        job=consolidated_trade_prices_job,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Pasta monitorada de preços de trade consolidados: uma carga por arquivo (nome + sha256)",
    )
    def trade_prices_sensor(
        context: dg.SensorEvaluationContext,
        anbima_calendar: BusinessCalendarResource,
        database: DatabaseResource,
    ):
        from routines.files import move_duplicate, move_rejected
        from routines.market import settings
        from routines.market.trade_prices import date_from_name, loaded_sha256, sha256_bytes

        moment = (now() if now else datetime.now(ZoneInfo(TIMEZONE))).astimezone(ZoneInfo(TIMEZONE))
        folder = settings.trade_prices_dir()
        folder.mkdir(parents=True, exist_ok=True)
        pattern = settings.trade_prices_pattern()
        calendar = anbima_calendar.calendar
        requests, notes = [], []
        for path in sorted(folder.iterdir()):
            if not path.is_file() or path.name.startswith(".") or path.name.endswith(".error.txt"):
                continue
            if time.time() - path.stat().st_mtime < min_age_seconds:
                notes.append(f"{path.name}: aguardando o fim da cópia")
                continue
            try:
                day = date_from_name(path.name, pattern)
            except InputFileError as exc:
                target = move_rejected(path, str(exc))
                context.log.warning(f"{exc} -> {target}")
                notes.append(f"{path.name}: rejeitado ({exc.reason})")
                continue
            if day is None:
                notes.append(f"{path.name}: nome fora do padrão {pattern.pattern!r}, ignorado")
                continue
            reason = calendar.closed_reason(day)
            if day.isoformat() < TRADE_PRICES_START:
                reason = f"anterior ao início das partições ({TRADE_PRICES_START})"
            elif day > moment.date():
                reason = "data futura"
            elif reason:
                reason = f"{day:%d/%m/%Y} não é dia útil no calendário ANBIMA: {reason}"
            if reason:
                message = f"{path.name}: {reason}"
                target = move_rejected(path, message)
                context.log.warning(f"{message} -> {target}")
                notes.append(f"{path.name}: rejeitado ({reason})")
                continue
            sha256 = sha256_bytes(path.read_bytes())
            if sha256 in loaded_sha256(database.get_engine(), day):
                note = (
                    f"{path.name}: conteúdo idêntico ao já carregado para {day:%d/%m/%Y} (sha256 {sha256}); "
                    "nada a carregar"
                )
                target = move_duplicate(path, note)
                context.log.info(f"{note} -> {target}")
                notes.append(f"{path.name}: já carregado, movido para duplicates/")
                continue
            requests.append(
                dg.RunRequest(
                    run_key=f"{path.name}:{sha256}:{path.stat().st_ctime_ns}",
                    partition_key=day.isoformat(),
                    tags={TAG_FILE: path.name, TAG_SHA256: sha256},
                )
            )
        if requests:
            return dg.SensorResult(run_requests=requests)
        return dg.SkipReason("; ".join(notes) or f"nenhum arquivo novo em {folder}")

    return trade_prices_sensor


consolidated_trade_prices_sensor = build_trade_prices_sensor()
