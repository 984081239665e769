"""CSV and fixed-width files (and JSON rows) checked against a declared table, whole file first.

Every value is converted to one canonical text (what PostgreSQL COPY and SQLite both take): text as is,
integers without sign noise, decimals with a point and at most the declared scale (never rounded: more
digits is an error), dates ``YYYY-MM-DD``, datetimes ``YYYY-MM-DD HH:MM:SS[.ffffff]``; empty = NULL.
Errors name the file, the line (1-based, as an editor shows it) and the column; nothing is returned when
any value is wrong, so nothing is written.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from routines.catalog.schema import ColumnSpec, CsvFormat, FixedWidthFormat, TableSpec
from routines.errors import InputFileError

MAX_ERRORS = 20
_DECIMAL = re.compile(r"^([+-]?)(\d*)(?:\.(\d*))?$")


class RowError(ValueError):
    pass


@dataclass
class ParsedRows:
    columns: list[str]
    rows: list[list[str | None]]
    lines: int = 0  # data lines read
    left_out: int = 0  # rows of other days (partition_column)
    preview: list[dict[str, str | None]] = field(default_factory=list)


def _text(value: str) -> str:
    return value


def _integer(value: str) -> str:
    try:
        number = int(value)
    except ValueError:
        raise RowError(f"{value!r} is not an integer") from None
    if not -(2**63) <= number < 2**63:
        raise RowError(f"{value!r} is out of the 64-bit integer range")
    return str(number)


def _decimal(column: ColumnSpec, decimal_comma: bool) -> Callable[[str], str]:
    precision, scale = column.precision or 38, column.scale or 0
    whole_digits = precision - scale

    fast = re.compile(
        rf"-?[1-9]\d{{0,{max(whole_digits - 1, 0)}}}(?:\.\d{{1,{scale}}})?|-?0(?:\.\d{{1,{scale}}})?"
        if whole_digits > 0
        else rf"-?0?\.\d{{1,{scale}}}"
    ).fullmatch
    if scale == 0:
        fast = re.compile(rf"-?[1-9]\d{{0,{max(whole_digits - 1, 0)}}}|0").fullmatch

    def convert(value: str) -> str:
        candidate = value.replace(".", "").replace(",", ".") if decimal_comma else value
        if fast(candidate):
            return candidate
        return checked(value)

    def checked(value: str) -> str:
        raw = value
        if decimal_comma:
            value = value.replace(".", "").replace(",", ".")
        match = _DECIMAL.match(value)
        if not match or not (match.group(2) or match.group(3)):
            raise RowError(f"{raw!r} is not a decimal number")
        sign, whole, fraction = match.group(1), match.group(2).lstrip("0"), (match.group(3) or "").rstrip("0")
        if len(whole) > whole_digits:
            raise RowError(f"{raw!r} has more than {whole_digits} digits before the decimal point")
        if len(fraction) > scale:
            raise RowError(f"{raw!r} has more than {scale} decimal places")
        text = (whole or "0") + ("." + fraction if fraction else "")
        return ("-" + text) if sign == "-" and text.strip("0.") else text

    return convert


def _date(column: ColumnSpec) -> Callable[[str], str]:
    fmt = column.format or "%Y-%m-%d"
    if fmt == "%Y-%m-%d":

        def convert(value: str) -> str:
            try:
                if len(value) != 10 or value[4] != "-" or value[7] != "-":
                    raise ValueError
                return date(int(value[:4]), int(value[5:7]), int(value[8:])).isoformat()
            except ValueError:
                raise RowError(f"{value!r} is not a date {fmt}") from None

        return convert
    if fmt == "%d/%m/%Y":

        def convert(value: str) -> str:
            try:
                if len(value) != 10 or value[2] != "/" or value[5] != "/":
                    raise ValueError
                return date(int(value[6:]), int(value[3:5]), int(value[:2])).isoformat()
            except ValueError:
                raise RowError(f"{value!r} is not a date {fmt}") from None

        return convert

    def convert(value: str) -> str:
        try:
            return datetime.strptime(value, fmt).date().isoformat()
        except ValueError:
            raise RowError(f"{value!r} is not a date {fmt}") from None

    return convert


def _datetime(column: ColumnSpec) -> Callable[[str], str]:
    fmt = column.format

    def convert(value: str) -> str:
        try:
            moment = datetime.strptime(value, fmt) if fmt else datetime.fromisoformat(value)
        except ValueError:
            raise RowError(f"{value!r} is not a datetime {fmt or 'ISO 8601'}") from None
        if moment.tzinfo is not None:
            raise RowError(f"{value!r}: a datetime with a time zone is not accepted (local time only)")
        return moment.isoformat(sep=" ")

    return convert


def _memoized(convert: Callable[[str], str], limit: int = 100_000) -> Callable[[str], str]:
    """Dates repeat a lot in a file: convert each distinct value once (errors are not cached)."""
    seen: dict[str, str] = {}

    def cached(value: str) -> str:
        found = seen.get(value)
        if found is None:
            found = convert(value)
            if len(seen) < limit:
                seen[value] = found
        return found

    return cached


def converter(column: ColumnSpec, decimal_comma: bool = False) -> Callable[[str], str]:
    if column.type == "text":
        return _text
    if column.type == "integer":
        return _integer
    if column.type == "decimal":
        return _decimal(column, decimal_comma)
    if column.type == "date":
        return _memoized(_date(column))
    return _datetime(column)


class _Collector:
    def __init__(self, file: str):
        self.file = file
        self.errors: list[tuple[int | None, str | None, str]] = []

    def add(self, line: int | None, column: str | None, message: str) -> None:
        self.errors.append((line, column, message))

    def full(self) -> bool:
        return len(self.errors) >= MAX_ERRORS

    def raise_if_any(self) -> None:
        if not self.errors:
            return
        line, column, message = self.errors[0]
        extra = ""
        if len(self.errors) > 1:
            more = "; ".join(
                f"line {ln}{f', column {col}' if col else ''}: {msg}" for ln, col, msg in self.errors[1:5]
            )
            count = f"{len(self.errors)}{'+' if self.full() else ''}"
            extra = f" ({count} errors in the file; also {more})"
        raise InputFileError(self.file, message + extra, line, column)


def _fast_rows(values: list[list[str | None]], converters, nullable) -> list[list[str | None]] | None:
    """Column by column (no per-value Python loop of our own); None when any value is wrong."""
    if not values:
        return []
    columns = []
    try:
        for index, column in enumerate(zip(*values, strict=True)):
            convert = converters[index]
            if nullable[index]:
                columns.append([convert(v.strip()) if v and v.strip() else None for v in column])
            else:
                if not all(v and v.strip() for v in column):
                    return None
                columns.append([convert(v.strip()) for v in column])
    except RowError:
        return None
    return [list(row) for row in zip(*columns, strict=True)]


def _check_rows(
    records: Iterable[tuple[int, list[str | None]]],
    table: TableSpec,
    collector: _Collector,
    decimal_comma: bool,
    day: date | None,
) -> ParsedRows:
    columns = table.columns
    converters = [converter(column, decimal_comma) for column in columns]
    nullable = [column.nullable and column.name not in table.key for column in columns]
    names = [column.name for column in columns]
    partition_index = names.index(table.partition_column) if table.partition_column else None
    wanted = day.isoformat() if day is not None else None
    width = len(columns)
    numbered = list(records)
    lines = len(numbered)
    rows: list[list[str | None]] | None = None
    if not collector.errors:
        rows = _fast_rows([values for _, values in numbered], converters, nullable)
    if rows is None:  # some value is wrong (or the file had errors already): check row by row, naming them
        rows = []
        for line, values in numbered:
            out: list[str | None] = [None] * width
            for index in range(width):
                raw = values[index]
                if raw is None or raw == "" or (raw := raw.strip()) == "":
                    if not nullable[index]:
                        collector.add(line, names[index], "empty value in a column that is required")
                    continue
                try:
                    out[index] = converters[index](raw)
                except RowError as exc:
                    collector.add(line, names[index], str(exc))
            if collector.full():
                break
            rows.append(out)
    collector.raise_if_any()
    left_out = 0
    if partition_index is not None and wanted is not None:
        kept = [row for row in rows if row[partition_index] == wanted]
        left_out = len(rows) - len(kept)
        rows = kept
    preview = [dict(zip(names, row, strict=True)) for row in rows[:5]]
    return ParsedRows(names, rows, lines, left_out, preview)


def _decode_lines(data: bytes, encoding: str, file: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputFileError(file, f"not valid {encoding}: byte {data[exc.start]:#04x}", line) from None
    except LookupError:
        raise InputFileError(file, f"unknown encoding {encoding!r}") from None


def parse_csv(
    data: bytes, fmt: CsvFormat, table: TableSpec, file: str, day: date | None = None
) -> ParsedRows:
    text = _decode_lines(data, fmt.encoding, file).lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=fmt.delimiter, quotechar=fmt.quotechar)
    collector = _Collector(file)
    for _ in range(fmt.skip_lines):
        next(reader, None)
    first_line = fmt.skip_lines + 1
    sources = [column.source or column.name for column in table.columns]
    if fmt.header:
        header = next(reader, None)
        if header is None:
            raise InputFileError(file, "empty file: no header line", first_line)
        header = [h.strip() for h in header]
        positions = []
        for column, source in zip(table.columns, sources, strict=True):
            if source not in header:
                raise InputFileError(
                    file,
                    f"header has no column {source!r} (found: {', '.join(header)})",
                    first_line,
                    column.name,
                )
            positions.append(header.index(source))
        first_line += 1
    else:
        positions = list(range(len(table.columns)))
    needed = max(positions) + 1

    def records() -> Iterator[tuple[int, list[str | None]]]:
        for fields in reader:
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue
            line = reader.line_num
            if len(fields) < needed:
                collector.add(line, None, f"{len(fields)} fields, expected at least {needed}")
                continue
            yield line, [fields[p] for p in positions]

    parsed = _check_rows(records(), table, collector, fmt.decimal_comma, day)
    return parsed


def parse_fixed_width(
    data: bytes, fmt: FixedWidthFormat, table: TableSpec, file: str, day: date | None = None
) -> ParsedRows:
    text = _decode_lines(data, fmt.encoding, file)
    collector = _Collector(file)
    slices = [
        ((column.start or 1) - 1, (column.start or 1) - 1 + (column.width or 0)) for column in table.columns
    ]
    needed = max(end for _, end in slices)

    def records() -> Iterator[tuple[int, list[str | None]]]:
        for line, content in enumerate(text.splitlines(), start=1):
            if line <= fmt.skip_lines or not content.strip():
                continue
            if fmt.skip_prefixes and content.startswith(tuple(fmt.skip_prefixes)):
                continue
            if len(content) < needed:
                collector.add(line, None, f"line has {len(content)} characters, expected at least {needed}")
                continue
            yield line, [content[start:end] for start, end in slices]

    return _check_rows(records(), table, collector, fmt.decimal_comma, day)


def parse_file(data: bytes, fmt, table: TableSpec, file: str, day: date | None = None) -> ParsedRows:
    if isinstance(fmt, CsvFormat):
        return parse_csv(data, fmt, table, file, day)
    return parse_fixed_width(data, fmt, table, file, day)


def _dig(document, path: str, file: str):
    node = document
    for part in [p for p in path.split(".") if p]:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise InputFileError(file, f"JSON has no {path!r} (missing {part!r})", None, path)
    return node


def json_scalar(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Decimal | float):
        return format(Decimal(str(value)) if isinstance(value, float) else value, "f")
    if isinstance(value, dict | list):
        import json

        return json.dumps(value, ensure_ascii=False)
    return str(value)


def parse_json_rows(
    document, rows_path: str, table: TableSpec, file: str, day: date | None = None
) -> ParsedRows:
    """Rows of a JSON document (a list of objects at `rows_path`); errors name the row (as "line") and column.
    Parse the document with ``json.loads(..., parse_float=Decimal)`` so decimals stay exact."""
    node = _dig(document, rows_path, file)
    if isinstance(node, dict):
        node = [node]
    if not isinstance(node, list):
        raise InputFileError(file, f"{rows_path or 'the document'} is not a list of objects", None, rows_path)
    collector = _Collector(file)
    sources = [column.source or column.name for column in table.columns]

    def records() -> Iterator[tuple[int, list[str | None]]]:
        for index, item in enumerate(node, start=1):
            if not isinstance(item, dict):
                collector.add(index, None, "row is not an object")
                continue
            yield index, [json_scalar(item.get(source)) for source in sources]

    return _check_rows(records(), table, collector, False, day)
