"""The YAML schema of a catalog routine (pydantic), and reading routine files with errors that name the
file, the routine and the field.

A routine file holds one routine (a mapping) or several (a list, or a mapping with the key `routines`).
In the project each routine is the `attributes:` of a `defs.yaml` of type `routines.lib.catalog.Routine`.
"""

from __future__ import annotations

import re
from datetime import date, time
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from routines.errors import UserError

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
TIME_PATTERN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
COLUMN_TYPES = ("text", "integer", "decimal", "date", "datetime")
DAY_GROUPS = ("business_days", "non_business_days", "holidays", "weekends", "every_day")
RESERVED_COLUMNS = ("reference_date",)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_hhmm(value: str) -> time:
    match = TIME_PATTERN.match(value or "")
    if not match:
        raise ValueError(f"{value!r} is not a time HH:MM (00:00-23:59)")
    return time(int(match.group(1)), int(match.group(2)))


HHMM = Annotated[
    str,
    Field(
        description='Local time in America/Sao_Paulo, "HH:MM"',
        json_schema_extra={"pattern": TIME_PATTERN.pattern},  # for `dg check yaml`; the validator explains
    ),
]
Name = Annotated[str, Field(pattern=NAME_PATTERN, description="lower-case identifier: a-z, 0-9, _")]


class _TimeModel(_Model):
    @field_validator("time", "start", "end", check_fields=False)
    @classmethod
    def _hhmm(cls, value: str) -> str:
        parse_hhmm(value)
        return value


# ---------------------------------------------------------------- schedules (routine types)
class DailySchedule(_TimeModel):
    """Business days of the routine's calendar at `time`, for the business day `business_days_late` before
    (D+N); business-day partitions."""

    type: Literal["daily"]
    time: HHMM
    business_days_late: int = Field(0, ge=0, le=30)


class MonthlySchedule(_TimeModel):
    """The Nth business day of the month (negative: from the end, -1 = last) at `time`; monthly partitions,
    the run is for the previous month."""

    type: Literal["monthly"]
    time: HHMM
    nth_business_day: int = Field(1, ge=-23, le=23)

    @field_validator("nth_business_day")
    @classmethod
    def _not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("0 is not a business day number: use 1.. from the start or -1.. from the end")
        return value


class CronSchedule(_Model):
    """The cron proposes (São Paulo time), the day group of the calendar decides; no partitions."""

    type: Literal["cron"]
    cron: str
    day_group: Literal[DAY_GROUPS] = "business_days"  # type: ignore[valid-type]

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        from croniter import croniter

        value = " ".join(value.split())
        if len(value.split()) != 5 or not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a 5-field cron expression such as '0 9 * * 1-5'")
        return value


class CyclicSchedule(_TimeModel):
    """Every `every_minutes` from `start` to `end` (inclusive) on the days of `day_group`; no partitions, one
    run per slot."""

    type: Literal["cyclic"]
    every_minutes: int = Field(ge=1, le=720)
    start: HHMM
    end: HHMM
    day_group: Literal[DAY_GROUPS] = "business_days"  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _order(self) -> CyclicSchedule:
        if parse_hhmm(self.end) < parse_hhmm(self.start):
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class Watch(_Model):
    folder: str
    pattern: str = "*"
    poll_seconds: int = Field(30, ge=5, le=3600)


class EventualSchedule(_Model):
    """A file-arrival sensor on `watch` (run key = routine + sha256; files moved to processed/ or rejected/),
    or manual runs only when `watch` is absent."""

    type: Literal["eventual"]
    watch: Watch | None = None


class AfterSchedule(_Model):
    """Runs when the same-day partition of every upstream (catalog routines by name, or asset keys a/b) has
    been materialized (declarative automation)."""

    type: Literal["after"]
    upstream: list[str] = Field(min_length=1)
    partitions: Literal["daily", "monthly", "none"] = "daily"
    include_current_day: bool = True


Schedule = Annotated[
    DailySchedule | MonthlySchedule | CronSchedule | CyclicSchedule | EventualSchedule | AfterSchedule,
    Field(discriminator="type"),
]


# ---------------------------------------------------------------- tables and file formats
class ColumnSpec(_Model):
    name: Name
    type: Literal[COLUMN_TYPES]  # type: ignore[valid-type]
    precision: int | None = Field(None, ge=1, le=38)
    scale: int | None = Field(None, ge=0, le=38)
    format: str | None = Field(None, description="strptime format of a date/datetime (default ISO 8601)")
    source: str | None = Field(None, description="CSV header or JSON key (default: the column's name)")
    start: int | None = Field(None, ge=1, description="fixed width: first character (1-based)")
    width: int | None = Field(None, ge=1, description="fixed width: number of characters")
    nullable: bool = True

    @model_validator(mode="after")
    def _types(self) -> ColumnSpec:
        if self.type == "decimal":
            if self.precision is None or self.scale is None:
                raise ValueError(f"column {self.name}: decimal needs precision and scale")
            if self.scale > self.precision:
                raise ValueError(f"column {self.name}: scale {self.scale} > precision {self.precision}")
        elif self.precision is not None or self.scale is not None:
            raise ValueError(f"column {self.name}: precision/scale only apply to decimal")
        if self.format is not None and self.type not in ("date", "datetime"):
            raise ValueError(f"column {self.name}: format only applies to date/datetime")
        if self.name in RESERVED_COLUMNS:
            raise ValueError(f"column {self.name}: reserved name")
        return self


class TableSpec(_Model):
    name: Name
    columns: list[ColumnSpec] = Field(min_length=1)
    key: list[str] = Field(default_factory=list, description="upsert on these columns instead of replacing")
    partition_column: str | None = Field(
        None, description="a date column holding the partition's day (rows of other days are left out)"
    )

    @model_validator(mode="after")
    def _columns(self) -> TableSpec:
        names = [column.name for column in self.columns]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"duplicated columns: {', '.join(duplicated)}")
        for column in self.key:
            if column not in names:
                raise ValueError(f"key column {column!r} is not a declared column")
        if self.partition_column is not None:
            match = [c for c in self.columns if c.name == self.partition_column]
            if not match or match[0].type != "date":
                raise ValueError(f"partition_column {self.partition_column!r} must be a declared date column")
        return self


class CsvFormat(_Model):
    kind: Literal["csv"]
    delimiter: str = Field(",", min_length=1, max_length=1)
    encoding: str = "utf-8"
    decimal_comma: bool = False
    header: bool = True
    skip_lines: int = Field(0, ge=0)
    quotechar: str = Field('"', min_length=1, max_length=1)


class FixedWidthFormat(_Model):
    kind: Literal["fixed_width"]
    encoding: str = "utf-8"
    decimal_comma: bool = False
    skip_lines: int = Field(0, ge=0)
    skip_prefixes: list[str] = Field(default_factory=list, description="lines starting so are ignored")


FileFormat = Annotated[CsvFormat | FixedWidthFormat, Field(discriminator="kind")]


# ---------------------------------------------------------------- execution types
class Checks(_Model):
    non_empty: bool = True
    not_html: bool = True
    min_size: int | None = Field(None, ge=1)
    zip_member: str | None = Field(None, description="a member (fnmatch pattern) the ZIP must contain")


class _Templated(_Model):
    @field_validator("url", "filename", "path", check_fields=False)
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        from routines.catalog.templating import check_template

        if value is not None:
            check_template(value)
        return value


class DownloadFile(_Templated):
    type: Literal["download_file"]
    url: str
    headers: dict[str, str] = Field(default_factory=dict, description="values may use ${ENV_VAR}")
    filename: str | None = Field(None, description="stored file name (template); default: the URL's")
    checks: Checks = Checks()
    timeout_seconds: float = Field(120, gt=0)


class LoadSource(_Templated):
    routine: str | None = Field(None, description="a download_file routine of the catalog (same partition)")
    path: str | None = Field(None, description="a file path template")

    @model_validator(mode="after")
    def _one(self) -> LoadSource:
        if (self.routine is None) == (self.path is None):
            raise ValueError("give exactly one of routine or path")
        return self


class LoadFile(_Model):
    type: Literal["load_file"]
    source: LoadSource | None = Field(None, description="absent: the file that arrived (eventual routine)")
    format: FileFormat
    table: TableSpec

    @model_validator(mode="after")
    def _fixed(self) -> LoadFile:
        if isinstance(self.format, FixedWidthFormat):
            for column in self.table.columns:
                if column.start is None or column.width is None:
                    raise ValueError(f"column {column.name}: fixed width needs start and width")
        return self


class ApiTable(TableSpec):
    rows_path: str = Field("", description="dotted path to the list of rows in the JSON ('' = the root)")


class ApiCall(_Templated):
    type: Literal["api_call"]
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    url: str
    headers: dict[str, str] = Field(default_factory=dict, description="values may use ${ENV_VAR}")
    body: Any = None
    expected_status: list[int] = Field(default_factory=lambda: [200])
    table: ApiTable | None = None
    timeout_seconds: float = Field(60, gt=0)


class PythonCall(_Model):
    type: Literal["python"]
    callable: str = Field(pattern=r"^[A-Za-z_][\w.]*(:[A-Za-z_]\w*)?$")
    params: dict[str, Any] = Field(default_factory=dict)


Execution = Annotated[DownloadFile | LoadFile | ApiCall | PythonCall, Field(discriminator="type")]


# ---------------------------------------------------------------- deadlines / catch-up
class Deadline(_TimeModel):
    time: HHMM
    business_days_after: int = Field(0, ge=0, le=30)


class CatchUp(_Model):
    lookback_business_days: int = Field(ge=0, le=250)


class RoutineSpec(_Model):
    """One routine of the catalog."""

    name: Name
    description: str = ""
    calendar: str = "ANBIMA"
    start_date: date = date(2025, 1, 1)
    group: Name = "catalog"
    owners: list[str] = Field(default_factory=list)
    schedule: Schedule
    execution: Execution
    deadline: Deadline | None = None
    catch_up: CatchUp | None = None
    enabled: bool = Field(True, description="schedules/sensors start running (false: stopped)")

    @field_validator("calendar")
    @classmethod
    def _calendar(cls, value: str) -> str:
        from routines.calendar.registry import get_calendar

        try:
            return get_calendar(value).name
        except UserError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("owners")
    @classmethod
    def _owners(cls, value: list[str]) -> list[str]:
        for owner in value:
            if not (re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", owner) or re.match(r"^team:[\w-]+$", owner)):
                raise ValueError(f"owner {owner!r}: expected an e-mail address or team:<name>")
        return value

    @model_validator(mode="after")
    def _coherence(self) -> RoutineSpec:
        execution, schedule = self.execution, self.schedule
        if isinstance(execution, LoadFile) and execution.source is None:
            if not (isinstance(schedule, EventualSchedule) and schedule.watch is not None):
                raise ValueError("execution.source: required unless the routine is eventual with watch")
        if isinstance(execution, LoadFile) and execution.source is not None and execution.source.routine:
            if execution.source.routine == self.name:
                raise ValueError("execution.source.routine: a routine cannot load its own file")
        return self

    @property
    def partitioning(self) -> str:
        """'daily', 'monthly' or 'none'."""
        schedule = self.schedule
        if isinstance(schedule, DailySchedule):
            return "daily"
        if isinstance(schedule, MonthlySchedule):
            return "monthly"
        if isinstance(schedule, AfterSchedule):
            return schedule.partitions
        return "none"

    @property
    def include_current_day(self) -> bool:
        schedule = self.schedule
        if isinstance(schedule, DailySchedule):
            return schedule.business_days_late == 0
        if isinstance(schedule, AfterSchedule):
            return schedule.include_current_day
        return False

    def upstream_routines(self) -> list[str]:
        names = []
        if isinstance(self.schedule, AfterSchedule):
            names.extend(u for u in self.schedule.upstream if "/" not in u)
        if isinstance(self.execution, LoadFile) and self.execution.source and self.execution.source.routine:
            names.append(self.execution.source.routine)
        return list(dict.fromkeys(names))


# ---------------------------------------------------------------- reading files
class CatalogError(UserError):
    """One problem of a catalog file, located by file, routine and field."""

    def __init__(self, file: str, routine: str | None, field: str | None, message: str):
        self.file = file
        self.routine = routine
        self.field = field
        self.reason = message
        where = file
        if routine:
            where += f", routine {routine}"
        if field:
            where += f", field {field}"
        super().__init__(f"{where}: {message}")


_UNION_FIELDS = {
    "schedule": {"daily", "monthly", "cron", "cyclic", "eventual", "after"},
    "execution": {"download_file", "load_file", "api_call", "python"},
    "format": {"csv", "fixed_width"},
}


def _loc(loc: tuple) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts[-1:] = [f"{parts[-1]}[{item}]" if parts else f"[{item}]"]
        else:
            parts.append(str(item))
    # discriminated unions add the tag after the field ("schedule.cron.cron"): keep the user's path
    cleaned: list[str] = []
    skipped = False
    for part in parts:
        if not skipped and cleaned and part in _UNION_FIELDS.get(cleaned[-1], ()):
            skipped = True
            continue
        skipped = False
        cleaned.append(part)
    return ".".join(cleaned)


def errors_of(exc: ValidationError, file: str, routine: str | None, prefix: str = "") -> list[CatalogError]:
    result = []
    for error in exc.errors():
        field = _loc(error["loc"])
        if prefix:
            field = f"{prefix}.{field}" if field else prefix
        message = error["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        result.append(CatalogError(file, routine, field or None, message))
    return result


def parse_routine(data: Any, file: str, prefix: str = "") -> tuple[RoutineSpec | None, list[CatalogError]]:
    routine = data.get("name") if isinstance(data, dict) and isinstance(data.get("name"), str) else None
    if not isinstance(data, dict):
        return None, [CatalogError(file, None, prefix or None, "a routine must be a mapping")]
    try:
        return RoutineSpec.model_validate(data), []
    except ValidationError as exc:
        return None, errors_of(exc, file, routine, prefix)


def _loader():
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~10x faster on big catalogs


def read_file(path: Path) -> tuple[list[RoutineSpec], list[CatalogError]]:
    """The routines of one YAML file and the errors found (a routine with errors is left out)."""
    import yaml

    file = str(path)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_loader())
    except (OSError, UnicodeDecodeError) as exc:
        return [], [CatalogError(file, None, None, f"cannot read: {exc}")]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        return [], [CatalogError(file, None, None, f"invalid YAML{where}: {getattr(exc, 'problem', exc)}")]
    if isinstance(data, dict) and "type" in data:  # a defs.yaml: only Routine components are routines
        if not str(data["type"]).endswith(".Routine"):
            return [], []
        data = data.get("attributes")
    if isinstance(data, dict) and "routines" in data:
        data = data["routines"]
    items = data if isinstance(data, list) else [data]
    specs: list[RoutineSpec] = []
    errors: list[CatalogError] = []
    for index, item in enumerate(items):
        spec, found = parse_routine(item, file, f"[{index}]" if isinstance(data, list) else "")
        if spec is not None:
            specs.append(spec)
        errors.extend(found)
    return specs, errors


def catalog_files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.suffix in (".yaml", ".yml")
        and p.is_file()
        and not any(
            part in ("processed", "rejected") or part.startswith(".")
            for part in p.relative_to(folder).parts[:-1]
        )
    )


def read_files(
    files: list[Path], seen: dict[str, str] | None = None
) -> tuple[list[RoutineSpec], list[CatalogError]]:
    """Every routine of these YAML files and every error. `seen` (name -> file, filled in) spans calls: a name
    declared again is an error in the later file."""
    specs: list[RoutineSpec] = []
    errors: list[CatalogError] = []
    seen = {} if seen is None else seen
    for path in files:
        found, problems = read_file(path)
        errors.extend(problems)
        for spec in found:
            if spec.name in seen:
                errors.append(
                    CatalogError(str(path), spec.name, "name", f"already declared in {seen[spec.name]}")
                )
                continue
            seen[spec.name] = str(path)
            specs.append(spec)
    return specs, errors


def read_folder(folder: Path) -> tuple[list[RoutineSpec], list[CatalogError]]:
    """Every routine of the YAML files under `folder` (recursively) and every error. Duplicated names: the
    later file's routine is an error."""
    if not folder.is_dir():
        return [], [CatalogError(str(folder), None, None, "not a folder")]
    return read_files(catalog_files(folder))


def check_references(
    specs: list[RoutineSpec], known: set[str], file_of: dict[str, str]
) -> list[CatalogError]:
    """Upstream routines that do not exist (in `known`, the names of every routine of the code location)."""
    errors = []
    for spec in specs:
        for upstream in spec.upstream_routines():
            if upstream not in known:
                errors.append(
                    CatalogError(
                        file_of.get(spec.name, "?"),
                        spec.name,
                        "upstream",
                        f"no catalog routine named {upstream!r}",
                    )
                )
    return errors
