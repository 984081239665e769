"""The Dagster glue of appointments: the job, the hourly schedule (cron from the environment) and the on-save
sensor (updated_at cursor, run key = the batch's ids), on SQLite and PostgreSQL."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
from sqlalchemy import func, select, update

from routines.appointments.models import Appointment, Attendance
from routines.appointments.service import batch_run_key
from routines.database.engine import session_scope
from routines.defs.appointments import closing
from routines.errors import UserError
from routines.lib.resources import DatabaseResource
from routines_tests.appointments.conftest import book


def _tick(db_url, cursor):
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(
            instance=instance, cursor=cursor, resources={"database": DatabaseResource(url=db_url)}
        )
        return closing.appointments_saved_sensor(context)


def _run(db_url, run_config=None):
    with dg.instance_for_test() as instance:
        return closing.close_past_appointments_job.execute_in_process(
            run_config=run_config or {},
            resources={"database": DatabaseResource(url=db_url)},
            instance=instance,
        )


def test_saved_past_appointments_are_requested_by_id_and_closed_by_the_run(engine, company_id, db_url):
    now = datetime.now(UTC)
    cursor_time = now - timedelta(minutes=30)
    # saved long before the cursor (beyond the overlap): the hourly schedule's business, not the sensor's
    stale = book(engine, company_id, now - timedelta(days=2), updated_at=now - timedelta(hours=2))
    saved_past = book(engine, company_id, now - timedelta(hours=1), updated_at=now - timedelta(minutes=1))
    moved_to_past = book(engine, company_id, now + timedelta(days=3), updated_at=now - timedelta(minutes=20))
    future = book(engine, company_id, now + timedelta(days=1), updated_at=now - timedelta(minutes=1))
    # the application moves an appointment to the past (an update with a new updated_at)
    with engine.begin() as connection:
        connection.execute(
            update(Appointment)
            .where(Appointment.id == moved_to_past)
            .values(scheduled_at=now - timedelta(minutes=5), updated_at=now - timedelta(seconds=10))
        )

    result = _tick(db_url, cursor_time.isoformat())
    assert len(result.run_requests) == 1
    request = result.run_requests[0]
    expected = sorted([saved_past, moved_to_past])
    assert request.run_key == batch_run_key(expected) == f"appointments:{expected[0]},{expected[1]}"
    assert request.run_config["ops"]["close_past_appointments"]["config"]["appointment_ids"] == expected
    assert datetime.fromisoformat(result.cursor) > cursor_time

    run = _run(db_url, request.run_config)
    assert run.success
    output = [e for e in run.all_events if e.event_type_value == "STEP_OUTPUT"][0]
    assert output.event_specific_data.metadata["closed"].value == 2
    with session_scope(engine) as session:
        closed = set(session.scalars(select(Attendance.appointment_id)))
        active = set(session.scalars(select(Appointment.id).where(Appointment.active.is_(True))))
    assert closed == set(expected)
    assert active == {stale, future}

    # next tick: the closed ones are inactive, nothing new was saved -> nothing requested
    again = _tick(db_url, result.cursor)
    assert again.run_requests == [] and "nenhum agendamento" in again.skip_reason.skip_message


def test_first_tick_without_cursor_takes_every_saved_past_appointment(engine, company_id, db_url):
    now = datetime.now(UTC)
    ids = [
        book(engine, company_id, now - timedelta(days=n + 1), updated_at=now - timedelta(days=n + 1))
        for n in range(3)
    ]
    result = _tick(db_url, None)
    assert [r.run_key for r in result.run_requests] == [batch_run_key(ids)]


def test_a_long_batch_has_a_compact_run_key():
    ids = list(range(1, 1001))
    key = batch_run_key(ids)
    assert key.startswith("appointments:1..1000:1000:") and len(key) < 100
    assert batch_run_key(reversed(ids)) == key and batch_run_key(ids[:-1]) != key


def test_the_job_without_ids_closes_every_due_appointment(engine, company_id, db_url):
    now = datetime.now(UTC)
    for n in range(5):
        book(engine, company_id, now - timedelta(hours=n + 1))
    book(engine, company_id, now + timedelta(hours=1))
    assert _run(db_url).success
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(Attendance)) == 5
    assert _run(db_url).success  # twice: nothing more
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(Attendance)) == 5


def test_hourly_schedule_and_its_cron_from_the_environment(monkeypatch):
    monkeypatch.delenv(closing.CRON_ENV, raising=False)
    schedule = closing.build_close_schedule()
    assert schedule.cron_schedule == "0 * * * *" and schedule.execution_timezone == "America/Sao_Paulo"
    moment = datetime(2025, 6, 10, 14, 0, tzinfo=UTC)
    with dg.build_schedule_context(scheduled_execution_time=moment) as context:
        requests = schedule.evaluate_tick(context).run_requests
    assert [r.run_key for r in requests] == [moment.isoformat()]
    monkeypatch.setenv(closing.CRON_ENV, "*/15 7-19 * * 1-5")
    assert closing.build_close_schedule().cron_schedule == "*/15 7-19 * * 1-5"
    monkeypatch.setenv(closing.CRON_ENV, "every hour")
    with pytest.raises(UserError, match="ROUTINES_APPOINTMENTS_CLOSE_CRON"):
        closing.build_close_schedule()


def test_sensor_interval_from_the_environment(monkeypatch):
    monkeypatch.setenv(closing.INTERVAL_ENV, "30")
    module = importlib.reload(closing)
    try:
        assert module.appointments_saved_sensor.minimum_interval_seconds == 30
    finally:
        monkeypatch.delenv(closing.INTERVAL_ENV)
        importlib.reload(closing)
