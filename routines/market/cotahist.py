"""B3 COTAHIST parser (pure Python + numpy, no Dagster).

The file (daily `COTAHIST_DDDMMYYYY`, monthly `COTAHIST_MMMYYYY`, yearly `COTAHIST_AYYYY`) is a TXT, or a ZIP
holding exactly one TXT, of fixed-width latin-1 records of 245 characters + CRLF: a header (type 00), one quote
record (type 01) per instrument and market per session, and a trailer (type 99) whose TOTREG counts every record,
header and trailer included. Layout: `docs/market_cotahist.md`.

Speed: records are never split field by field in Python. A chunk of records is one numpy `uint8` array of shape
(records, line length); validation, typed columns and the text handed to the database (`QuoteChunk.copy_text`) are
whole-array operations. Files are streamed in chunks (a year is ~1.9 million records, ~470 MB of text), so memory
stays bounded whatever the file size.

Exactness: prices have 2 implied decimals (N(11)V99), VOLTOT too (N(16)V99), PTOEXE 6 (N(07)V06). Typed columns
give scaled integers (cents); `QuoteChunk.rows()` gives `Decimal`s; the text for the database writes the decimal
point at the right place. Nothing goes through float. The expiry date 9999-12-31 ("no expiry") becomes NULL.

Rules of a file (one implementation, applied by `CotahistReader` for the CLI, the download check and the load):
- a daily file (`COTAHIST_DDDMMYYYY`, or any file read with `expected_date`) holds its session only: header DATGER
  and every record's DATPRE equal that day; a monthly (`COTAHIST_MMMYYYY`) or yearly (`COTAHIST_AYYYY`) file holds
  records of its month or year only;
- every session in the file is a B3 business day (calendar `B3`; the error names the holiday, or "sábado" /
  "domingo");
- a file with no quote record, or without a record for a session it must hold (`sessions`), is refused;
- no two records share the natural key (DATPRE, CODNEG, TPMERC, PRAZOT, DATVEN, PREEXE): the error names both lines.

Every error is an `InputFileError` naming the file, the line (1-based) and the field (the layout's mnemonic).
"""

from __future__ import annotations

import io
import os
import re
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from routines.errors import InputFileError

if TYPE_CHECKING:
    from routines.calendar.core import Calendar

RECORD_LENGTH = 245
DEFAULT_CHUNK_RECORDS = 4096  # ~1 MB: each chunk's arrays stay in the CPU cache
NO_EXPIRY = 99991231

_SPACE, _ZERO, _DOT, _DASH, _BACKSLASH, _N = 32, 48, 46, 45, 92, 78


@dataclass(frozen=True)
class Field:
    column: str  # column of table b3_quotes
    mnemonic: str  # name in the B3 layout
    start: int  # 0-based, inclusive
    end: int  # 0-based, exclusive
    kind: str  # text | date | date_or_null | term | int | dec
    scale: int = 0


# Quote record (type 01), in the column order of table `b3_quotes` and of every text/CSV output.
QUOTE_FIELDS: tuple[Field, ...] = (
    Field("trade_date", "DATPRE", 2, 10, "date"),
    Field("bdi_code", "CODBDI", 10, 12, "text"),
    Field("ticker", "CODNEG", 12, 24, "text"),
    Field("market_type", "TPMERC", 24, 27, "text"),
    Field("company_name", "NOMRES", 27, 39, "text"),
    Field("specification", "ESPECI", 39, 49, "text"),
    Field("term_days", "PRAZOT", 49, 52, "term"),
    Field("currency", "MODREF", 52, 56, "text"),
    Field("open", "PREABE", 56, 69, "dec", 2),
    Field("high", "PREMAX", 69, 82, "dec", 2),
    Field("low", "PREMIN", 82, 95, "dec", 2),
    Field("average", "PREMED", 95, 108, "dec", 2),
    Field("close", "PREULT", 108, 121, "dec", 2),
    Field("best_bid", "PREOFC", 121, 134, "dec", 2),
    Field("best_ask", "PREOFV", 134, 147, "dec", 2),
    Field("trades", "TOTNEG", 147, 152, "int"),
    Field("quantity", "QUATOT", 152, 170, "int"),
    Field("volume", "VOLTOT", 170, 188, "dec", 2),
    Field("strike", "PREEXE", 188, 201, "dec", 2),
    Field("strike_correction", "INDOPC", 201, 202, "int"),
    Field("expiry_date", "DATVEN", 202, 210, "date_or_null"),
    Field("quote_factor", "FATCOT", 210, 217, "int"),
    Field("strike_points", "PTOEXE", 217, 230, "dec", 6),
    Field("isin", "CODISI", 230, 242, "text"),
    Field("distribution", "DISMES", 242, 245, "int"),
)
COLUMNS: tuple[str, ...] = tuple(f.column for f in QUOTE_FIELDS)
FIELDS_BY_COLUMN = {f.column: f for f in QUOTE_FIELDS}
NULLABLE_COLUMNS = frozenset({"term_days", "expiry_date"})

# Byte ranges of a quote record that must hold only digits (DATPRE; PREABE..PTOEXE; DISMES).
_NUMERIC_RANGES = ((2, 10), (56, 230), (242, 245))
_HEADER_FIELDS = (("TIPREG", 0, 2), ("NOMARQ", 2, 15), ("CODORI", 15, 23), ("DATGER", 23, 31))
_TRAILER_FIELDS = _HEADER_FIELDS + (("TOTREG", 31, 42),)


# The natural key of a quote record (table b3_quotes): PRAZOT is part of it (forward records differ only by it).
NATURAL_KEY_FIELDS = ("DATPRE", "CODNEG", "TPMERC", "PRAZOT", "DATVEN", "PREEXE")
_KEY_RANGES = tuple(
    (f.start, f.end) for mnemonic in NATURAL_KEY_FIELDS for f in QUOTE_FIELDS if f.mnemonic == mnemonic
)
_KEY_BYTES = sum(end - start for start, end in _KEY_RANGES)  # 47
_KEY_WORDS = (_KEY_BYTES + 7) // 8  # hashed as 6 uint64 words (zero padded)


@dataclass(frozen=True)
class FilePeriod:
    """What a COTAHIST file holds, from its name (or the expected session): one session, a month or a year."""

    kind: str  # daily | monthly | yearly
    first: date
    last: date

    def describe(self) -> str:
        if self.kind == "daily":
            return f"session {self.first.isoformat()}"
        if self.kind == "monthly":
            return f"month {self.first:%Y-%m}"
        return f"year {self.first.year}"


_FILE_NAME = re.compile(
    r"COTAHIST_(?:D(?P<day>\d{2})(?P<day_month>\d{2})(?P<day_year>\d{4})|M(?P<month>\d{2})(?P<month_year>\d{4})"
    r"|A(?P<year>\d{4}))(?:\.[A-Za-z0-9]+)?",
    re.IGNORECASE,
)


def period_from_name(name: str | None) -> FilePeriod | None:
    """The period a file named `name` holds (`COTAHIST_DDDMMYYYY`, `_MMMYYYY`, `_AYYYY`, any extension); None when
    the name is not one of B3's. A B3 name with an impossible date is an error."""
    if not name:
        return None
    base = str(name).replace("\\", "/").rsplit("/", 1)[-1]
    match = _FILE_NAME.fullmatch(base)
    if match is None:
        return None
    groups = match.groupdict()
    try:
        if groups["day"]:
            day = date(int(groups["day_year"]), int(groups["day_month"]), int(groups["day"]))
            return FilePeriod("daily", day, day)
        if groups["month"]:
            first = date(int(groups["month_year"]), int(groups["month"]), 1)
            following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
            return FilePeriod("monthly", first, date.fromordinal(following.toordinal() - 1))
        year = int(groups["year"])
        return FilePeriod("yearly", date(year, 1, 1), date(year, 12, 31))
    except ValueError:
        raise InputFileError(base, "the file name holds an impossible date") from None


def daily_period(day: date) -> FilePeriod:
    return FilePeriod("daily", day, day)


def _field_at(position: int, record_type: bytes) -> str:
    """The layout mnemonic of the field holding byte `position` (0-based) of a record."""
    if record_type == b"01":
        for f in QUOTE_FIELDS:
            if f.start <= position < f.end:
                return f.mnemonic
        return "TIPREG"
    for name, start, end in _TRAILER_FIELDS if record_type == b"99" else _HEADER_FIELDS:
        if start <= position < end:
            return name
    return "RESERVA"


# --------------------------------------------------------------------------------------------------------------
# Opening: TXT, ZIP holding one TXT, or something else (HTML error page, truncated download)


def _looks_like_html(head: bytes) -> bool:
    probe = head[:1024].lstrip().lower()
    return probe.startswith((b"<!doctype", b"<html", b"<?xml", b"<head", b"<body")) or b"<html" in probe


class _Source:
    """An opened COTAHIST: a binary stream of the TXT and the name used in error messages."""

    def __init__(self, source: str | os.PathLike | bytes | bytearray | memoryview, name: str | None):
        self._closers: list = []
        self.member_name: str | None = None
        if isinstance(source, bytes | bytearray | memoryview):
            raw: BinaryIO = io.BytesIO(bytes(source))
            outer_name = name or "<bytes>"
        else:
            path = Path(source)
            outer_name = name or path.name
            try:
                raw = open(path, "rb")  # noqa: SIM115 - closed by close()
            except OSError as exc:
                raise InputFileError(outer_name, f"cannot open: {exc.strerror or exc}") from exc
        self._closers.append(raw)
        self.outer_name = outer_name
        head = raw.read(1024)
        raw.seek(0)
        self.is_zip = head.startswith((b"PK\x03\x04", b"PK\x05\x06"))
        if not head:
            self.close()
            raise InputFileError(outer_name, "the file is empty")
        if _looks_like_html(head):
            self.close()
            raise InputFileError(
                outer_name, "got an HTML page instead of a COTAHIST file (error page of the site?)", line=1
            )
        if not self.is_zip:
            if outer_name.lower().endswith(".zip"):
                self.close()
                raise InputFileError(outer_name, "not a ZIP archive (corrupt or truncated download)")
            self.name = outer_name
            self.stream: BinaryIO = raw
            return
        try:
            archive = zipfile.ZipFile(raw)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            self.close()
            raise InputFileError(outer_name, f"corrupt or truncated ZIP archive ({exc})") from exc
        self._closers.append(archive)
        members = [info for info in archive.infolist() if not info.is_dir()]
        if len(members) != 1:
            names = ", ".join(info.filename for info in members) or "nothing"
            self.close()
            raise InputFileError(outer_name, f"the ZIP must hold exactly one TXT file; it holds {names}")
        self.member_name = members[0].filename
        self.name = f"{outer_name}[{members[0].filename}]"
        try:
            self.stream = archive.open(members[0])
        except (zipfile.BadZipFile, OSError, NotImplementedError, zlib.error) as exc:
            self.close()
            raise InputFileError(self.name, f"corrupt ZIP member ({exc})") from exc
        self._closers.append(self.stream)

    def read(self, size: int, line: int) -> bytes:
        """Up to `size` bytes (fewer only at the end); decompression errors name the line reached."""
        parts: list[bytes] = []
        remaining = size
        try:
            while remaining > 0:
                part = self.stream.read(remaining)
                if not part:
                    break
                parts.append(part)
                remaining -= len(part)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise InputFileError(
                self.name, f"corrupt or truncated ZIP data near this line ({exc})", line=line
            ) from exc
        return b"".join(parts)

    def close(self) -> None:
        for closer in reversed(self._closers):
            try:
                closer.close()
            except Exception:  # noqa: BLE001 - closing after an error must not hide it
                pass
        self._closers.clear()


# --------------------------------------------------------------------------------------------------------------
# Vectorised helpers. Chunks are kept transposed: `cols` has shape (245, n), so byte position p of every record is
# the contiguous row `cols[p]` and a field is a contiguous (width, n) block: every step below is a vector operation
# over all records at once.


def _digits_to_int(block: np.ndarray) -> np.ndarray:
    """(w, n) ASCII digits -> int64 (w <= 18). Digits were validated before."""
    values = np.zeros(block.shape[1], dtype=np.int64)
    for row in block:
        values *= 10
        values += row
        values -= _ZERO
    return values


def _ints_to_dates(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """YYYYMMDD int64 -> (datetime64[D], valid mask)."""
    years = values // 10000
    months = (values // 100) % 100
    days = values % 100
    ok = (years >= 1900) & (months >= 1) & (months <= 12) & (days >= 1) & (days <= 31)
    month_index = np.where(ok, (years - 1970) * 12 + months - 1, 0)
    first = month_index.astype("datetime64[M]")
    result = first.astype("datetime64[D]") + np.where(ok, days - 1, 0).astype("timedelta64[D]")
    ok &= result.astype("datetime64[M]") == first
    return result, ok


def _drop_trailing_spaces(block: np.ndarray) -> None:
    """Zero (= drop from the text) the trailing spaces of a (w, n) text block, in place."""
    blank = block[-1] == _SPACE
    block[-1] *= ~blank
    for row in range(block.shape[0] - 2, -1, -1):
        blank &= block[row] == _SPACE
        block[row] *= ~blank


def _drop_leading_zeros(block: np.ndarray) -> None:
    """Zero the leading zeros of a (w, n) digit block in place; the last digit always stays."""
    if block.shape[0] < 2:
        return
    zero = block[0] == _ZERO
    block[0] *= ~zero
    for row in range(1, block.shape[0] - 1):
        zero &= block[row] == _ZERO
        block[row] *= ~zero


# --------------------------------------------------------------------------------------------------------------
# Chunks of quote records


@dataclass
class QuoteChunk:
    """Validated quote records (type 01) of one chunk, transposed: `cols` is (245, n) uint8."""

    cols: np.ndarray
    first_line: int
    file_name: str
    _cache: dict = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return self.cols.shape[1]

    @property
    def records(self) -> np.ndarray:
        """(n, 245) view: one record per row."""
        return self.cols.T

    def block(self, column: str) -> np.ndarray:
        f = FIELDS_BY_COLUMN[column]
        return self.cols[f.start : f.end]

    def int_column(self, column: str) -> np.ndarray:
        """int64 values of an int/dec/date column (dec: scaled by 10**scale; date: YYYYMMDD; term: -1 = NULL)."""
        if column not in self._cache:
            f = FIELDS_BY_COLUMN[column]
            block = self.block(column)
            if f.kind == "term":
                blank = (block == _SPACE).all(axis=0)
                values = _digits_to_int(np.where(blank, _ZERO, block).astype(np.uint8))
                values[blank] = -1
            elif f.kind == "text":
                raise TypeError(f"{column} is a text column")
            else:
                values = _digits_to_int(block)
            self._cache[column] = values
        return self._cache[column]

    def date_column(self, column: str) -> np.ndarray:
        """datetime64[D] values; NaT where NULL (expiry 9999-12-31)."""
        values = self.int_column(column)
        dates, _ = _ints_to_dates(values)
        if FIELDS_BY_COLUMN[column].kind == "date_or_null":
            dates[values == NO_EXPIRY] = np.datetime64("NaT")
        return dates

    def text_column(self, column: str, decode: bool = False) -> np.ndarray:
        """Trailing spaces removed; numpy bytes array (latin-1, dtype S<width>), or str array if `decode`."""
        block = self.block(column).copy()
        _drop_trailing_spaces(block)  # NUL bytes: numpy S arrays drop trailing NULs
        values = np.ascontiguousarray(block.T).view(f"S{block.shape[0]}").ravel()
        return np.strings.decode(values, "latin-1") if decode else values

    def columns(self, decode: bool = False) -> dict[str, np.ndarray]:
        """Every column as a numpy array: text as latin-1 bytes (str if `decode`), dates as datetime64[D]
        (NaT = NULL), term_days as int64 (-1 = NULL), decimals as int64 scaled by 10**scale (see `QUOTE_FIELDS`),
        other ints as int64."""
        result: dict[str, np.ndarray] = {}
        for f in QUOTE_FIELDS:
            if f.kind == "text":
                result[f.column] = self.text_column(f.column, decode)
            elif f.kind in ("date", "date_or_null"):
                result[f.column] = self.date_column(f.column)
            else:
                result[f.column] = self.int_column(f.column)
        return result

    def select(self, mask: np.ndarray) -> QuoteChunk:
        """The records where `mask` is true (line numbers of the result are no longer exact)."""
        return QuoteChunk(np.ascontiguousarray(self.cols[:, mask]), self.first_line, self.file_name)

    def text(self, sep: bytes = b"\t", null: bytes = b"\\N", newline: bytes = b"\n") -> bytes:
        """The records as delimited text in `COLUMNS` order, latin-1 bytes: dates ISO, decimals with a point and
        no leading zeros, text without trailing spaces, NULL as `null`. Control characters were rejected by the
        validation, so a tab separator never needs quoting.

        Built transposed in one (width, n) array where bytes to drop are set to 0, then transposed once and the
        zeros deleted by `bytes.translate` (valid records hold no NUL byte)."""
        assert len(sep) == 1 and len(newline) == 1 and len(null) <= 3
        n = len(self)
        cols = self.cols
        # Slots are cut to what this chunk needs: leading digits that are 0 in every record and trailing columns
        # that are blank in every record are never copied (less to fill, transpose and delete).
        slots = []
        position = 0
        for f in QUOTE_FIELDS:
            src = cols[f.start : f.end]
            if f.kind == "text":
                blank = (src == _SPACE).all(axis=1)
                used = src.shape[0] - int(np.argmin(blank[::-1])) if not blank.all() else 0
                src = src[:used]
                width = used
            elif f.kind in ("int", "dec"):
                digits = src.shape[0] - f.scale
                zero = ~(src[: digits - 1] != _ZERO).any(axis=1)
                skip = (int(np.argmin(zero)) if not zero.all() else digits - 1) if digits > 1 else 0
                src = src[skip:]
                width = src.shape[0] + (1 if f.kind == "dec" else 0)
            elif f.kind in ("date", "date_or_null"):
                width = 10
            else:  # term
                width = 3
            slots.append((f, src, position, width))
            position += width + 1  # separator or newline
        out = np.empty((position, n), dtype=np.uint8)
        for f, src, pos, width in slots:
            dst = out[pos : pos + width]
            if f.kind == "text":
                dst[:] = src
                if width:
                    _drop_trailing_spaces(dst)
            elif f.kind == "int":
                dst[:] = src
                _drop_leading_zeros(dst)
            elif f.kind == "dec":
                digits = src.shape[0] - f.scale
                dst[:digits] = src[:digits]
                dst[digits] = _DOT
                dst[digits + 1 :] = src[digits:]
                _drop_leading_zeros(dst[:digits])
            elif f.kind in ("date", "date_or_null"):
                dst[0:4] = src[0:4]
                dst[4] = _DASH
                dst[5:7] = src[4:6]
                dst[7] = _DASH
                dst[8:10] = src[6:8]
                if f.kind == "date_or_null":
                    self._write_null(dst, self.int_column(f.column) == NO_EXPIRY, null)
            elif f.kind == "term":
                dst[:] = src
                blank = (src == _SPACE).all(axis=0)
                _drop_leading_zeros(dst)
                self._write_null(dst, blank, null)
            out[pos + width] = sep[0]
        out[position - 1] = newline[0]
        return out.T.tobytes().translate(None, b"\0")

    @staticmethod
    def _write_null(dst: np.ndarray, rows: np.ndarray, null: bytes) -> None:
        if not rows.any():
            return
        dst[:, rows] = 0
        for index, byte in enumerate(null):
            dst[index, rows] = byte

    def copy_text(self) -> bytes:
        """Input for PostgreSQL `COPY ... FROM STDIN (FORMAT text)` (latin-1, tab separated, NULL as \\N).

        Text format treats backslashes as escapes: the rare record holding one gets it doubled."""
        if not ((self.cols[10:56] == _BACKSLASH).any() or (self.cols[230:242] == _BACKSLASH).any()):
            return self.text()  # only text fields can hold one: the others were checked to be digits
        data = self.text(null=b"\x01")  # control bytes never survive validation: a safe placeholder
        return data.replace(b"\\", b"\\\\").replace(b"\x01", b"\\N")

    def rows(self) -> list[dict[str, object]]:
        """Python rows (dicts in `COLUMNS` order) with `date`, `Decimal`, `int`, `str` and None for NULL."""
        result = []
        text = self.text().decode("latin-1")
        for line in text.split("\n")[:-1]:
            values = line.split("\t")
            row: dict[str, object] = {}
            for f, value in zip(QUOTE_FIELDS, values, strict=True):
                row[f.column] = _python_value(f, value)
            result.append(row)
        return result


def _int_to_date(value: int) -> date:
    return date(value // 10000, (value // 100) % 100, value % 100)


def date_to_int(day: date) -> int:
    return day.year * 10000 + day.month * 100 + day.day


def _closed_message(day: date, reason: str) -> str:
    return f"{day:%d/%m/%Y} is not a B3 business day ({reason}): B3 holds no session that day"


def _describe_key(key: np.ndarray) -> str:
    """The natural key of `_collect_keys`' layout, readable."""
    raw = bytes(key[:_KEY_BYTES]).decode("latin-1")
    parts, position = [], 0
    for mnemonic, (start, end) in zip(NATURAL_KEY_FIELDS, _KEY_RANGES, strict=True):
        parts.append(f"{mnemonic} {raw[position : position + end - start].strip() or 'blank'}")
        position += end - start
    return ", ".join(parts)


def _python_value(f: Field, value: str) -> object:
    if value == "\\N":
        return None
    if f.kind == "text":
        return value
    if f.kind in ("date", "date_or_null"):
        return date.fromisoformat(value)
    if f.kind == "dec":
        return Decimal(value)
    return int(value)


# --------------------------------------------------------------------------------------------------------------
# Reader


@dataclass
class CotahistSummary:
    file_name: str = ""
    generated: date | None = None  # header DATGER
    records: int = 0  # every record read, header and trailer included
    quotes: int = 0
    trailer_count: int | None = None
    period: FilePeriod | None = None  # what the file holds, from its name or the expected session
    quotes_per_day: Counter = field(default_factory=Counter)  # session -> quote records

    @property
    def trade_dates(self) -> set[date]:
        return set(self.quotes_per_day)


class CotahistReader:
    """Streams a COTAHIST file as validated `QuoteChunk`s, applying every rule of the module docstring.

    `expected_date`: the file is the daily file of that session (as if named `COTAHIST_D<date>`).
    `sessions`: sessions the file must hold (at least one quote record each).
    `calendar`: business days of the sessions (default: the `B3` calendar).
    The file-level rules (trailer count, no quote record, missing sessions, duplicate keys) are checked when the
    iteration ends: a consumer that loads chunks as they come must do it in a transaction it rolls back when the
    iteration raises.
    """

    def __init__(
        self,
        source: str | os.PathLike | bytes | bytearray | memoryview,
        *,
        name: str | None = None,
        expected_date: date | None = None,
        sessions: Iterable[date] | None = None,
        calendar: Calendar | None = None,
        chunk_records: int = DEFAULT_CHUNK_RECORDS,
    ):
        self.source = source
        self.name = name
        self.expected_date = expected_date
        self.sessions = sorted(set(sessions)) if sessions is not None else []
        self._calendar = calendar
        self.chunk_records = max(1, chunk_records)
        self.summary = CotahistSummary()
        self._open_days: set[int] = set()  # sessions (YYYYMMDD) already found to be business days
        self._key_hashes: list[np.ndarray] = []
        self._keys: list[np.ndarray] = []
        self._key_lines: list[np.ndarray] = []

    @property
    def calendar(self) -> Calendar:
        if self._calendar is None:
            from routines.calendar.registry import get_calendar

            self._calendar = get_calendar("B3")
        return self._calendar

    def __iter__(self) -> Iterator[QuoteChunk]:
        src = _Source(self.source, self.name)
        try:
            self.summary.file_name = src.name
            self.summary.period = self._period(src)
            yield from self._chunks(src)
        finally:
            src.close()

    def _period(self, src: _Source) -> FilePeriod | None:
        """What the file holds: from the expected session, its name and its ZIP member's name (they must agree)."""
        named = [
            (label, period_from_name(n))
            for label, n in (("name", src.outer_name), ("member", src.member_name))
        ]
        named = [(label, period) for label, period in named if period is not None]
        if self.expected_date is not None:
            named.insert(0, ("expected", daily_period(self.expected_date)))
        if not named:
            return None
        label, period = named[0]
        for other_label, other in named[1:]:
            if other != period:
                what = {
                    "expected": "expected the",
                    "name": "the file name says",
                    "member": "the ZIP member says",
                }
                raise self._error(
                    f"{what[label]} {period.describe()} but {what[other_label]} {other.describe()}"
                )
        return period

    # -- validation --------------------------------------------------------------------------------------------
    def _error(self, message: str, line: int | None = None, field: str | None = None) -> InputFileError:
        return InputFileError(self.summary.file_name, message, line=line, field=field)

    def _line_length_error(self, buffer: bytes, start: int, line: int, eol: bytes) -> InputFileError:
        end = buffer.find(b"\n", start)
        if end < 0:
            length = len(buffer) - start
            tail = " (file ends there: truncated?)"
        else:
            length = end - start - (1 if end > start and buffer[end - 1 : end] == b"\r" else 0)
            tail = ""
        if length == RECORD_LENGTH and end >= 0:
            return self._error(
                f"line ends with {buffer[start + RECORD_LENGTH : end + 1]!r}, expected {eol!r}", line
            )
        return self._error(f"record has {length} characters, expected {RECORD_LENGTH}{tail}", line)

    def _chunks(self, src: _Source) -> Iterator[QuoteChunk]:
        summary = self.summary
        first = src.read(RECORD_LENGTH + 2, 1)
        newline_at = first.find(b"\n")
        if newline_at < 0 and len(first) > RECORD_LENGTH:
            raise self._line_length_error(first + src.read(4096, 1), 0, 1, b"\r\n")
        eol = b"\r\n" if newline_at > 0 and first[newline_at - 1 : newline_at] == b"\r" else b"\n"
        content_length = newline_at - len(eol) + 1 if newline_at >= 0 else len(first)
        if content_length != RECORD_LENGTH:
            raise self._error(f"record has {content_length} characters, expected {RECORD_LENGTH}", 1)
        width = RECORD_LENGTH + len(eol)
        pending = first
        line = 1  # line number of the first record of `data`
        trailer_seen = False
        at_end = False
        while not at_end:
            want = self.chunk_records * width - len(pending)
            data = pending + src.read(want, line) if want > 0 else pending
            pending = b""
            if len(data) < self.chunk_records * width:
                at_end = True
                data = self._strip_end(data, eol, width)
            rows = len(data) // width
            if rows * width != len(data):
                # A short or long record somewhere: find the first bad line for the message.
                records = np.frombuffer(data, dtype=np.uint8, count=rows * width).reshape(rows, width)
                bad = self._first_misaligned(records, eol)
                index = rows if bad is None else bad
                raise self._line_length_error(data + src.read(4096, line), index * width, line + index, eol)
            if not rows:
                break
            records = np.frombuffer(data, dtype=np.uint8).reshape(rows, width)
            bad = self._first_misaligned(records, eol)
            if bad is not None:
                raise self._line_length_error(data + src.read(4096, line), bad * width, line + bad, eol)
            cols = np.ascontiguousarray(records[:, :RECORD_LENGTH].T)
            control = cols < _SPACE
            if control.any():
                col, row = np.unravel_index(int(np.argmax(control)), control.shape)
                if cols[col, row] in (10, 13):
                    raise self._line_length_error(
                        data + src.read(4096, line), int(row) * width, line + int(row), eol
                    )
                kind = bytes(cols[0:2, row])
                raise self._error(
                    f"control character {bytes([cols[col, row]])!r} in the record",
                    line + int(row),
                    _field_at(int(col), kind),
                )
            chunk, trailer_seen = self._validate(cols, line, trailer_seen)
            summary.records += rows
            line += rows
            if chunk is not None and len(chunk):
                summary.quotes += len(chunk)
                yield chunk
        if summary.generated is None:
            raise self._error("no header record (type 00)", 1, "TIPREG")
        if not trailer_seen:
            raise self._error(
                f"no trailer record (type 99) after {summary.records} records: truncated file?",
                summary.records,
                "TIPREG",
            )
        if summary.trailer_count != summary.records:
            raise self._error(
                f"trailer counts {summary.trailer_count} records but the file has {summary.records}",
                summary.records,
                "TOTREG",
            )
        self._check_sessions()
        self._check_duplicates()

    def _check_sessions(self) -> None:
        summary = self.summary
        period = summary.period
        if not summary.quotes:
            held = f" for the {period.describe()}" if period is not None else ""
            raise self._error(f"no quote record (type 01){held}", summary.records, "TIPREG")
        missing = [day for day in self.sessions if day not in summary.quotes_per_day]
        if missing:
            shown = ", ".join(day.isoformat() for day in missing[:10])
            more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
            raise self._error(f"no quote record for the session(s) {shown}{more}", field="DATPRE")

    def _check_duplicates(self) -> None:
        """Two records with the same natural key: the error names both lines (the later one is the error's)."""
        key_hashes, key_blocks, key_lines = self._key_hashes, self._keys, self._key_lines
        self._key_hashes, self._keys, self._key_lines = [], [], []  # memory back once checked
        if not key_hashes:
            return
        hashes = np.concatenate(key_hashes)
        order = np.argsort(hashes, kind="stable")
        ordered = hashes[order]
        candidates = np.flatnonzero(ordered[1:] == ordered[:-1])
        if not len(candidates):
            return
        keys = np.concatenate(key_blocks)
        lines = np.concatenate(key_lines)
        first, second = order[candidates], order[candidates + 1]
        same = (keys[first] == keys[second]).all(axis=1)
        if not same.any():
            return  # hash collisions of different keys
        first, second = first[same], second[same]
        pick = int(np.argmin(lines[second]))
        earlier, later = int(lines[first[pick]]), int(lines[second[pick]])
        raise self._error(
            f"same natural key as line {earlier} ({_describe_key(keys[first[pick]])}): a record may appear "
            "only once",
            later,
            "CODNEG",
        )

    @staticmethod
    def _strip_end(data: bytes, eol: bytes, width: int) -> bytes:
        """End of file: tolerate a missing final line terminator and trailing empty lines / EOF mark."""
        stripped = data.rstrip(b"\r\n\x1a")
        if len(stripped) % width == RECORD_LENGTH:
            return stripped + eol
        return data

    @staticmethod
    def _first_misaligned(records: np.ndarray, eol: bytes) -> int | None:
        if eol == b"\r\n":
            ok = (records[:, RECORD_LENGTH] == 13) & (records[:, RECORD_LENGTH + 1] == 10)
        else:
            ok = records[:, RECORD_LENGTH] == 10
        if ok.all():
            return None
        return int(np.argmin(ok))

    def _validate(self, cols: np.ndarray, line: int, trailer_seen: bool) -> tuple[QuoteChunk | None, bool]:
        summary = self.summary
        is_quote = (cols[0] == _ZERO) & (cols[1] == _ZERO + 1)
        start = 0
        if summary.generated is None:
            if bytes(cols[0:2, 0]) != b"00":
                kind = bytes(cols[0:2, 0]).decode("latin-1")
                raise self._error(
                    f"first record must be the header (type 00), found type {kind!r}", line, "TIPREG"
                )
            self._check_header(bytes(cols[:, 0]), line)
            start = 1
        if trailer_seen:
            raise self._error("record after the trailer (type 99)", line, "TIPREG")
        n = cols.shape[1]
        stop = n
        if not is_quote[start:].all():
            bad = start + int(np.argmin(is_quote[start:]))
            kind = bytes(cols[0:2, bad])
            if kind == b"99":
                self._check_trailer(bytes(cols[:, bad]), line + bad)
                trailer_seen = True
                if bad + 1 < n:
                    raise self._error("record after the trailer (type 99)", line + bad + 1, "TIPREG")
            elif kind == b"00":
                raise self._error("second header record (type 00)", line + bad, "TIPREG")
            else:
                raise self._error(f"unknown record type {kind.decode('latin-1')!r}", line + bad, "TIPREG")
            stop = bad
        if stop <= start:
            return None, trailer_seen
        quotes = cols[:, start:stop] if (start, stop) != (0, n) else cols
        first_line = line + start
        self._check_quotes(quotes, first_line)
        return QuoteChunk(quotes, first_line, summary.file_name), trailer_seen

    def _check_quotes(self, quotes: np.ndarray, first_line: int) -> None:
        for start, end in _NUMERIC_RANGES:
            block = quotes[start:end]
            bad = (block - _ZERO) > 9  # uint8 wraps below '0'
            if bad.any():
                col, row = np.unravel_index(int(np.argmax(bad)), bad.shape)
                mnemonic = _field_at(start + int(col), b"01")
                f = next(f for f in QUOTE_FIELDS if f.mnemonic == mnemonic)
                value = bytes(quotes[f.start : f.end, row]).decode("latin-1")
                raise self._error(f"not a number: {value!r}", first_line + int(row), mnemonic)
        term = quotes[49:52]
        digits = ((term - _ZERO) <= 9).all(axis=0)
        blank = (term == _SPACE).all(axis=0)
        bad_term = ~(digits | blank)
        if bad_term.any():
            row = int(np.argmax(bad_term))
            value = bytes(term[:, row]).decode("latin-1")
            raise self._error(
                f"term in days must be 3 digits or blank: {value!r}", first_line + row, "PRAZOT"
            )
        for mnemonic, start, end, nullable in (("DATPRE", 2, 10, False), ("DATVEN", 202, 210, True)):
            values = _digits_to_int(quotes[start:end])
            _, ok = _ints_to_dates(values)
            if nullable:
                ok |= values == NO_EXPIRY
            if not ok.all():
                row = int(np.argmin(ok))
                raise self._error(f"invalid date {int(values[row]):08d}", first_line + row, mnemonic)
        self._check_trade_dates(_digits_to_int(quotes[2:10]), first_line)
        self._collect_keys(quotes, first_line)

    def _check_trade_dates(self, trade: np.ndarray, first_line: int) -> None:
        """Every DATPRE within the file's period and a B3 business day; counts the records of each session."""
        period = self.summary.period
        if period is not None:
            low, high = date_to_int(period.first), date_to_int(period.last)
            outside = (trade < low) | (trade > high)
            if outside.any():
                row = int(np.argmax(outside))
                found = _int_to_date(int(trade[row])).isoformat()
                if period.kind == "daily":
                    message = f"trade date {found} differs from the file's session {period.first.isoformat()}"
                else:
                    message = f"trade date {found} is outside the file's {period.describe()}"
                raise self._error(message, first_line + row, "DATPRE")
        values, counts = np.unique(trade, return_counts=True)
        for value, count in zip(values.tolist(), counts.tolist(), strict=True):
            if value not in self._open_days:
                day = _int_to_date(value)
                reason = self.calendar.closed_reason(day)
                if reason:
                    row = int(np.argmax(trade == value))
                    raise self._error(_closed_message(day, reason), first_line + row, "DATPRE")
                self._open_days.add(value)
            self.summary.quotes_per_day[_int_to_date(value)] += count

    def _collect_keys(self, quotes: np.ndarray, first_line: int) -> None:
        """Keep each record's natural key (and a 64-bit hash of it) for the duplicate check at the end."""
        n = quotes.shape[1]
        block = np.zeros((_KEY_WORDS * 8, n), dtype=np.uint8)
        position = 0
        for start, end in _KEY_RANGES:
            block[position : position + end - start] = quotes[start:end]
            position += end - start
        keys = np.ascontiguousarray(block.T)
        words = keys.view(np.uint64)
        hashes = np.full(n, 0xCBF29CE484222325, dtype=np.uint64)
        for column in range(_KEY_WORDS):
            hashes ^= words[:, column]
            hashes *= np.uint64(0x100000001B3)
            hashes ^= hashes >> np.uint64(29)
        self._key_hashes.append(hashes)
        self._keys.append(keys)
        self._key_lines.append(np.arange(first_line, first_line + n, dtype=np.int64))

    def _check_header(self, record: bytes, line: int) -> None:
        raw = record[23:31]
        try:
            generated = _int_to_date(int(raw.decode("ascii")))
        except (ValueError, UnicodeDecodeError):
            raise self._error(f"invalid date {raw.decode('latin-1')!r}", line, "DATGER") from None
        period = self.summary.period
        if period is not None and period.kind == "daily":
            if generated != period.first:
                raise self._error(
                    f"header date {generated.isoformat()} differs from the file's session "
                    f"{period.first.isoformat()}",
                    line,
                    "DATGER",
                )
            reason = self.calendar.closed_reason(generated)
            if reason:
                raise self._error(_closed_message(generated, reason), line, "DATGER")
        self.summary.generated = generated

    def _check_trailer(self, record: bytes, line: int) -> None:
        raw = record[31:42]
        if not raw.isdigit():
            raise self._error(f"not a number: {raw.decode('latin-1')!r}", line, "TOTREG")
        self.summary.trailer_count = int(raw)


# --------------------------------------------------------------------------------------------------------------
# Conveniences


def read_quotes(
    source: str | os.PathLike | bytes, *, name: str | None = None, expected_date: date | None = None
) -> tuple[list[dict[str, object]], CotahistSummary]:
    """Every quote record as a Python row (small files: tests, previews, the CLI)."""
    reader = CotahistReader(source, name=name, expected_date=expected_date)
    rows: list[dict[str, object]] = []
    for chunk in reader:
        rows.extend(chunk.rows())
    return rows, reader.summary


def daily_file_name(day: date, extension: str = "ZIP") -> str:
    return f"COTAHIST_D{day:%d%m%Y}.{extension}"


def monthly_file_name(year: int, month: int, extension: str = "ZIP") -> str:
    return f"COTAHIST_M{month:02d}{year:04d}.{extension}"


def yearly_file_name(year: int, extension: str = "ZIP") -> str:
    return f"COTAHIST_A{year:04d}.{extension}"
