"""Closing past appointments: set-based, batched, idempotent, on SQLite and PostgreSQL; two processes at once."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from routines.appointments import service
from routines.appointments.models import Appointment, Attendance
from routines.cli import main
from routines.database.engine import get_engine, session_scope
from routines_tests.appointments.conftest import book, book_many

NOW = datetime(2025, 6, 10, 15, 0, tzinfo=UTC)


def _state(engine):
    with session_scope(engine) as session:
        appointments = {a.id: a for a in session.scalars(select(Appointment))}
        attendances = {a.appointment_id: a for a in session.scalars(select(Attendance))}
        count = session.scalar(select(func.count()).select_from(Attendance))
    return appointments, attendances, count


def test_past_appointments_get_one_attendance_and_are_deactivated(engine, company_id):
    with_notes = book(engine, company_id, NOW - timedelta(days=1), notes="Limpeza e aplicação de flúor")
    blank_notes = book(engine, company_id, NOW - timedelta(minutes=1), notes="   ")
    no_notes = book(engine, company_id, NOW - timedelta(hours=2))
    future = book(engine, company_id, NOW + timedelta(minutes=1), notes="retorno")

    summary = service.close_past_appointments(engine, now=NOW)

    assert (summary.closed, summary.attendances, summary.batches) == (3, 3, 1)
    appointments, attendances, count = _state(engine)
    assert count == 3 and set(attendances) == {with_notes, blank_notes, no_notes}
    assert attendances[with_notes].treatment == "Limpeza e aplicação de flúor"
    assert attendances[blank_notes].treatment == "Realizado conforme agendamento"
    assert attendances[no_notes].treatment == "Realizado conforme agendamento"
    assert {a.diagnosis for a in attendances.values()} == {"Consulta finalizada automaticamente via sistema"}
    assert {a.created_by for a in attendances.values()} == {"routine:close_past_appointments"}
    assert all(a.created_at == NOW for a in attendances.values())
    assert [
        a.active for a in (appointments[with_notes], appointments[blank_notes], appointments[no_notes])
    ] == [False] * 3
    assert appointments[with_notes].updated_at == NOW
    assert appointments[future].active and future not in attendances


def test_running_again_creates_nothing_and_an_existing_attendance_is_never_doubled(engine, company_id):
    first = book(engine, company_id, NOW - timedelta(hours=1))
    assert service.close_past_appointments(engine, now=NOW).attendances == 1
    again = service.close_past_appointments(engine, now=NOW + timedelta(hours=1))
    assert (again.closed, again.attendances, again.batches) == (0, 0, 0)

    # The application re-opened the appointment (active again) after its attendance was recorded: it is closed
    # again without a second attendance.
    with session_scope(engine) as session:
        session.get(Appointment, first).active = True
    reopened = service.close_past_appointments(engine, now=NOW + timedelta(hours=2))
    assert (reopened.closed, reopened.attendances) == (1, 0)
    _, _, count = _state(engine)
    assert count == 1


def test_batches_are_separate_transactions_over_the_whole_set(engine, company_id):
    ids = [book(engine, company_id, NOW - timedelta(minutes=n + 1)) for n in range(7)]
    summary = service.close_past_appointments(engine, now=NOW, batch_size=3)
    assert (summary.closed, summary.attendances, summary.batches) == (7, 7, 3)
    assert summary.id_ranges == [(1, ids[2]), (ids[2] + 1, ids[5]), (ids[5] + 1, ids[6])]
    appointments, attendances, _ = _state(engine)
    assert set(attendances) == set(ids) and not any(a.active for a in appointments.values())


def test_only_the_given_ids_and_only_when_due(engine, company_id):
    due = book(engine, company_id, NOW - timedelta(hours=1))
    other_due = book(engine, company_id, NOW - timedelta(hours=1))
    not_due = book(engine, company_id, NOW + timedelta(hours=1))
    summary = service.close_past_appointments(engine, now=NOW, ids=[due, not_due])
    assert (summary.closed, summary.attendances) == (1, 1)
    appointments, attendances, _ = _state(engine)
    assert set(attendances) == {due}
    assert appointments[other_due].active and appointments[not_due].active
    assert service.close_past_appointments(engine, now=NOW, ids=[]).batches == 0


def test_dry_run_lists_what_close_closes_and_changes_nothing(engine, company_id, db_url, capsys):
    past = [
        book(engine, company_id, datetime.now(UTC) - timedelta(hours=n + 1), booked_name=f"Paciente {n}")
        for n in range(3)
    ]
    book(engine, company_id, datetime.now(UTC) + timedelta(days=1))
    assert main(["appointments", "close", "--dry-run", "--url", db_url]) == 0
    out = capsys.readouterr().out
    listed = [
        int(line.split("\t")[0].split()[-1]) for line in out.splitlines() if line.startswith("would close")
    ]
    assert listed == past and "nothing changed" in out
    assert _state(engine)[2] == 0

    assert main(["appointments", "close", "--url", db_url]) == 0
    assert "3 appointment(s) closed, 3 attendance(s) created" in capsys.readouterr().out
    _, attendances, _ = _state(engine)
    assert sorted(attendances) == listed

    assert main(["appointments", "list", "--url", db_url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and sum("encerrado (atendimento" in line for line in lines) == 3
    assert main(["appointments", "list", "--active", "--url", db_url]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1
    assert main(["appointments", "list", "--company", "NOPE", "--url", db_url]) == 2


CLOSER = """
import sys
from routines.appointments.service import close_past_appointments
from routines.database.engine import get_engine
url, batch = sys.argv[1], int(sys.argv[2])
engine = get_engine(url)
with engine.connect():  # imports done and connected: tell the test, then wait for its go
    pass
print("ready", flush=True)
sys.stdin.readline()
summary = close_past_appointments(engine, batch_size=batch)
print(summary.closed, summary.attendances, flush=True)
"""


def test_two_processes_at_once_create_no_second_attendance(engine, company_id, db_url):
    total = 20_000
    book_many(engine, company_id, total, datetime.now(UTC) - timedelta(hours=1))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", CLOSER, db_url, "200"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    for process in processes:  # both started, imported and connected
        assert process.stdout.readline().strip() == "ready", process.stderr.read()
    for process in processes:  # then released together
        process.stdin.write("go\n")
        process.stdin.flush()
    results = []
    for process in processes:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        results.append(tuple(map(int, out.split())))
    # each appointment closed, and given its attendance, by exactly one of the two processes
    assert sum(closed for closed, _ in results) == total
    assert sum(created for _, created in results) == total
    engine = get_engine(db_url)
    with session_scope(engine) as session:
        attendances = session.scalar(select(func.count()).select_from(Attendance))
        distinct = session.scalar(select(func.count(func.distinct(Attendance.appointment_id))))
        active = session.scalar(
            select(func.count()).select_from(Appointment).where(Appointment.active.is_(True))
        )
    assert (attendances, distinct, active) == (total, total, 0)
