"""B3 assets materialized against a loopback server fed with ZIPs built from the real COTAHIST file."""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal

import dagster as dg
import pytest
from sqlalchemy import select

from routines.calendar import get_calendar
from routines.defs.market.b3 import (
    CHECK_PRICES,
    CHECK_ROW_COUNT,
    CHECK_TRAILER,
    CHECK_UNIQUE,
    b3_cotahist_file,
    b3_quotes,
)
from routines.defs.market.resources import B3CotahistSite
from routines.files import FileStore
from routines.http import RetryableHttpError
from routines.lib.resources import (
    EXTERNAL_RETRY_POLICY,
    BusinessCalendarResource,
    DatabaseResource,
    FileStoreResource,
)
from routines.market.b3_files import PlannedFile, download_and_store, plan_downloads
from routines.market.b3_load import count_rows
from routines.market.models import B3Quote
from routines_tests.helpers import serve
from routines_tests.market.fixtures import (
    REAL_DAY,
    build_txt,
    quote,
    real_txt,
    real_zip,
    sample_quotes,
    zip_bytes,
)
from routines_tests.market.servers import FileServer, zip_entry

DAILY = "COTAHIST_D25062021.ZIP"


def _resources(db_url, store_root, base_url):
    return {
        "database": DatabaseResource(url=db_url),
        "file_store": FileStoreResource(root=str(store_root)),
        "b3_cotahist_site": B3CotahistSite(base_url=base_url),
        "b3_calendar": BusinessCalendarResource(name="B3"),
    }


def _materialize(db_url, store_root, base_url, **kwargs):
    return dg.materialize(
        [b3_cotahist_file, b3_quotes],
        resources=_resources(db_url, store_root, base_url),
        raise_on_error=False,
        **kwargs,
    )


def test_daily_partition_downloads_checks_stores_and_loads(db_url, tmp_path):
    body = real_zip()
    with serve(FileServer, files={DAILY: zip_entry(body)}, requests=[]) as (base_url, server):
        result = _materialize(db_url, tmp_path / "store", base_url, partition_key="2021-06-25")
    assert result.success, result.all_events
    assert server.requests == [("GET", f"/{DAILY}")]
    store = FileStore(tmp_path / "store")
    stored = store.describe(f"market/b3/2021/06/25/{DAILY}")
    assert stored.sha256 == hashlib.sha256(body).hexdigest() and stored.size == len(body)
    file_meta = result.asset_materializations_for_node("b3_cotahist_file")[0].metadata
    assert file_meta["sha256"].value == stored.sha256
    assert file_meta["source_url"].value == f"{base_url}/{DAILY}"
    assert file_meta["size_bytes"].value == len(body)
    quotes_meta = result.asset_materializations_for_node("b3_quotes")[0].metadata
    assert quotes_meta["dagster/row_count"].value == 7518
    assert "VALE3" in quotes_meta["preview"].value
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert {
        name: checks[name].passed for name in (CHECK_TRAILER, CHECK_UNIQUE, CHECK_PRICES, CHECK_ROW_COUNT)
    } == {
        CHECK_TRAILER: True,
        CHECK_UNIQUE: True,
        CHECK_PRICES: True,
        CHECK_ROW_COUNT: True,
    }
    from routines.database.engine import get_engine, session_scope

    engine = get_engine(db_url)
    with session_scope(engine) as session:
        petr4 = session.execute(select(B3Quote).where(B3Quote.ticker == "PETR4")).scalar_one()
        assert (petr4.open, petr4.close, petr4.volume) == (
            Decimal("29.69"),
            Decimal("29.10"),
            Decimal("2498432530.00"),
        )
    # Again: same table (idempotent).
    with serve(FileServer, files={DAILY: zip_entry(body)}, requests=[]) as (base_url, _):
        assert _materialize(db_url, tmp_path / "store", base_url, partition_key="2021-06-25").success
    assert count_rows(engine, REAL_DAY) == 7518


def _bad_cases() -> dict[str, tuple[tuple[int, bytes, str], str]]:
    txt = real_txt()
    lines = txt.split(b"\r\n")
    short = b"\r\n".join([*lines[:10], lines[10][:-3], *lines[11:]])
    letters = bytearray(txt)
    start = 247 * 41 + 56  # line 42, PREABE
    letters[start : start + 3] = b"ABC"
    wrong_count = txt.replace(b"00000007520", b"00000007521")
    other_day = build_txt(date(2021, 6, 24), sample_quotes(date(2021, 6, 24)))
    twice = sample_quotes(REAL_DAY)
    twice.append(twice[2])
    stray = [*sample_quotes(REAL_DAY), quote(date(2021, 6, 24), "STRAY3")]
    body = real_zip()
    return {
        "html": ((200, b"<!DOCTYPE html><html><body>Erro</body></html>", "text/html"), "HTML page"),
        "truncated": (zip_entry(body[: len(body) // 3]), "corrupt or truncated ZIP"),
        "short record": (zip_entry(zip_bytes({"COTAHIST_D25062021.TXT": short})), "line 11: record has 242"),
        "letters": (
            zip_entry(zip_bytes({"COTAHIST_D25062021.TXT": bytes(letters)})),
            "line 42, field PREABE",
        ),
        "trailer": (zip_entry(zip_bytes({"COTAHIST_D25062021.TXT": wrong_count})), "line 7520, field TOTREG"),
        "header date": (zip_entry(zip_bytes({"COTAHIST_D25062021.TXT": other_day})), "line 1, field DATGER"),
        "no quotes": (
            zip_entry(zip_bytes({"COTAHIST_D25062021.TXT": build_txt(REAL_DAY, [])})),
            "line 2, field TIPREG: no quote record",
        ),
        "stray day": (
            zip_entry(zip_bytes({"COTAHIST_D25062021.TXT": build_txt(REAL_DAY, stray)})),
            "line 7, field DATPRE: trade date 2021-06-24 differs",
        ),
        "duplicate": (
            zip_entry(zip_bytes({"COTAHIST_D25062021.TXT": build_txt(REAL_DAY, twice)})),
            "line 7, field CODNEG: same natural key as line 4",
        ),
    }


BAD_CASES = [
    "html",
    "truncated",
    "short record",
    "letters",
    "trailer",
    "header date",
    "no quotes",
    "stray day",
    "duplicate",
]


def test_every_bad_case_is_exercised():
    assert sorted(_bad_cases()) == sorted(BAD_CASES)


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_files_fail_at_once_naming_line_and_field_and_leave_the_table(case, sqlite_db_url, tmp_path):
    from routines.database.engine import get_engine

    engine = get_engine(sqlite_db_url)
    with serve(FileServer, files={DAILY: zip_entry(real_zip())}, requests=[]) as (base_url, _):
        assert _materialize(sqlite_db_url, tmp_path / "store", base_url, partition_key="2021-06-25").success
    entry, expected = _bad_cases()[case]
    with serve(FileServer, files={DAILY: entry}, requests=[]) as (base_url, server):
        result = _materialize(sqlite_db_url, tmp_path / "store2", base_url, partition_key="2021-06-25")
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.event_specific_data.error.message
    assert expected in message and "COTAHIST_D25062021" in message
    assert len(server.requests) == 1  # no retry for a bad file
    assert count_rows(engine, REAL_DAY) == 7518  # the previous load is intact
    assert not (tmp_path / "store2" / "market/b3/2021/06/25" / DAILY).exists()  # nothing stored


def test_not_published_and_server_errors_are_retryable(tmp_path):
    assert b3_cotahist_file.op.retry_policy == EXTERNAL_RETRY_POLICY
    planned = PlannedFile("daily", DAILY, (REAL_DAY,))
    store = FileStore(tmp_path)
    with serve(FileServer, files={"OTHER.ZIP": (503, b"busy", "text/plain")}, requests=[]) as (base_url, _):
        client = B3CotahistSite(base_url=base_url).client()
        with pytest.raises(RetryableHttpError) as info:
            download_and_store(client, planned, store)
        assert info.value.status == 404
        planned_other = PlannedFile("daily", "OTHER.ZIP", (REAL_DAY,))
        with pytest.raises(RetryableHttpError) as info:
            download_and_store(client, planned_other, store)
        assert info.value.status == 503


def test_plan_uses_monthly_and_yearly_files_for_whole_past_periods():
    calendar = get_calendar("B3")
    june = calendar.business_days_of_month(2021, 6)
    year = calendar.business_days_of_year(2020)
    plan = plan_downloads([*year, *june, date(2021, 7, 1)], calendar, today=date(2021, 7, 2))
    assert [(p.kind, p.name, len(p.days)) for p in plan] == [
        ("yearly", "COTAHIST_A2020.ZIP", len(year)),
        ("monthly", "COTAHIST_M062021.ZIP", len(june)),
        ("daily", "COTAHIST_D01072021.ZIP", 1),
    ]
    partial = plan_downloads(june[:3], calendar, today=date(2021, 7, 2))
    assert [p.name for p in partial] == [
        "COTAHIST_D01062021.ZIP",
        "COTAHIST_D02062021.ZIP",
        "COTAHIST_D04062021.ZIP",
    ]
    current = plan_downloads(june, calendar, today=date(2021, 6, 30))  # the month is not over: daily files
    assert {p.kind for p in current} == {"daily"}


@pytest.mark.parametrize("period", ["month", "year"])
def test_backfill_of_a_whole_past_period_downloads_its_file_once(period, sqlite_db_url, tmp_path):
    calendar = get_calendar("B3")
    if period == "month":
        sessions, name, key = calendar.business_days_of_month(2021, 6), "COTAHIST_M062021", "2021/06"
    else:
        sessions, name, key = calendar.business_days_of_year(2020), "COTAHIST_A2020", "2020"
    quotes = [q for day in sessions for q in sample_quotes(day)]
    archive = zip_bytes({f"{name}.TXT": build_txt(sessions[-1], quotes)})
    tags = {
        "dagster/asset_partition_range_start": sessions[0].isoformat(),
        "dagster/asset_partition_range_end": sessions[-1].isoformat(),
    }
    with serve(FileServer, files={f"{name}.ZIP": zip_entry(archive)}, requests=[]) as (base_url, server):
        result = _materialize(sqlite_db_url, tmp_path / "store", base_url, tags=tags)
    assert result.success, [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert server.requests == [("GET", f"/{name}.ZIP")]  # one run, one download
    from routines.database.engine import get_engine

    engine = get_engine(sqlite_db_url)
    assert [count_rows(engine, day) for day in sessions] == [5] * len(sessions)
    materialized = {m.partition for m in result.asset_materializations_for_node("b3_quotes")}
    assert materialized == {day.isoformat() for day in sessions}
    assert (tmp_path / f"store/market/b3/{key}/{name}.ZIP").exists()


def test_checks_flag_prices_out_of_range_and_a_row_drop(sqlite_db_url, tmp_path):
    before, day = date(2021, 6, 24), REAL_DAY
    sample = sample_quotes(day)
    bad_prices = sample[0][:56] + "0000000001000" + "0000000000900" + sample[0][82:]  # open 10.00 > high 9.00
    more = [quote(before, f"MAIS{i}") for i in range(6)]
    files = {
        "COTAHIST_D24062021.ZIP": zip_entry(
            zip_bytes({"COTAHIST_D24062021.TXT": build_txt(before, sample_quotes(before) + more)})
        ),
        "COTAHIST_D25062021.ZIP": zip_entry(
            zip_bytes({"COTAHIST_D25062021.TXT": build_txt(day, [bad_prices, sample[1], sample[2]])})
        ),
    }
    with serve(FileServer, files=files, requests=[]) as (base_url, _):
        first = _materialize(sqlite_db_url, tmp_path / "store", base_url, partition_key="2021-06-24")
        result = _materialize(sqlite_db_url, tmp_path / "store", base_url, partition_key="2021-06-25")
    assert first.success and result.success  # checks report; they do not block the load
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks[CHECK_TRAILER].passed
    # Duplicate keys are refused in the file (see the bad cases); the check guards the table itself.
    assert checks[CHECK_UNIQUE].passed and checks[CHECK_UNIQUE].metadata["duplicate_keys"].value == 0
    assert not checks[CHECK_PRICES].passed and checks[CHECK_PRICES].metadata["rows_out_of_order"].value == 1
    row_count = checks[CHECK_ROW_COUNT]
    assert not row_count.passed and row_count.severity == dg.AssetCheckSeverity.WARN
    assert (row_count.metadata["rows"].value, row_count.metadata["previous_rows"].value) == (3, 11)


def test_unique_key_check_finds_duplicates_written_behind_the_loader(engine):
    from sqlalchemy import insert

    from routines.market.b3_load import duplicate_keys, load_cotahist

    load_cotahist(build_txt(REAL_DAY, sample_quotes(REAL_DAY)), engine, expected_date=REAL_DAY)
    assert duplicate_keys(engine, [REAL_DAY]) == (0, [])
    with engine.begin() as connection:
        row = connection.execute(select(B3Quote.__table__).where(B3Quote.ticker == "AAAA3")).mappings().one()
        connection.execute(insert(B3Quote.__table__), [dict(row)])
    count, groups = duplicate_keys(engine, [REAL_DAY])
    assert count == 1 and groups[0][1] == "AAAA3"


def test_each_partition_of_a_multi_day_run_carries_its_own_count_and_preview(sqlite_db_url, tmp_path):
    """One run for three sessions (BackfillPolicy.single_run): each partition's materialization, read back from a
    real instance, has its own row count and a preview of its own day, labelled with the day."""
    days = [date(2021, 6, 23), date(2021, 6, 24), REAL_DAY]
    files = {}
    for count, day in enumerate(days, start=1):
        quotes = [quote(day, f"D{day.day}X{i}", volume=1000 * (i + 1)) for i in range(count * 2)]
        name = f"COTAHIST_D{day:%d%m%Y}"
        files[f"{name}.ZIP"] = zip_entry(zip_bytes({f"{name}.TXT": build_txt(day, quotes)}))
    tags = {
        "dagster/asset_partition_range_start": days[0].isoformat(),
        "dagster/asset_partition_range_end": days[-1].isoformat(),
    }
    with dg.instance_for_test() as instance:
        with serve(FileServer, files=files, requests=[]) as (base_url, _):
            result = _materialize(sqlite_db_url, tmp_path / "store", base_url, tags=tags, instance=instance)
        assert result.success, [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        assert len(instance.get_runs()) == 1
        for asset in ("b3_quotes", "b3_cotahist_file"):
            records = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset)), limit=10
            ).records
            by_partition = {
                r.asset_materialization.partition: r.asset_materialization.metadata for r in records
            }
            assert sorted(by_partition) == [day.isoformat() for day in days]
            for count, day in enumerate(days, start=1):
                metadata = by_partition[day.isoformat()]
                assert metadata["session"].value == day.isoformat()
                assert metadata["dagster/row_count"].value == count * 2
                assert metadata["file"].value.startswith(f"COTAHIST_D{day:%d%m%Y}")
                if asset == "b3_quotes":
                    preview = metadata["preview"].value
                    assert preview.startswith(f"**Pregão de {day:%d/%m/%Y}**")
                    tickers = {line.split("|")[1].strip() for line in preview.splitlines() if "| D" in line}
                    assert tickers == {f"D{day.day}X{i}" for i in range(count * 2)}


@pytest.mark.parametrize("failures", [[404], [503, 502], ["slow"]], ids=["not-published", "5xx", "timeout"])
def test_retryable_failures_are_retried_then_the_load_succeeds(failures, sqlite_db_url, tmp_path):
    from routines.defs.market.b3 import build_b3_cotahist_file
    from routines_tests.market.servers import FlakyFileServer

    quick = build_b3_cotahist_file(dg.RetryPolicy(max_retries=3, delay=0))  # same asset, no waiting
    files = {DAILY: zip_entry(real_zip())}
    with serve(FlakyFileServer, files=files, requests=[], failures=list(failures), slow_seconds=2.0) as (
        base_url,
        server,
    ):
        resources = _resources(sqlite_db_url, tmp_path / "store", base_url)
        resources["b3_cotahist_site"] = B3CotahistSite(base_url=base_url, read_timeout_seconds=0.5)
        result = dg.materialize([quick, b3_quotes], resources=resources, partition_key="2021-06-25")
    assert result.success
    assert len(server.requests) == len(failures) + 1
    retries = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert len(retries) == len(failures)
    from routines.database.engine import get_engine

    assert count_rows(get_engine(sqlite_db_url), REAL_DAY) == 7518
