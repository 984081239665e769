"""CVM Informe Diário: both layouts, exact decimals, upsert, the monthly asset and its open-months schedule."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
from sqlalchemy import func, select

from routines.database.engine import get_engine, session_scope
from routines.defs.market.cvm import (
    cvm_fund_quotas,
    cvm_fund_quotas_job,
    cvm_open_months_schedule,
    open_months,
)
from routines.defs.market.resources import CvmFundsSite
from routines.errors import InputFileError
from routines.lib.resources import BusinessCalendarResource, DatabaseResource, FileStoreResource
from routines.market.cvm import parse_report, upsert_report
from routines.market.models import CvmFundQuota
from routines_tests.helpers import serve, shared_data
from routines_tests.market.fixtures import zip_bytes
from routines_tests.market.servers import FileServer, zip_entry

SP = ZoneInfo("America/Sao_Paulo")


def _month_csv(relative: str, prefix: str) -> bytes:
    """Header + the rows of one month of a shared CVM sample, as CVM ships them (latin-1 bytes)."""
    lines = Path(shared_data(relative)).read_text(encoding="latin-1").splitlines()
    rows = [line for line in lines[1:] if prefix in line]
    return ("\r\n".join([lines[0], *rows]) + "\r\n").encode("latin-1")


def pre175_jan_2023() -> bytes:
    return _month_csv("cvm/inf_diario_fi_2023_2024_rows_pre175.csv", ";2023-01-")


def res175_jan_2025() -> bytes:
    return _month_csv("cvm/inf_diario_fi_202501_rows.csv", ";2025-01-")


def test_both_layouts_parse_with_exact_decimals():
    old = parse_report(
        zip_bytes({"inf_diario_fi_202301.csv": pre175_jan_2023()}), "inf_diario_fi_202301.zip", (2023, 1)
    )
    assert old.layout == "pre175" and len(old.rows) == 10
    first = old.rows[0]
    assert first == {
        "fund_cnpj": "00.017.024/0001-53",
        "subclass_id": "",
        "fund_type": "FI",
        "report_date": date(2023, 1, 2),
        "shareholders": 1,
        "total_value": Decimal("1101835.91"),
        "quota_value": Decimal("30.974427"),
        "net_assets": Decimal("1104834.84"),
        "inflows": Decimal("0.0"),
        "redemptions": Decimal("0.0"),
    }
    new = parse_report(res175_jan_2025(), "inf_diario_fi_202501.csv", (2025, 1))
    assert new.layout == "res175" and new.rows[0]["fund_cnpj"] == "00.017.024/0001-53"
    assert new.rows[0]["quota_value"] == Decimal("37.228814") and new.rows[0]["subclass_id"] == ""


def test_bad_rows_name_line_and_column():
    data = pre175_jan_2023().replace(b"30.974427", b"30,97X", 1)
    with pytest.raises(InputFileError, match=r"line 2, field VL_QUOTA"):
        parse_report(data, "f.csv")
    with pytest.raises(InputFileError, match=r"line 2, field DT_COMPTC: date 2023-01-02 is outside"):
        parse_report(pre175_jan_2023(), "f.csv", (2023, 2))
    with pytest.raises(InputFileError, match="missing column"):
        parse_report(b"A;B\r\n1;2\r\n", "f.csv")
    with pytest.raises(InputFileError, match="HTML page"):
        parse_report(b"<!DOCTYPE html><html></html>", "f.zip")


def test_a_value_that_does_not_fit_its_column_is_refused_never_rounded(engine):
    """PostgreSQL NUMERIC(30, 12) would round 37.2288991234567891 to 37.228899123457 (SQLite kept every digit):
    the parser refuses it naming line and field; what fits is stored with every digit on both databases."""
    longest = res175_jan_2025().replace(b"37.228814", b"123456789012345678.123456789012", 1)
    longest = longest.replace(b"1154771.86", b"9999999999999999999999.99", 1)
    upsert_report(parse_report(longest, "a.csv", (2025, 1)), engine, "a.csv")
    with session_scope(engine) as session:
        first = session.execute(
            select(CvmFundQuota).where(CvmFundQuota.report_date == date(2025, 1, 2))
        ).scalar_one()
    assert first.quota_value == Decimal("123456789012345678.123456789012")
    assert first.total_value == Decimal("9999999999999999999999.99")
    cases = {
        b"37.2288991234567891": ("VL_QUOTA", "16 decimal places; the column keeps 12"),
        b"1234567890123456789.5": ("VL_QUOTA", "19 digits before the decimal point; the column holds 18"),
    }
    for value, (field, reason) in cases.items():
        data = res175_jan_2025().replace(b"37.247108", value, 1)
        with pytest.raises(InputFileError, match=rf"line 3, field {field}: value does not fit: .*{reason}"):
            parse_report(data, "b.csv", (2025, 1))
    money = res175_jan_2025().replace(b"1152256.93", b"1152256.935", 1)
    with pytest.raises(InputFileError, match=r"line 3, field VL_PATRIM_LIQ: .*3 decimal places"):
        parse_report(money, "b.csv", (2025, 1))
    holders = res175_jan_2025().replace(b";0.0;0.0;1\r\n", b";0.0;0.0;3000000000\r\n", 1)
    with pytest.raises(InputFileError, match=r"line 2, field NR_COTST: .*outside the column's range"):
        parse_report(holders, "b.csv", (2025, 1))
    with session_scope(engine) as session:  # nothing of the refused files was written
        assert session.scalar(select(func.count()).select_from(CvmFundQuota)) == 3


@pytest.mark.parametrize("layout", ["pre175", "res175"])
def test_a_utf8_byte_order_mark_is_read_in_both_layouts_and_keeps_the_fund_type(layout, engine):
    data = pre175_jan_2023() if layout == "pre175" else res175_jan_2025()
    month = (2023, 1) if layout == "pre175" else (2025, 1)
    upsert_report(parse_report(data, "plain.csv", month), engine, "plain.csv")
    report = parse_report(zip_bytes({"f.csv": b"\xef\xbb\xbf" + data}), "f.zip", month)
    assert report.layout == layout and {row["fund_type"] for row in report.rows} == {"FI"}
    upsert_report(report, engine, "bom.csv")
    with session_scope(engine) as session:
        types = set(session.scalars(select(CvmFundQuota.fund_type)))
        sources = set(session.scalars(select(CvmFundQuota.source_file)))
    assert (types, sources) == ({"FI"}, {"bom.csv"})
    # A file without the type column (older layouts) updates the figures and keeps the stored type.
    column = b"TP_FUNDO;" if layout == "pre175" else b"TP_FUNDO_CLASSE;"
    lines = data.split(b"\r\n")
    untyped = b"\r\n".join([lines[0].replace(column, b"")] + [line.split(b";", 1)[-1] for line in lines[1:]])
    report = parse_report(untyped, "untyped.csv", month)
    assert not report.has_fund_type
    upsert_report(report, engine, "untyped.csv")
    with session_scope(engine) as session:
        assert set(session.scalars(select(CvmFundQuota.fund_type))) == {"FI"}
        assert set(session.scalars(select(CvmFundQuota.source_file))) == {"untyped.csv"}


def test_every_error_names_its_line_and_an_empty_month_is_refused():
    data = res175_jan_2025()
    lines = data.split(b"\r\n")
    repeated = data + lines[2] + b"\r\n"  # line 5 repeats line 3
    with pytest.raises(InputFileError, match=r"line 5, field DT_COMPTC: .*2025-01-03 already on line 3"):
        parse_report(repeated, "f.csv", (2025, 1))
    with pytest.raises(InputFileError, match=r"line 2: no fund rows after the header"):
        parse_report(lines[0] + b"\r\n", "f.csv", (2025, 1))
    with pytest.raises(InputFileError, match=r"f.csv, line 1: the file is empty"):
        parse_report(b"", "f.csv", (2025, 1))


def test_upsert_by_fund_subclass_and_date(engine):
    # A subclass of the same fund class on the same day is a row of its own.
    data = (
        res175_jan_2025()
        + b"FI;00.017.024/0001-53;SUB\\01;2025-01-02;10.00;1.123456789012;10.00;0.0;0.0;7\r\n"
    )
    report = parse_report(data, "a.csv", (2025, 1))
    assert upsert_report(report, engine, "a.csv") == len(report.rows) == 4
    revised = res175_jan_2025().replace(b"37.228814", b"37.228815")
    upsert_report(parse_report(revised, "b.csv", (2025, 1)), engine, "b.csv")
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(CvmFundQuota)) == 4
        row = session.execute(
            select(CvmFundQuota).where(
                CvmFundQuota.report_date == date(2025, 1, 2), CvmFundQuota.subclass_id == ""
            )
        ).scalar_one()
        assert (row.quota_value, row.source_file) == (Decimal("37.228815"), "b.csv")
        sub = session.execute(select(CvmFundQuota).where(CvmFundQuota.subclass_id == "SUB\\01")).scalar_one()
        assert (sub.quota_value, sub.shareholders, sub.source_file) == (Decimal("1.123456789012"), 7, "a.csv")


def test_monthly_asset_downloads_and_upserts_both_layouts(db_url, tmp_path):
    files = {
        "inf_diario_fi_202301.zip": zip_entry(zip_bytes({"inf_diario_fi_202301.csv": pre175_jan_2023()})),
        "inf_diario_fi_202501.zip": zip_entry(zip_bytes({"inf_diario_fi_202501.csv": res175_jan_2025()})),
    }
    with serve(FileServer, files=files, requests=[]) as (base_url, server):
        resources = {
            "cvm_funds_site": CvmFundsSite(base_url=base_url),
            "database": DatabaseResource(url=db_url),
            "file_store": FileStoreResource(root=str(tmp_path / "store")),
        }
        for key in ("2023-01-01", "2025-01-01", "2025-01-01"):
            result = dg.materialize([cvm_fund_quotas], resources=resources, partition_key=key)
            assert result.success
    metadata = result.asset_materializations_for_node("cvm_fund_quotas")[0].metadata
    assert metadata["layout"].value == "res175" and metadata["dagster/row_count"].value == 3
    assert metadata["source_url"].value == f"{base_url}/inf_diario_fi_202501.zip"
    with session_scope(get_engine(db_url)) as session:
        dates = session.scalars(select(CvmFundQuota.report_date)).all()
    assert len(dates) == 13  # 10 of Jan 2023 + 3 of Jan 2025 (loaded twice: upserted, not doubled)
    assert {(d.year, d.month) for d in dates} == {(2023, 1), (2025, 1)}
    assert ("GET", "/inf_diario_fi_202301.zip") in server.requests


def test_schedule_refreshes_both_open_months_on_anbima_business_days():
    assert open_months(date(2025, 1, 15)) == ["2024-12-01", "2025-01-01"]
    definitions = dg.Definitions(
        assets=[cvm_fund_quotas],
        jobs=[cvm_fund_quotas_job],
        schedules=[cvm_open_months_schedule],
        resources={
            "anbima_calendar": BusinessCalendarResource(name="ANBIMA"),
            "cvm_funds_site": CvmFundsSite(),
            "database": DatabaseResource(),
            "file_store": FileStoreResource(),
        },
    )
    repository = definitions.get_repository_def()
    with dg.instance_for_test() as instance:
        with dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=datetime(2025, 1, 15, 9, 30, tzinfo=SP),
            repository_def=repository,
            resources={"anbima_calendar": BusinessCalendarResource(name="ANBIMA")},
        ) as context:
            requests = cvm_open_months_schedule.evaluate_tick(context).run_requests
        assert [(r.partition_key, r.run_key) for r in requests] == [
            ("2024-12-01", "2025-01-15:2024-12-01"),
            ("2025-01-01", "2025-01-15:2025-01-01"),
        ]
        with dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=datetime(2025, 3, 4, 9, 30, tzinfo=SP),
            repository_def=repository,
            resources={"anbima_calendar": BusinessCalendarResource(name="ANBIMA")},
        ) as holiday:
            data = cvm_open_months_schedule.evaluate_tick(holiday)
        assert data.run_requests == [] and "Carnaval" in data.skip_message
