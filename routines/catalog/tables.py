"""Tables declared by catalog routines: created on first run, checked on every run (never ALTERed), and
written in one transaction: the partition's rows replaced, or rows upserted on the declared key.

PostgreSQL writes with COPY (into the table, or into a temporary stage table for an upsert); SQLite with
executemany. Loads of the same table are serialised (a transaction-scoped advisory lock on PostgreSQL, the
write lock on SQLite).
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Engine

from routines.catalog.parsing import ParsedRows
from routines.catalog.schema import TableSpec
from routines.errors import InputFileError, UserError

REFERENCE_COLUMN = "reference_date"
LOCK_NAMESPACE = 0x43544C47  # "CTLG"


@dataclass(frozen=True)
class Shape:
    """A column as the catalog sees it: name, kind and (decimal) precision/scale."""

    name: str
    kind: str
    precision: int | None = None
    scale: int | None = None

    def describe(self) -> str:
        if self.kind == "decimal":
            return f"{self.name} decimal({self.precision},{self.scale})"
        return f"{self.name} {self.kind}"


def declared_shape(spec: TableSpec, partitioned: bool) -> list[Shape]:
    shapes = [Shape(c.name, c.type, c.precision, c.scale) for c in spec.columns]
    if partitioned and spec.partition_column is None:
        shapes.append(Shape(REFERENCE_COLUMN, "date"))
    return shapes


def partition_column(spec: TableSpec, partitioned: bool) -> str | None:
    if not partitioned:
        return None
    return spec.partition_column or REFERENCE_COLUMN


def _sqlalchemy_table(spec: TableSpec, partitioned: bool):
    from sqlalchemy import (
        BigInteger,
        Column,
        Date,
        DateTime,
        MetaData,
        Numeric,
        Table,
        Text,
        UniqueConstraint,
    )

    kinds = {"text": Text, "integer": BigInteger, "date": Date, "datetime": DateTime}
    columns = []
    for shape in declared_shape(spec, partitioned):
        kind = Numeric(shape.precision, shape.scale) if shape.kind == "decimal" else kinds[shape.kind]()
        declared = next((c for c in spec.columns if c.name == shape.name), None)
        nullable = declared.nullable and shape.name not in spec.key if declared else False
        columns.append(Column(shape.name, kind, nullable=nullable))
    constraints = [UniqueConstraint(*spec.key, name=f"uq_{spec.name}_key")] if spec.key else []
    return Table(spec.name, MetaData(), *columns, *constraints)


def _existing_shape(engine: Engine, name: str) -> list[Shape] | None:
    from sqlalchemy import inspect, types

    inspector = inspect(engine)
    if not inspector.has_table(name):
        return None
    shapes = []
    for column in inspector.get_columns(name):
        kind = column["type"]
        if isinstance(kind, types.Numeric) and not isinstance(kind, types.Float):
            shapes.append(Shape(column["name"], "decimal", kind.precision, kind.scale))
        elif isinstance(kind, types.Integer):
            shapes.append(Shape(column["name"], "integer"))
        elif isinstance(kind, types.DateTime):
            shapes.append(Shape(column["name"], "datetime"))
        elif isinstance(kind, types.Date):
            shapes.append(Shape(column["name"], "date"))
        elif isinstance(kind, types.String):
            shapes.append(Shape(column["name"], "text"))
        else:
            shapes.append(Shape(column["name"], str(kind).lower()))
    return shapes


def ensure_table(engine: Engine, spec: TableSpec, partitioned: bool, routine: str = "") -> bool:
    """Create the table when missing (True); else check that its columns are the declared ones."""
    existing = _existing_shape(engine, spec.name)
    declared = declared_shape(spec, partitioned)
    if existing is None:
        table = _sqlalchemy_table(spec, partitioned)
        table.create(engine, checkfirst=True)
        return True
    if sorted(existing, key=lambda s: s.name) != sorted(declared, key=lambda s: s.name):
        found = {s.name: s for s in existing}
        wanted = {s.name: s for s in declared}
        differences = [
            f"{name}: table has {found[name].describe() if name in found else 'no such column'}, "
            f"routine declares {wanted[name].describe() if name in wanted else 'no such column'}"
            for name in sorted(set(found) | set(wanted))
            if found.get(name) != wanted.get(name)
        ]
        who = f"routine {routine}: " if routine else ""
        raise UserError(
            f"{who}table {spec.name} does not match the declared columns ({'; '.join(differences)}); "
            "tables are never altered automatically: change the table with a migration or declare a new table"
        )
    return False


def _check_keys(spec: TableSpec, parsed: ParsedRows, file: str) -> None:
    if not spec.key:
        return
    indexes = [parsed.columns.index(k) for k in spec.key]
    seen: set[tuple] = set()
    for number, row in enumerate(parsed.rows, start=1):
        key = tuple(row[i] for i in indexes)
        if key in seen:
            raise InputFileError(
                file,
                f"key ({', '.join(spec.key)}) = ({', '.join(map(str, key))}) repeated (row {number})",
                None,
                ",".join(spec.key),
            )
        seen.add(key)


def _copy_text(rows: list[list[str | None]], text_columns: list[int]) -> io.StringIO:
    def escape(value: str) -> str:
        if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
            return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
        return value

    if text_columns:
        for row in rows:
            for i in text_columns:
                if row[i] is not None:
                    row[i] = escape(row[i])
    buffer = io.StringIO()
    write = buffer.write
    for row in rows:
        write("\t".join("\\N" if v is None else v for v in row))
        write("\n")
    buffer.seek(0)
    return buffer


@dataclass
class WriteResult:
    rows: int
    deleted: int
    created: bool
    mode: str


def write_rows(
    engine: Engine,
    spec: TableSpec,
    parsed: ParsedRows,
    *,
    partitioned: bool,
    day: date | None,
    file: str,
    routine: str = "",
) -> WriteResult:
    """Write the parsed rows: upsert on the key if declared, else replace the partition's rows (partitioned)
    or append (not partitioned). One transaction."""
    _check_keys(spec, parsed, file)
    created = ensure_table(engine, spec, partitioned, routine)
    column_of_day = partition_column(spec, partitioned)
    columns = list(parsed.columns)
    rows = parsed.rows
    if column_of_day == REFERENCE_COLUMN:
        if day is None:
            raise UserError(f"routine {routine}: a partitioned load needs the partition's day")
        stamp = day.isoformat()
        columns.append(REFERENCE_COLUMN)
        rows = [[*row, stamp] for row in rows]
    mode = "upsert" if spec.key else ("replace" if column_of_day else "append")
    preparer = engine.dialect.identifier_preparer
    table = preparer.quote(spec.name)
    names = ", ".join(preparer.quote(c) for c in columns)
    deleted = 0
    with engine.begin() as connection:
        raw = connection.connection.dbapi_connection
        cursor = raw.cursor()
        try:
            if engine.dialect.name == "postgresql":
                cursor.execute(
                    "SELECT pg_advisory_xact_lock(%s, %s)",
                    (LOCK_NAMESPACE, zlib.crc32(spec.name.encode()) - 2**31),
                )
                text_columns = [
                    i
                    for i, c in enumerate(columns)
                    if next((s for s in spec.columns if s.name == c and s.type == "text"), None)
                ]
                if mode == "replace":
                    cursor.execute(f"DELETE FROM {table} WHERE {preparer.quote(column_of_day)} = %s", (day,))
                    deleted = cursor.rowcount
                if mode == "upsert":
                    cursor.execute(
                        f"CREATE TEMP TABLE catalog_stage (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP"
                    )
                    cursor.copy_expert(
                        f"COPY catalog_stage ({names}) FROM STDIN",
                        _copy_text(rows, text_columns),
                        size=1 << 20,
                    )
                    keys = ", ".join(preparer.quote(k) for k in spec.key)
                    others = [c for c in columns if c not in spec.key]
                    action = (
                        "DO UPDATE SET "
                        + ", ".join(f"{preparer.quote(c)} = excluded.{preparer.quote(c)}" for c in others)
                        if others
                        else "DO NOTHING"
                    )
                    cursor.execute(
                        f"INSERT INTO {table} ({names}) SELECT {names} FROM catalog_stage ON CONFLICT ({keys}) {action}"
                    )
                else:
                    cursor.copy_expert(
                        f"COPY {table} ({names}) FROM STDIN", _copy_text(rows, text_columns), size=1 << 20
                    )
            else:
                if mode == "replace":
                    cursor.execute(
                        f"DELETE FROM {table} WHERE {preparer.quote(column_of_day)} = ?", (day.isoformat(),)
                    )
                    deleted = cursor.rowcount
                placeholders = ", ".join("?" for _ in columns)
                statement = f"INSERT INTO {table} ({names}) VALUES ({placeholders})"
                if mode == "upsert":
                    keys = ", ".join(preparer.quote(k) for k in spec.key)
                    others = [c for c in columns if c not in spec.key]
                    action = (
                        "DO UPDATE SET "
                        + ", ".join(f"{preparer.quote(c)} = excluded.{preparer.quote(c)}" for c in others)
                        if others
                        else "DO NOTHING"
                    )
                    statement += f" ON CONFLICT ({keys}) {action}"
                cursor.executemany(statement, rows)
        finally:
            cursor.close()
    return WriteResult(len(rows), max(deleted, 0), created, mode)
