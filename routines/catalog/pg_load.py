"""PostgreSQL fast path of `load_file` for CSV files: the file goes by COPY into a temporary table of text
columns (numbered lines), is validated there (regular expressions for numbers and required values; the
distinct dates and datetimes checked by the same Python converters as the general path), and only then, in
the same transaction, cast into the declared table (partition replaced, or upserted on the key). Errors name the
line and column exactly like the general path; nothing reaches the table when any value is wrong.

Used when the format allows it (CSV, UTF-8 or Latin-1, dates in ISO, dd/mm/yyyy, yyyymmdd or ddmmyyyy,
datetimes in ISO); otherwise `routines.catalog.parsing` validates in Python.
"""

from __future__ import annotations

import csv
import io
import re
import zlib
from datetime import date

from routines.catalog.parsing import RowError, converter
from routines.catalog.schema import ColumnSpec, CsvFormat, TableSpec
from routines.catalog.tables import (
    LOCK_NAMESPACE,
    REFERENCE_COLUMN,
    WriteResult,
    ensure_table,
    partition_column,
)
from routines.errors import InputFileError

ENCODINGS = {
    "utf-8": "UTF8",
    "utf8": "UTF8",
    "utf-8-sig": "UTF8",
    "latin-1": "LATIN1",
    "latin1": "LATIN1",
    "iso-8859-1": "LATIN1",
}
DATE_FORMATS = {
    None: None,
    "%Y-%m-%d": None,
    "%d/%m/%Y": "DD/MM/YYYY",
    "%Y%m%d": "YYYYMMDD",
    "%d%m%Y": "DDMMYYYY",
}
MAX_ERRORS = 20


def supported(fmt, table: TableSpec) -> bool:
    if not isinstance(fmt, CsvFormat) or fmt.encoding.lower() not in ENCODINGS or fmt.quotechar != '"':
        return False
    for column in table.columns:
        if column.type == "date" and column.format not in DATE_FORMATS:
            return False
        if column.type == "datetime" and column.format not in (
            None,
            "%Y-%m-%d %H:%M:%S",
            "%Y-%m-%d %H:%M:%S.%f",
        ):
            return False
    return True


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _value(column: ColumnSpec, raw: str, decimal_comma: bool) -> str:
    value = f"btrim({raw})"
    if column.type == "decimal" and decimal_comma:
        value = f"replace(replace({value}, '.', ''), ',', '.')"
    return value


def _invalid(column: ColumnSpec, raw: str, decimal_comma: bool, required: bool) -> str | None:
    """SQL condition true when the raw text of the column is wrong (dates are checked apart)."""
    empty = f"coalesce(btrim({raw}), '') = ''"
    value = _value(column, raw, decimal_comma)
    checks = []
    if column.type == "integer":
        checks.append(f"{value} !~ '^[+-]?[0-9]{{1,18}}$'")
    elif column.type == "decimal":
        whole = (column.precision or 38) - (column.scale or 0)
        scale = column.scale or 0
        fraction = f"(\\.[0-9]{{0,{scale}}}0*)?" if scale else "(\\.0*)?"
        checks.append(f"{value} !~ '^[+-]?0*[0-9]{{0,{whole}}}{fraction}$' OR {value} !~ '[0-9]'")
    if not checks and not required:
        return None
    condition = " OR ".join(f"({c})" for c in checks) if checks else "false"
    if required:
        return f"{empty} OR (NOT {empty} AND ({condition}))"
    return f"NOT {empty} AND ({condition})"


def _cast(column: ColumnSpec, raw: str, decimal_comma: bool) -> str:
    value = f"nullif({_value(column, raw, decimal_comma)}, '')"
    if column.type == "text":
        return value
    if column.type == "integer":
        return f"{value}::bigint"
    if column.type == "decimal":
        # more decimal places than the scale must fail (a cast would round): 'x' makes the cast fail
        return (
            f"(CASE WHEN scale(trim_scale({value}::numeric)) > {column.scale} THEN 'x' ELSE {value} END)"
            f"::numeric({column.precision},{column.scale})"
        )
    if column.type == "date":
        pattern = DATE_FORMATS[column.format]
        return f"to_date({value}, '{pattern}')" if pattern else f"{value}::date"
    return f"{value}::timestamp"


def load_csv(
    engine,
    fmt: CsvFormat,
    spec: TableSpec,
    data: bytes,
    file: str,
    *,
    partitioned: bool,
    day: date | None,
    routine: str = "",
) -> tuple[WriteResult, int, list[dict]]:
    """(write result, rows of other days left out, preview rows)."""
    encoding = fmt.encoding.lower()
    text_start = 3 if encoding == "utf-8-sig" or data.startswith(b"\xef\xbb\xbf") else 0
    # header and lines to skip, read in Python; COPY gets the rest
    offset = text_start
    for _ in range(fmt.skip_lines):
        newline = data.find(b"\n", offset)
        offset = len(data) if newline < 0 else newline + 1
    first_line = fmt.skip_lines + 1
    sources = [column.source or column.name for column in spec.columns]
    if fmt.header:
        newline = data.find(b"\n", offset)
        header_bytes = data[offset : len(data) if newline < 0 else newline]
        try:
            header_text = header_bytes.decode(fmt.encoding).rstrip("\r")
        except UnicodeDecodeError:
            raise InputFileError(file, f"header is not valid {fmt.encoding}", first_line) from None
        header = [h.strip() for h in next(csv.reader([header_text], delimiter=fmt.delimiter), [])]
        if not header:
            raise InputFileError(file, "empty file: no header line", first_line)
        positions = []
        for column, source in zip(spec.columns, sources, strict=True):
            if source not in header:
                raise InputFileError(
                    file,
                    f"header has no column {source!r} (found: {', '.join(header)})",
                    first_line,
                    column.name,
                )
            positions.append(header.index(source))
        width = len(header)
        offset = len(data) if newline < 0 else newline + 1
        first_line += 1
    else:
        newline = data.find(b"\n", offset)
        sample = (
            data[offset : len(data) if newline < 0 else newline].decode(fmt.encoding, "replace").rstrip("\r")
        )
        width = len(next(csv.reader([sample], delimiter=fmt.delimiter), []))
        positions = list(range(len(spec.columns)))
    created = ensure_table(engine, spec, partitioned, routine)
    raw_columns = [f"c{i}" for i in range(width)]
    names = [column.name for column in spec.columns]
    column_of_day = partition_column(spec, partitioned)
    mode = "upsert" if spec.key else ("replace" if column_of_day else "append")
    quote = engine.dialect.identifier_preparer.quote
    table = quote(spec.name)
    with engine.begin() as connection:
        cursor = connection.connection.dbapi_connection.cursor()
        try:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)",
                (LOCK_NAMESPACE, zlib.crc32(spec.name.encode()) - 2**31),
            )
            cursor.execute(
                "CREATE TEMP TABLE catalog_raw (line bigint GENERATED ALWAYS AS IDENTITY, "
                + ", ".join(f"{c} text" for c in raw_columns)
                + ") ON COMMIT DROP"
            )
            copy = (
                f"COPY catalog_raw ({', '.join(raw_columns)}) FROM STDIN WITH (FORMAT csv, "
                f"DELIMITER {_literal(fmt.delimiter)}, ENCODING '{ENCODINGS[encoding]}')"
            )
            try:
                cursor.copy_expert(copy, io.BytesIO(memoryview(data)[offset:]), size=1 << 20)
            except Exception as exc:  # psycopg2 DataError: wrong number of fields, bad encoding...
                diag = getattr(exc, "diag", None)
                context = getattr(diag, "context", "") or ""
                match = re.search(r"line (\d+)", context)
                line = int(match.group(1)) + first_line - 1 if match else None
                message = (getattr(diag, "message_primary", None) or str(exc)).strip()
                raise InputFileError(file, message, line) from None
            total = cursor.rowcount
            _validate_dates(cursor, spec, positions, names, first_line, file)
            expressions = [
                _cast(column, f"c{positions[i]}", fmt.decimal_comma) for i, column in enumerate(spec.columns)
            ]
            target = list(names)
            where = ""
            if column_of_day == REFERENCE_COLUMN:
                target.append(REFERENCE_COLUMN)
                expressions.append(f"{_literal(day.isoformat())}::date")
            elif column_of_day is not None:
                index = names.index(column_of_day)
                where = f" WHERE {expressions[index]} = {_literal(day.isoformat())}::date"
            select = f"SELECT {', '.join(expressions)} FROM catalog_raw{where}"
            columns_sql = ", ".join(quote(c) for c in target)
            deleted = 0
            if mode == "replace":
                cursor.execute(f"DELETE FROM {table} WHERE {quote(column_of_day)} = %s", (day,))
                deleted = cursor.rowcount
            statement = f"INSERT INTO {table} ({columns_sql}) {select}"
            if mode == "upsert":
                others = [c for c in target if c not in spec.key]
                action = (
                    "DO UPDATE SET " + ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in others)
                    if others
                    else "DO NOTHING"
                )
                statement += f" ON CONFLICT ({', '.join(quote(k) for k in spec.key)}) {action}"
            cursor.execute("SAVEPOINT catalog_insert")
            try:
                cursor.execute(statement)
            except Exception as exc:  # a value the casts refuse: find and name every wrong value
                cursor.execute("ROLLBACK TO SAVEPOINT catalog_insert")
                _validate(cursor, spec, fmt, positions, names, first_line, file)
                if spec.key:
                    keys = [expressions[names.index(k)] for k in spec.key]
                    cursor.execute(
                        f"SELECT {', '.join(keys)} FROM catalog_raw{where} GROUP BY {', '.join(keys)} "
                        "HAVING count(*) > 1 LIMIT 1"
                    )
                    repeated = cursor.fetchone()
                    if repeated:
                        raise InputFileError(
                            file,
                            f"key ({', '.join(spec.key)}) = ({', '.join(map(str, repeated))}) repeated",
                            None,
                            ",".join(spec.key),
                        ) from None
                diag = getattr(exc, "diag", None)
                message = (getattr(diag, "message_primary", None) or str(exc)).strip()
                raise InputFileError(file, message) from None
            written = cursor.rowcount
            left_out = total - written if column_of_day not in (None, REFERENCE_COLUMN) else 0
            cursor.execute(f"SELECT {', '.join(expressions[: len(names)])} FROM catalog_raw{where} LIMIT 5")
            preview = [
                {
                    n: (
                        None
                        if v is None
                        else v.isoformat(sep=" ")
                        if hasattr(v, "hour")
                        else v.isoformat()
                        if hasattr(v, "isoformat")
                        else str(v)
                    )
                    for n, v in zip(names, row, strict=True)
                }
                for row in cursor.fetchall()
            ]
        finally:
            cursor.close()
    return WriteResult(written, max(deleted, 0), created, mode), left_out, preview


def _validate(cursor, spec: TableSpec, fmt: CsvFormat, positions, names, first_line: int, file: str) -> None:
    errors: list[tuple[int, str, str | None]] = []
    cases = []
    for index, column in enumerate(spec.columns):
        required = not column.nullable or column.name in spec.key
        condition = _invalid(column, f"c{positions[index]}", fmt.decimal_comma, required)
        if condition:
            cases.append(f"WHEN {condition} THEN {index}")
    if cases:
        cursor.execute(
            f"SELECT line, bad FROM (SELECT line, CASE {' '.join(cases)} END AS bad FROM catalog_raw) checked "
            f"WHERE bad IS NOT NULL ORDER BY line LIMIT {MAX_ERRORS}"
        )
        found = cursor.fetchall()
        for line, index in found:
            cursor.execute(f"SELECT c{positions[index]} FROM catalog_raw WHERE line = %s", (line,))
            errors.append((line, names[index], cursor.fetchone()[0]))
    _raise(spec, fmt, errors, first_line, file)


def _validate_dates(cursor, spec: TableSpec, positions, names, first_line: int, file: str) -> None:
    """Dates repeat: their distinct values are checked by the Python converters (strict formats)."""
    errors: list[tuple[int, str, str | None]] = []
    for index, column in enumerate(spec.columns):
        if column.type not in ("date", "datetime"):
            continue
        raw = f"c{positions[index]}"
        cursor.execute(
            f"SELECT DISTINCT btrim({raw}) FROM catalog_raw WHERE coalesce(btrim({raw}), '') <> ''"
        )
        convert = converter(column)
        bad = []
        for (value,) in cursor.fetchall():
            try:
                convert(value)
            except RowError:
                bad.append(value)
        if bad:
            cursor.execute(
                f"SELECT line, {raw} FROM catalog_raw WHERE btrim({raw}) = ANY(%s) ORDER BY line LIMIT {MAX_ERRORS}",
                (bad,),
            )
            errors.extend((line, column.name, value) for line, value in cursor.fetchall())
    _raise(spec, None, errors, first_line, file)


def _raise(spec: TableSpec, fmt, errors, first_line: int, file: str) -> None:
    if not errors:
        return
    errors.sort(key=lambda e: e[0])
    messages = []
    for line, name, value in errors[:MAX_ERRORS]:
        column = next(c for c in spec.columns if c.name == name)
        stripped = (value or "").strip()
        if not stripped:
            reason = "empty value in a column that is required"
        else:
            try:
                converter(column, bool(fmt and fmt.decimal_comma))(stripped)
                reason = f"{stripped!r} is out of range"
            except RowError as exc:
                reason = str(exc)
        messages.append((line + first_line - 1, name, reason))
    line, name, reason = messages[0]
    extra = ""
    if len(messages) > 1:
        more = "; ".join(f"line {ln}, column {col}: {msg}" for ln, col, msg in messages[1:5])
        extra = (
            f" ({len(messages)}{'+' if len(errors) >= MAX_ERRORS else ''} errors in the file; also {more})"
        )
    raise InputFileError(file, reason + extra, line, name)
