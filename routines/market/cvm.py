"""CVM "Informe Diário" of investment funds: parse the monthly CSV and upsert it into `cvm_fund_quotas` (pure).

The file `inf_diario_fi_{YYYYMM}.zip` holds one CSV (latin-1, `;`, decimal point) with one row per fund (class)
and subclass and day. Two layouts are accepted:
- before CVM Resolution 175: TP_FUNDO;CNPJ_FUNDO;DT_COMPTC;VL_TOTAL;VL_QUOTA;VL_PATRIM_LIQ;CAPTC_DIA;RESG_DIA;NR_COTST
- after: TP_FUNDO_CLASSE;CNPJ_FUNDO_CLASSE;ID_SUBCLASSE;DT_COMPTC;VL_TOTAL;...;NR_COTST
Every row must fall in the file's month. Errors name the file, line and column; refused before anything is
written: a value that does not fit its column with every digit (never rounded), a repeated (fund, subclass, date)
(both lines named), a file without rows. A file starting with a UTF-8 byte order mark is read as UTF-8, in both
layouts. A file without the fund type column keeps the stored fund types.
"""

from __future__ import annotations

import csv
import io
import zipfile
import zlib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from sqlalchemy import Engine

from routines.errors import InputFileError

VALUE_COLUMNS = {
    "VL_TOTAL": "total_value",
    "VL_QUOTA": "quota_value",
    "VL_PATRIM_LIQ": "net_assets",
    "CAPTC_DIA": "inflows",
    "RESG_DIA": "redemptions",
}
LAYOUTS = {
    "pre175": {"type": "TP_FUNDO", "cnpj": "CNPJ_FUNDO", "subclass": None},
    "res175": {"type": "TP_FUNDO_CLASSE", "cnpj": "CNPJ_FUNDO_CLASSE", "subclass": "ID_SUBCLASSE"},
}
BATCH = 5000


def file_name(year: int, month: int) -> str:
    return f"inf_diario_fi_{year:04d}{month:02d}.zip"


@dataclass
class FundReport:
    file_name: str
    layout: str
    rows: list[dict[str, object]]
    has_fund_type: bool = True  # False: the file has no type column; stored types are kept

    @property
    def dates(self) -> list[date]:
        return sorted({row["report_date"] for row in self.rows})


UTF8_BOM = b"\xef\xbb\xbf"


def _decode(raw: bytes) -> str:
    """CVM publishes latin-1; a file re-saved with a UTF-8 byte order mark is UTF-8 (the mark is dropped)."""
    if raw.startswith(UTF8_BOM):
        try:
            return raw[len(UTF8_BOM) :].decode("utf-8")
        except UnicodeDecodeError:
            return raw[len(UTF8_BOM) :].decode("latin-1")
    return raw.decode("latin-1")


def _csv_text(data: bytes, name: str) -> tuple[str, str]:
    """(CSV text, name for messages) from a ZIP holding one CSV or a bare CSV."""
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                members = [i for i in archive.infolist() if not i.is_dir()]
                if len(members) != 1:
                    listed = ", ".join(i.filename for i in members) or "nothing"
                    raise InputFileError(name, f"the ZIP must hold exactly one CSV; it holds {listed}")
                raw = archive.read(members[0])
                name = f"{name}[{members[0].filename}]"
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise InputFileError(name, f"corrupt or truncated ZIP archive ({exc})") from exc
    else:
        head = data[:512].lstrip().lower()
        if head.startswith((b"<!doctype", b"<html")):
            raise InputFileError(name, "got an HTML page instead of the CVM file", line=1)
        if name.lower().endswith(".zip"):
            raise InputFileError(name, "not a ZIP archive (corrupt or truncated download)")
        raw = data
    return _decode(raw), name


def _decimal(value: str, name: str, line: int, column: str) -> Decimal | None:
    value = value.strip()
    if not value:
        return None
    try:
        result = Decimal(value)
    except InvalidOperation:
        raise InputFileError(name, f"not a number: {value!r}", line=line, field=column) from None
    if not result.is_finite():
        raise InputFileError(name, f"not a number: {value!r}", line=line, field=column)
    return result


def _check_fits(row: dict[str, object], name: str, line: int, fields: dict[str, str]) -> None:
    """Every value fits its column of `cvm_fund_quotas` exactly (`fields`: table column -> CSV column)."""
    from routines.market.columns import misfit
    from routines.market.models import CvmFundQuota

    columns = CvmFundQuota.__table__.columns
    for column, csv_column in fields.items():
        reason = misfit(columns[column], row[column])
        if reason:
            raise InputFileError(name, f"value does not fit: {reason}", line=line, field=csv_column)


def parse_report(
    source: bytes | str | Path, name: str | None = None, month: tuple[int, int] | None = None
) -> FundReport:
    """Parse an Informe Diário file (ZIP or CSV). `month` (year, month): every row must be of that month."""
    if isinstance(source, bytes):
        data, name = source, name or "<bytes>"
    else:
        data, name = Path(source).read_bytes(), name or Path(source).name
    if not data:
        raise InputFileError(name, "the file is empty", line=1)
    text, name = _csv_text(data, name)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=";")
    try:
        header = [column.strip() for column in next(reader)]
    except StopIteration:
        raise InputFileError(name, "the file is empty", line=1) from None
    layout = "res175" if "CNPJ_FUNDO_CLASSE" in header else "pre175"
    spec = LAYOUTS[layout]
    required = [spec["cnpj"], "DT_COMPTC", *VALUE_COLUMNS, "NR_COTST"] + (
        [spec["subclass"]] if spec["subclass"] else []
    )
    missing = [column for column in required if column not in header]
    if missing:
        raise InputFileError(
            name, f"missing column(s) {', '.join(missing)}; header is {';'.join(header)}", line=1
        )
    index = {column: position for position, column in enumerate(header)}
    has_type = spec["type"] in index
    fields = {  # table column -> CSV column, for the checks of every value against its column
        "fund_cnpj": spec["cnpj"],
        "shareholders": "NR_COTST",
        **{field: column for column, field in VALUE_COLUMNS.items()},
    }
    if spec["subclass"]:
        fields["subclass_id"] = spec["subclass"]
    if has_type:
        fields["fund_type"] = spec["type"]
    rows: list[dict[str, object]] = []
    seen: dict[tuple, int] = {}
    for line_number, values in enumerate(reader, start=2):
        if not values or (len(values) == 1 and not values[0].strip()):
            continue
        if len(values) != len(header):
            raise InputFileError(
                name, f"{len(values)} columns, the header has {len(header)}", line=line_number
            )
        cnpj = values[index[spec["cnpj"]]].strip()
        if not cnpj:
            raise InputFileError(name, "empty fund CNPJ", line=line_number, field=spec["cnpj"])
        raw_date = values[index["DT_COMPTC"]].strip()
        try:
            report_date = date.fromisoformat(raw_date)
        except ValueError:
            raise InputFileError(
                name, f"invalid date {raw_date!r}", line=line_number, field="DT_COMPTC"
            ) from None
        if month is not None and (report_date.year, report_date.month) != month:
            raise InputFileError(
                name,
                f"date {report_date.isoformat()} is outside the file's month {month[0]:04d}-{month[1]:02d}",
                line=line_number,
                field="DT_COMPTC",
            )
        holders = values[index["NR_COTST"]].strip()
        if holders and not holders.isdigit():
            raise InputFileError(name, f"not a whole number: {holders!r}", line=line_number, field="NR_COTST")
        row: dict[str, object] = {
            "fund_cnpj": cnpj,
            "subclass_id": values[index[spec["subclass"]]].strip() if spec["subclass"] else "",
            "fund_type": values[index[spec["type"]]].strip() if has_type else "",
            "report_date": report_date,
            "shareholders": int(holders) if holders else None,
        }
        for column, field in VALUE_COLUMNS.items():
            row[field] = _decimal(values[index[column]], name, line_number, column)
        _check_fits(row, name, line_number, fields)
        key = (row["fund_cnpj"], row["subclass_id"], row["report_date"])
        if key in seen:
            raise InputFileError(
                name,
                f"fund {key[0]} subclass {key[1]!r} on {key[2]} already on line {seen[key]}",
                line=line_number,
                field="DT_COMPTC",
            )
        seen[key] = line_number
        rows.append(row)
    if not rows:
        raise InputFileError(name, "no fund rows after the header: nothing to load for the month", line=2)
    return FundReport(name, layout, rows, has_fund_type=has_type)


STAGE_COLUMNS = (
    "fund_cnpj",
    "subclass_id",
    "fund_type",
    "report_date",
    *VALUE_COLUMNS.values(),
    "shareholders",
)
UPDATED_COLUMNS = ("fund_type", *VALUE_COLUMNS.values(), "shareholders", "source_file", "loaded_at")


def _copy_value(value: object) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    if any(c in text for c in "\\\t\n\r"):
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def upsert_report(report: FundReport, engine: Engine, source_file: str) -> int:
    """Insert or update every row by (fund_cnpj, subclass_id, report_date), in one transaction.

    PostgreSQL: COPY into a temporary table, then one INSERT ... ON CONFLICT DO UPDATE (a month of ~560,000 rows
    in seconds). SQLite: executemany of INSERT ... ON CONFLICT DO UPDATE in one transaction."""
    from routines.database.base import utcnow

    loaded_at = utcnow()
    columns = ", ".join(STAGE_COLUMNS)
    key = "fund_cnpj, subclass_id, report_date"
    updated = [c for c in UPDATED_COLUMNS if report.has_fund_type or c != "fund_type"]
    updates = ", ".join(f"{column} = excluded.{column}" for column in updated)
    with engine.begin() as connection:
        cursor = connection.connection.dbapi_connection.cursor()
        try:
            if engine.dialect.name == "postgresql":
                cursor.execute(
                    "CREATE TEMP TABLE cvm_fund_quotas_stage (fund_cnpj text, subclass_id text, fund_type text, "
                    "report_date date, total_value numeric, quota_value numeric, net_assets numeric, "
                    "inflows numeric, redemptions numeric, shareholders integer) ON COMMIT DROP"
                )
                text = "".join(
                    "\t".join(_copy_value(row[column]) for column in STAGE_COLUMNS) + "\n"
                    for row in report.rows
                )
                cursor.copy_expert(f"COPY cvm_fund_quotas_stage ({columns}) FROM STDIN", io.StringIO(text))
                cursor.execute(
                    f"INSERT INTO cvm_fund_quotas ({columns}, source_file, loaded_at) "
                    f"SELECT {columns}, %s, %s FROM cvm_fund_quotas_stage "
                    f"ON CONFLICT ({key}) DO UPDATE SET {updates}",
                    (source_file, loaded_at),
                )
            else:
                stamp = loaded_at.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
                placeholders = ", ".join("?" for _ in range(len(STAGE_COLUMNS) + 2))
                statement = (
                    f"INSERT INTO cvm_fund_quotas ({columns}, source_file, loaded_at) VALUES ({placeholders}) "
                    f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
                )
                for start in range(0, len(report.rows), BATCH * 10):
                    cursor.executemany(
                        statement,
                        [
                            (
                                *(
                                    format(v, "f")
                                    if isinstance(v, Decimal)
                                    else v.isoformat()
                                    if isinstance(v, date)
                                    else v
                                    for v in (row[column] for column in STAGE_COLUMNS)
                                ),
                                source_file,
                                stamp,
                            )
                            for row in report.rows[start : start + BATCH * 10]
                        ],
                    )
        finally:
            cursor.close()
    return len(report.rows)
