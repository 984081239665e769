"""B3 publication sensor and fallback schedule, evaluated tick by tick."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from routines.defs.market.b3 import b3_cotahist_file, b3_quotes, b3_quotes_job
from routines.defs.market.b3_sensors import b3_fallback_schedule, build_publication_sensor
from routines.defs.market.resources import B3CotahistSite
from routines.lib.resources import BusinessCalendarResource, DatabaseResource, FileStoreResource
from routines_tests.helpers import serve
from routines_tests.market.fixtures import real_zip
from routines_tests.market.servers import FileServer, zip_entry

SP = ZoneInfo("America/Sao_Paulo")


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def _tick(instance, base_url, moment, cursor=None):
    sensor = build_publication_sensor(now=lambda: moment)
    resources = {
        "b3_cotahist_site": B3CotahistSite(base_url=base_url),
        "b3_calendar": BusinessCalendarResource(name="B3"),
    }
    definitions = dg.Definitions(
        assets=[b3_cotahist_file, b3_quotes],
        jobs=[b3_quotes_job],
        sensors=[sensor],
        resources={**resources, "database": DatabaseResource(), "file_store": FileStoreResource()},
    )
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources=resources, definitions=definitions
    )
    return sensor.evaluate_tick(context)


def _cursor_with(*days):
    return json.dumps({"requested": {day: f"{day}:x:y" for day in days}})


def test_requests_the_partition_once_the_file_is_published(instance):
    files: dict = {}
    with serve(FileServer, files=files, requests=[]) as (base_url, server):
        cursor = _cursor_with("2021-06-24")
        before = _tick(instance, base_url, datetime(2021, 6, 25, 17, 0, tzinfo=SP), cursor)
        assert before.run_requests == [] and "começa às 18:30" in before.skip_message
        assert server.requests == []  # nothing asked before the start time

        waiting = _tick(instance, base_url, datetime(2021, 6, 25, 19, 0, tzinfo=SP), cursor)
        assert (
            waiting.run_requests == []
            and "COTAHIST_D25062021.ZIP ainda não publicado" in waiting.skip_message
        )
        assert server.requests == [("HEAD", "/COTAHIST_D25062021.ZIP")]

        body = real_zip()
        files["COTAHIST_D25062021.ZIP"] = zip_entry(body)
        published = _tick(instance, base_url, datetime(2021, 6, 25, 19, 5, tzinfo=SP), waiting.cursor)
        (request,) = published.run_requests
        assert request.partition_key == "2021-06-25"
        assert request.run_key == f"2021-06-25:COTAHIST_D25062021.ZIP:{len(body)}"
        assert all(method == "HEAD" for method, _ in server.requests)  # cheap checks only

        again = _tick(instance, base_url, datetime(2021, 6, 25, 19, 10, tzinfo=SP), published.cursor)
        assert again.run_requests == [] and "sem alteração" in again.skip_message

        files["COTAHIST_D25062021.ZIP"] = zip_entry(body + b"\0")  # re-published with other content
        changed = _tick(instance, base_url, datetime(2021, 6, 25, 19, 15, tzinfo=SP), again.cursor)
        (request,) = changed.run_requests
        assert request.run_key == f"2021-06-25:COTAHIST_D25062021.ZIP:{len(body) + 1}"

        after_deadline = _tick(instance, base_url, datetime(2021, 6, 25, 23, 30, tzinfo=SP), changed.cursor)
        assert after_deadline.run_requests == [] and "já carregado" in after_deadline.skip_message


def test_reports_the_day_late_past_the_deadline(instance):
    with serve(FileServer, files={}, requests=[]) as (base_url, _):
        result = _tick(
            instance, base_url, datetime(2021, 6, 25, 23, 5, tzinfo=SP), _cursor_with("2021-06-24")
        )
    assert result.run_requests == []
    assert "ATRASADO: COTAHIST_D25062021.ZIP (pregão de 25/06/2021)" in result.skip_message


def test_non_business_day_names_the_holiday_and_catches_up_the_previous_session(instance):
    files = {"COTAHIST_D02062021.ZIP": zip_entry(b"PK\x03\x04fake")}
    with serve(FileServer, files=files, requests=[]) as (base_url, server):
        # Corpus Christi 2021-06-03: B3 closed; the previous session (06-02) was never requested.
        result = _tick(instance, base_url, datetime(2021, 6, 3, 20, 0, tzinfo=SP))
        (request,) = result.run_requests
        assert request.partition_key == "2021-06-02"
        assert server.requests == [("HEAD", "/COTAHIST_D02062021.ZIP")]
        quiet = _tick(instance, base_url, datetime(2021, 6, 3, 20, 5, tzinfo=SP), result.cursor)
    assert quiet.run_requests == []
    assert "B3 fechada (Corpus Christi)" in quiet.skip_message


def test_fallback_schedule_loads_the_previous_session_on_business_days():
    definitions = dg.Definitions(
        assets=[b3_cotahist_file, b3_quotes],
        jobs=[b3_quotes_job],
        schedules=[b3_fallback_schedule],
        resources={
            "b3_cotahist_site": B3CotahistSite(),
            "b3_calendar": BusinessCalendarResource(name="B3"),
            "database": DatabaseResource(),
            "file_store": FileStoreResource(),
        },
    )
    repository = definitions.get_repository_def()
    with dg.instance_for_test() as instance:
        with dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=datetime(2021, 6, 28, 8, 0, tzinfo=SP),
            repository_def=repository,
        ) as monday:
            (request,) = b3_fallback_schedule.evaluate_tick(monday).run_requests
        assert request.partition_key == "2021-06-25"
        with dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=datetime(2021, 6, 3, 8, 0, tzinfo=SP),
            repository_def=repository,
        ) as holiday:
            data = b3_fallback_schedule.evaluate_tick(holiday)
        assert data.run_requests == [] and "Corpus Christi" in data.skip_message
