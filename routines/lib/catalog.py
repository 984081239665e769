"""Dagster glue of the routine catalog: the `Routine` component (one routine = one `defs.yaml`) and the
`RoutineFolder` component (every YAML file of the folder named by ROUTINES_CATALOG_DIR, read each time the code
location loads: "Reload definitions" picks up new files).

Each routine becomes the asset `catalog/<name>` (partitioned by business day or by month when its schedule
is), a job `catalog_<name>_job` and, by routine type, a schedule `catalog_<name>_schedule`, a sensor
`catalog_<name>_sensor` (eventual) or an automation condition (after). The routine logic is in
`routines.catalog` (pure).

An invalid file of the external folder leaves only its routines out: the rest loads, and the sensor
`routines_catalog_folder` shows every error (file, routine, field) as its skip reason.
"""

import json
import os
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
from pydantic import BaseModel

from routines.catalog.schema import (
    AfterSchedule,
    ApiCall,
    CatalogError,
    CronSchedule,
    CyclicSchedule,
    DailySchedule,
    DownloadFile,
    EventualSchedule,
    LoadFile,
    MonthlySchedule,
    PythonCall,
    RoutineSpec,
    parse_hhmm,
)
from routines.files import move_processed, move_rejected
from routines.lib.partitions import TIMEZONE, business_day_partitions
from routines.lib.resources import (
    EXTERNAL_RETRY_POLICY,
    DatabaseResource,
    FileStoreResource,
    bad_input_fails,
    http_failures,
)
from routines.lib.schedules import business_day_schedule, monthly_business_day_schedule

CATALOG_DIR_ENV = "ROUTINES_CATALOG_DIR"
FILE_TAG = "routines/catalog_file"
DAY_TAG = "routines/business_day"
DEADLINE_KEY = "routines/deadline"
CATCH_UP_TAG = "routines/catch_up_lookback"
FOLDER_SENSOR = "routines_catalog_folder"


def asset_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["catalog", name])


def _upstream_key(reference: str) -> dg.AssetKey:
    return dg.AssetKey(reference.split("/")) if "/" in reference else asset_key(reference)


@lru_cache(maxsize=64)
def _daily_partitions(calendar: str, start: date, include_current_day: bool) -> dg.DailyPartitionsDefinition:
    return business_day_partitions(calendar, start, include_current_day=include_current_day)


@lru_cache(maxsize=64)
def _monthly_partitions(start: date) -> dg.MonthlyPartitionsDefinition:
    return dg.MonthlyPartitionsDefinition(start_date=start.replace(day=1).isoformat(), timezone=TIMEZONE)


def partitions_for(spec: RoutineSpec) -> dg.PartitionsDefinition | None:
    if spec.partitioning == "daily":
        return _daily_partitions(spec.calendar, spec.start_date, spec.include_current_day)
    if spec.partitioning == "monthly":
        return _monthly_partitions(spec.start_date)
    return None


def _run_day(context: dg.AssetExecutionContext, spec: RoutineSpec) -> date:
    if context.has_partition_key:
        return date.fromisoformat(context.partition_key)
    tagged = context.run.tags.get(DAY_TAG)
    if tagged:
        return date.fromisoformat(tagged)
    return datetime.now(ZoneInfo(TIMEZONE)).date()


def _upstream_file(context: dg.AssetExecutionContext, upstream: str) -> Path:
    """The file the upstream download routine stored for this partition (its latest materialization)."""
    key = asset_key(upstream)
    partition = context.partition_key if context.has_partition_key else None
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition] if partition else None), limit=1
    ).records
    if not records:
        where = f" partition {partition}" if partition else ""
        raise dg.Failure(
            description=f"{key.to_user_string()}{where} não foi materializado: não há arquivo para carregar",
            allow_retries=False,
        )
    metadata = records[0].asset_materialization.metadata
    return Path(metadata["path"].value)


def _metadata_values(metadata: dict) -> dict:
    values = {}
    for key, value in metadata.items():
        if key == "url":
            values[key] = dg.MetadataValue.url(value) if str(value).startswith("http") else value
        elif key == "preview":
            rows = json.loads(value)
            values[key] = dg.MetadataValue.md(_markdown_table(rows)) if rows else "(nenhuma linha)"
        elif key == "row_count":
            values["dagster/row_count"] = value
        else:
            values[key] = value
    return values


def _markdown_table(rows: list[dict]) -> str:
    names = list(rows[0])
    lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    lines += ["| " + " | ".join("" if r[n] is None else str(r[n]) for n in names) + " |" for r in rows]
    return "\n".join(lines)


def _execute(context: dg.AssetExecutionContext, spec: RoutineSpec, database, file_store) -> dict:
    from routines.calendar.registry import get_calendar
    from routines.catalog import runner

    day = _run_day(context, spec)
    calendar = get_calendar(spec.calendar)
    partitioned = context.has_partition_key
    execution = spec.execution
    store = file_store.get_store()
    if isinstance(execution, DownloadFile):
        with http_failures(), bad_input_fails():
            return runner.download_file(spec, day, store, calendar)
    if isinstance(execution, ApiCall):
        with http_failures(), bad_input_fails():
            return runner.api_call(spec, day, store, database.get_engine, calendar, partitioned=partitioned)
    if isinstance(execution, LoadFile):
        arrived = context.run.tags.get(FILE_TAG)
        if execution.source is None:
            if not arrived:
                raise dg.Failure(description=f"rotina {spec.name}: execução sem o arquivo ({FILE_TAG})")
            path = Path(arrived)
        elif execution.source.routine:
            path = _upstream_file(context, execution.source.routine)
        else:
            path = runner.load_path_template(spec, day, calendar)
        if not path.is_file():
            raise dg.Failure(
                description=f"rotina {spec.name}: arquivo {path} não existe", allow_retries=False
            )
        try:
            with bad_input_fails():
                metadata = runner.load_bytes(
                    spec, path.read_bytes(), str(path), day, database.get_engine(), partitioned=partitioned
                )
        except dg.Failure as failure:
            if arrived:
                target = move_rejected(path, f"{path.name}: {failure.description}")
                context.log.warning(f"{path} movido para {target} (motivo em {target.name}.error.txt)")
            raise
        except Exception as exc:  # database or disk errors: the file never stays behind in the folder
            if arrived:
                target = move_rejected(path, f"{path.name}: {type(exc).__name__}: {exc}")
                context.log.warning(f"{path} movido para {target}")
            raise
        if arrived:
            metadata["moved_to"] = str(move_processed(path))
        return metadata
    assert isinstance(execution, PythonCall)
    available = {
        "calendar": calendar,
        "file_store": store,
        "database": database.get_engine(),
        "log": context.log,
    }
    if context.run.tags.get(FILE_TAG):
        available["file"] = Path(context.run.tags[FILE_TAG])
    return runner_python(spec, day, available)


def runner_python(spec: RoutineSpec, day: date, available: dict) -> dict:
    from routines.catalog import runner

    with bad_input_fails():
        return runner.python_call(spec, day, available)


def _asset_metadata(spec: RoutineSpec, source: str) -> dict:
    execution = spec.execution
    metadata: dict = {
        "routines/catalog_source": source,
        "routines/calendar": spec.calendar,
        "routines/execution": execution.type,
        "routines/schedule": spec.schedule.type,
    }
    if isinstance(execution, DownloadFile | ApiCall):
        metadata["url_template"] = execution.url
    if isinstance(execution, LoadFile) or (isinstance(execution, ApiCall) and execution.table):
        metadata["table"] = execution.table.name
    if spec.deadline is not None:
        metadata[DEADLINE_KEY] = dg.MetadataValue.json(
            {
                "calendar": spec.calendar,
                "time": spec.deadline.time,
                "business_days_after": spec.deadline.business_days_after,
            }
        )
    return metadata


def build_asset(spec: RoutineSpec, source: str) -> dg.AssetsDefinition:
    execution = spec.execution
    partitions = partitions_for(spec)
    deps = [_upstream_key(name) for name in spec.upstream_routines()]
    if isinstance(spec.schedule, AfterSchedule):
        deps += [_upstream_key(u) for u in spec.schedule.upstream if "/" in u]
    tags = {"routines/catalog": "true"}
    if spec.catch_up is not None:
        tags[CATCH_UP_TAG] = str(spec.catch_up.lookback_business_days)
    external = isinstance(execution, DownloadFile | ApiCall)
    automation = dg.AutomationCondition.eager() if isinstance(spec.schedule, AfterSchedule) else None

    @dg.asset(
        key=asset_key(spec.name),
        group_name=spec.group,
        description=spec.description or f"Rotina do catálogo {spec.name} ({execution.type})",
        partitions_def=partitions,
        deps=list(dict.fromkeys(deps)),
        owners=spec.owners or None,
        tags=tags,
        metadata=_asset_metadata(spec, source),
        retry_policy=EXTERNAL_RETRY_POLICY if external else None,
        automation_condition=automation,
    )
    def _routine(
        context: dg.AssetExecutionContext, database: DatabaseResource, file_store: FileStoreResource
    ) -> dg.MaterializeResult:
        from routines.errors import UserError

        try:
            metadata = _execute(context, spec, database, file_store)
        except UserError as exc:  # configuration or data that retrying cannot fix
            raise dg.Failure(description=str(exc), allow_retries=False) from exc
        return dg.MaterializeResult(metadata=_metadata_values(metadata))

    return _routine


def _status(spec: RoutineSpec):
    return dg.DefaultScheduleStatus.RUNNING if spec.enabled else dg.DefaultScheduleStatus.STOPPED


def _local(context) -> datetime:
    moment = context.scheduled_execution_time or datetime.now(ZoneInfo(TIMEZONE))
    return moment.astimezone(ZoneInfo(TIMEZONE))


def cron_schedule(spec: RoutineSpec, job, selection=None) -> dg.ScheduleDefinition:
    schedule = spec.schedule
    assert isinstance(schedule, CronSchedule)

    @dg.schedule(
        name=f"catalog_{spec.name}_schedule",
        cron_schedule=schedule.cron,
        execution_timezone=TIMEZONE,
        job=job,
        default_status=_status(spec),
        description=f"cron {schedule.cron} nos {schedule.day_group} do calendário {spec.calendar}",
    )
    def _schedule(context: dg.ScheduleEvaluationContext):
        from routines.calendar.registry import get_calendar
        from routines.catalog.ticks import day_group_tick

        moment = _local(context)
        decision = day_group_tick(get_calendar(spec.calendar), moment.date(), schedule.day_group)
        if decision.run_day is None:
            return dg.SkipReason(decision.skip_reason)
        return dg.RunRequest(
            run_key=f"{spec.name}:{moment:%Y-%m-%dT%H:%M}",
            tags={DAY_TAG: moment.date().isoformat(), "routines/calendar": spec.calendar},
            asset_selection=selection,
        )

    return _schedule


def cyclic_schedule(spec: RoutineSpec, job, selection=None) -> dg.ScheduleDefinition:
    schedule = spec.schedule
    assert isinstance(schedule, CyclicSchedule)
    from routines.catalog.ticks import cyclic_cron

    @dg.schedule(
        name=f"catalog_{spec.name}_schedule",
        cron_schedule=cyclic_cron(schedule),
        execution_timezone=TIMEZONE,
        job=job,
        default_status=_status(spec),
        description=(
            f"A cada {schedule.every_minutes} min das {schedule.start} às {schedule.end} "
            f"({schedule.day_group}, calendário {spec.calendar})"
        ),
    )
    def _schedule(context: dg.ScheduleEvaluationContext):
        from routines.calendar.registry import get_calendar
        from routines.catalog.ticks import cyclic_tick

        decision = cyclic_tick(get_calendar(spec.calendar), _local(context), schedule)
        if decision.slot is None:
            return dg.SkipReason(decision.skip_reason)
        return dg.RunRequest(
            run_key=f"{spec.name}:{decision.slot:%Y-%m-%dT%H:%M}",
            tags={DAY_TAG: decision.slot.date().isoformat(), "routines/slot": f"{decision.slot:%H:%M}"},
            asset_selection=selection,
        )

    return _schedule


def arrival_sensor(spec: RoutineSpec, job, selection=None) -> dg.SensorDefinition:
    schedule = spec.schedule
    assert isinstance(schedule, EventualSchedule) and schedule.watch is not None
    watch = schedule.watch

    @dg.sensor(
        name=f"catalog_{spec.name}_sensor",
        job=job,
        minimum_interval_seconds=watch.poll_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING if spec.enabled else dg.DefaultSensorStatus.STOPPED,
        description=f"Arquivos {watch.pattern} em {watch.folder} (processados vão para processed/, rejeitados "
        "para rejected/)",
    )
    def _sensor(context: dg.SensorEvaluationContext):
        from routines.files import move_duplicate, sha256_of

        folder = Path(watch.folder).expanduser()
        if not folder.is_dir():
            return dg.SkipReason(f"pasta {folder} não existe")
        files = sorted(p for p in folder.glob(watch.pattern) if p.is_file() and not p.name.startswith("."))
        if not files:
            return dg.SkipReason(f"nenhum arquivo {watch.pattern} em {folder}")
        requests, notes = [], []
        for path in files:
            digest = sha256_of(path)
            earlier = context.instance.get_runs(
                filters=dg.RunsFilter(tags={"dagster/run_key": f"{spec.name}:{digest}"}), limit=1
            )
            if earlier and earlier[0].status == dg.DagsterRunStatus.SUCCESS:
                # the same content was loaded by that run: the copy is set aside, never loaded twice
                note = (
                    f"{path.name}: conteúdo idêntico ao já carregado pela execução {earlier[0].run_id} "
                    f"(sha256 {digest}); nada a carregar"
                )
                notes.append(f"{path.name}: já carregado, movido para {move_duplicate(path, note)}")
                continue
            if earlier and not earlier[0].is_finished:
                notes.append(f"{path.name}: em carga pela execução {earlier[0].run_id}")
                continue
            if earlier:  # failed without moving the file (a killed worker): Dagster's re-execution takes it
                notes.append(
                    f"{path.name}: a execução {earlier[0].run_id} deste conteúdo falhou; reexecute-a"
                )
                continue
            requests.append(
                dg.RunRequest(
                    run_key=f"{spec.name}:{digest}",
                    tags={FILE_TAG: str(path), "routines/catalog_sha256": digest},
                    asset_selection=selection,
                )
            )
        if requests:
            return dg.SensorResult(run_requests=requests)
        return dg.SkipReason("; ".join(notes))

    return _sensor


def schedules_for(spec: RoutineSpec, job, partitions, selection=None) -> tuple[list, list]:
    """The schedule or sensor of a routine (none for `after` and manual `eventual`), running `job` (only the
    routine's asset of it when `selection` is given)."""
    schedule = spec.schedule
    name = f"catalog_{spec.name}_schedule"
    if isinstance(schedule, DailySchedule):
        at = parse_hhmm(schedule.time)
        return [
            business_day_schedule(
                name=name,
                target=job,
                calendar_name=spec.calendar,
                hour=at.hour,
                minute=at.minute,
                business_days_late=schedule.business_days_late,
                partitions_def=partitions,
                default_status=_status(spec),
                asset_selection=selection,
            )
        ], []
    if isinstance(schedule, MonthlySchedule):
        at = parse_hhmm(schedule.time)
        return [
            monthly_business_day_schedule(
                name=name,
                target=job,
                calendar_name=spec.calendar,
                nth=schedule.nth_business_day,
                hour=at.hour,
                minute=at.minute,
                partitions_def=partitions,
                default_status=_status(spec),
                asset_selection=selection,
            )
        ], []
    if isinstance(schedule, CronSchedule):
        return [cron_schedule(spec, job, selection)], []
    if isinstance(schedule, CyclicSchedule):
        return [cyclic_schedule(spec, job, selection)], []
    if isinstance(schedule, EventualSchedule) and schedule.watch is not None:
        return [], [arrival_sensor(spec, job, selection)]
    return [], []


def automation_sensor(spec: RoutineSpec) -> dg.AutomationConditionSensorDefinition:
    """The sensor that evaluates an `after` routine's condition: its own, running when the routine is enabled
    (Dagster's default automation sensor starts stopped and would leave the routine waiting forever)."""
    return dg.AutomationConditionSensorDefinition(
        f"catalog_{spec.name}_automation",
        target=[asset_key(spec.name)],
        default_status=dg.DefaultSensorStatus.RUNNING if spec.enabled else dg.DefaultSensorStatus.STOPPED,
        description=f"Executa {spec.name} quando as rotinas de que depende concluem o mesmo dia",
    )


def _needs_job(spec: RoutineSpec) -> bool:
    schedule = spec.schedule
    return not (
        isinstance(schedule, AfterSchedule)
        or (isinstance(schedule, EventualSchedule) and schedule.watch is None)
    )


def build_routine_defs(spec: RoutineSpec, source: str) -> dg.Definitions:
    """One routine: its own asset, job and schedule/sensor (the project's `Routine` components)."""
    asset = build_asset(spec, source)
    if not _needs_job(spec):
        after = [automation_sensor(spec)] if isinstance(spec.schedule, AfterSchedule) else []
        return dg.Definitions(assets=[asset], sensors=after)
    job = dg.define_asset_job(
        name=f"catalog_{spec.name}_job",
        selection=[asset.key],
        tags={"routines/catalog": spec.name},
    )
    schedules, sensors = schedules_for(spec, job, partitions_for(spec))
    return dg.Definitions(assets=[asset], jobs=[job], schedules=schedules, sensors=sensors)


def _asset_spec(spec: RoutineSpec, source: str) -> dg.AssetSpec:
    deps = [_upstream_key(name) for name in spec.upstream_routines()]
    if isinstance(spec.schedule, AfterSchedule):
        deps += [_upstream_key(u) for u in spec.schedule.upstream if "/" in u]
    tags = {"routines/catalog": "true"}
    if spec.catch_up is not None:
        tags[CATCH_UP_TAG] = str(spec.catch_up.lookback_business_days)
    return dg.AssetSpec(
        key=asset_key(spec.name),
        group_name=spec.group,
        description=spec.description or f"Rotina do catálogo {spec.name} ({spec.execution.type})",
        deps=list(dict.fromkeys(deps)),
        owners=spec.owners or None,
        tags=tags,
        metadata=_asset_metadata(spec, source),
        automation_condition=dg.AutomationCondition.eager()
        if isinstance(spec.schedule, AfterSchedule)
        else None,
        partitions_def=partitions_for(spec),
    )


def _group_of(spec: RoutineSpec) -> tuple:
    external = isinstance(spec.execution, DownloadFile | ApiCall)
    if spec.partitioning == "daily":
        return ("daily", spec.calendar, spec.start_date, spec.include_current_day, external)
    if spec.partitioning == "monthly":
        return ("monthly", spec.start_date.replace(day=1), external)
    return ("none", external)


def build_group_defs(
    index: int, routines: list[tuple[RoutineSpec, str]], asset_specs: list[dg.AssetSpec] | None = None
) -> dg.Definitions:
    """Routines of the external folder sharing partitions and retry policy: one multi-asset (each routine an
    asset of it, run alone by its schedule's asset selection) and one job, so that hundreds of routines load
    fast."""
    specs = {asset_key(spec.name): spec for spec, _ in routines}
    first = routines[0][0]
    partitions = partitions_for(first)
    external = isinstance(first.execution, DownloadFile | ApiCall)

    @dg.multi_asset(
        name=f"catalog_folder_{index}",
        specs=asset_specs or [_asset_spec(spec, source) for spec, source in routines],
        can_subset=True,
        partitions_def=partitions,
        retry_policy=EXTERNAL_RETRY_POLICY if external else None,
    )
    def _routines(
        context: dg.AssetExecutionContext, database: DatabaseResource, file_store: FileStoreResource
    ):
        from routines.errors import UserError

        for key in sorted(context.selected_asset_keys, key=lambda k: k.to_user_string()):
            try:
                metadata = _execute(context, specs[key], database, file_store)
            except UserError as exc:
                raise dg.Failure(description=str(exc), allow_retries=False) from exc
            yield dg.MaterializeResult(asset_key=key, metadata=_metadata_values(metadata))

    scheduled = [spec for spec, _ in routines if _needs_job(spec)]
    after = [automation_sensor(spec) for spec, _ in routines if isinstance(spec.schedule, AfterSchedule)]
    if not scheduled:
        return dg.Definitions(assets=[_routines], sensors=after)
    job = dg.define_asset_job(
        name=f"catalog_folder_{index}_job",
        selection=[asset_key(spec.name) for spec in scheduled],
        tags={"routines/catalog": "folder"},
    )
    schedules, sensors = [], list(after)
    for spec in scheduled:
        found_schedules, found_sensors = schedules_for(spec, job, partitions, [asset_key(spec.name)])
        schedules += found_schedules
        sensors += found_sensors
    return dg.Definitions(assets=[_routines], jobs=[job], schedules=schedules, sensors=sensors)


# ---------------------------------------------------------------- external folder
def project_routine_names(defs_root: Path) -> dict[str, str]:
    """Names of the routines declared in the project (`catalog/*/defs.yaml`), without building them."""
    import yaml

    names = {}
    for path in sorted((defs_root / "catalog").glob("*/defs.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError):
            continue
        name = (data.get("attributes") or {}).get("name") if isinstance(data, dict) else None
        if isinstance(name, str) and str(data.get("type", "")).endswith(".Routine"):
            names[name] = str(path)
    return names


def folder_routines(
    folder: Path, project: dict[str, str]
) -> tuple[list[tuple[RoutineSpec, str]], list[CatalogError]]:
    """The valid routines of the external folder (with their file) and every error: invalid files, names
    already used by the project, references to routines that do not exist."""
    from routines.catalog.schema import catalog_files, read_file

    errors: list[CatalogError] = []
    found: list[tuple[RoutineSpec, str]] = []
    seen: dict[str, str] = {}
    if not folder.is_dir():
        return [], [CatalogError(str(folder), None, None, f"{CATALOG_DIR_ENV}: pasta não existe")]
    for path in catalog_files(folder):
        specs, problems = read_file(path)
        errors.extend(problems)
        for spec in specs:
            owner = project.get(spec.name) or seen.get(spec.name)
            if owner:
                errors.append(CatalogError(str(path), spec.name, "name", f"already declared in {owner}"))
                continue
            seen[spec.name] = str(path)
            found.append((spec, str(path)))
    known = set(project) | set(seen)
    valid = []
    for spec, path in found:
        missing = [u for u in spec.upstream_routines() if u not in known]
        if missing:
            errors.append(
                CatalogError(
                    path, spec.name, "upstream", f"no catalog routine named {', '.join(map(repr, missing))}"
                )
            )
            continue
        valid.append((spec, path))
    return valid, errors


def folder_sensor(folder: Path, loaded: int, errors: list[CatalogError]) -> dg.SensorDefinition:
    summary = f"{loaded} rotina(s) carregada(s) de {folder}"
    messages = [str(error) for error in errors]
    description = summary + (
        "; erros:\n" + "\n".join(f"- {m}" for m in messages) if messages else "; nenhum erro"
    )

    @dg.sensor(
        name=FOLDER_SENSOR,
        minimum_interval_seconds=300,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=description,
    )
    def _sensor(context: dg.SensorEvaluationContext):
        if messages:
            return dg.SkipReason(f"{len(messages)} erro(s) no catálogo {folder}: " + " | ".join(messages))
        return dg.SkipReason(f"{summary}; nenhum erro")

    return _sensor


def folder_defs(folder: Path, defs_root: Path) -> dg.Definitions:
    specs, errors = folder_routines(folder, project_routine_names(defs_root))
    groups: dict[tuple, list[tuple[RoutineSpec, str]]] = {}
    asset_specs: dict[tuple, list[dg.AssetSpec]] = {}
    for spec, path in specs:
        try:
            asset_spec = _asset_spec(spec, path)  # a routine that cannot become an asset is left out alone
        except Exception as exc:  # noqa: BLE001 - one bad routine never takes the location down
            errors.append(CatalogError(path, spec.name, None, f"{type(exc).__name__}: {exc}"))
            continue
        groups.setdefault(_group_of(spec), []).append((spec, path))
        asset_specs.setdefault(_group_of(spec), []).append(asset_spec)
    parts = []
    loaded = 0
    for index, (group, routines) in enumerate(groups.items()):
        try:
            parts.append(build_group_defs(index, routines, asset_specs[group]))
            loaded += len(routines)
        except Exception:  # noqa: BLE001 - find the routine at fault: build them one by one
            for spec, path in routines:
                try:
                    parts.append(build_routine_defs(spec, path))
                    loaded += 1
                except Exception as exc:  # noqa: BLE001
                    errors.append(CatalogError(path, spec.name, None, f"{type(exc).__name__}: {exc}"))
    parts.append(dg.Definitions(sensors=[folder_sensor(folder, loaded, errors)]))
    return dg.Definitions.merge(*parts)


# ---------------------------------------------------------------- components
class Routine(dg.Component):
    """A routine of the catalog: download_file, load_file, api_call or python, on a daily, monthly, cron,
    cyclic, eventual or after schedule of a named business calendar (schema: routines.catalog.schema)."""

    def __init__(self, spec: RoutineSpec, source: str = ""):
        self.spec = spec
        self.source = source

    @classmethod
    def get_model_cls(cls) -> type[BaseModel]:
        return RoutineSpec

    @classmethod
    def load(cls, attributes: BaseModel | None, context: dg.ComponentLoadContext) -> "Routine":
        if not isinstance(attributes, RoutineSpec):
            attributes = RoutineSpec.model_validate(attributes.model_dump() if attributes else {})
        return cls(attributes, str(context.path / "defs.yaml"))

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        return build_routine_defs(self.spec, self.source)


class RoutineFolder(dg.Component, dg.Resolvable, dg.Model):
    """The routines of the YAML files under the folder named by an environment variable (default
    ROUTINES_CATALOG_DIR), read each time the code location loads. Nothing when the variable is unset."""

    env_var: str = CATALOG_DIR_ENV

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        configured = os.environ.get(self.env_var, "").strip()
        if not configured:
            return dg.Definitions()
        return folder_defs(Path(configured).expanduser(), context.defs_module_path)
