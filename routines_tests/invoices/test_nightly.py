"""The nightly re-download: the schedule requests exactly the pending and retryable processes' partitions;
automatic retries stop at ROUTINES_INVOICES_MAX_ATTEMPTS and the company's operators are told once."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
from sqlalchemy import select

from routines.companies.models import Company, User
from routines.database.engine import get_engine, session_scope
from routines.defs.invoices import nightly
from routines.defs.invoices.assets import downloaded_invoices, invoice_downloads_job
from routines.errors import UserError
from routines.files import FileStore
from routines.invoices import service
from routines.invoices.leases import RpaLeases
from routines.invoices.models import Client, InvoiceProcess, Operator
from routines.invoices.rpa import RpaClient
from routines.lib.resources import DatabaseResource
from routines.notifications.models import Notification
from routines_tests.invoices.conftest import make_resources
from routines_tests.invoices.fakes import TOKEN, fake_rpa

SP = ZoneInfo("America/Sao_Paulo")


def _add(session, client: str, operator: str, month: date, status: str, attempts: int) -> int:
    process = InvoiceProcess(
        billing_month=month,
        client_id=session.scalar(select(Client.id).where(Client.name == client)),
        operator_id=session.scalar(select(Operator.id).where(Operator.code == operator)),
        status=status,
        download_attempts=attempts,
    )
    session.add(process)
    session.flush()
    return process.id


@pytest.fixture
def processes(seeded_url):
    june, may = date(2025, 6, 1), date(2025, 6, 1).replace(month=5)
    with session_scope(get_engine(seeded_url)) as session:
        made = {
            "waiting": _add(
                session, "Transportadora Rio Claro Ltda.", "VIVO", june, "AGUARDANDO_DOWNLOAD", 0
            ),
            "exhausted_same_partition": _add(
                session, "Hospital Santa Luzia", "VIVO", june, "FALHA_DOWNLOAD", 3
            ),
            "retryable": _add(session, "Transportadora Rio Claro Ltda.", "CLARO", june, "FALHA_DOWNLOAD", 1),
            "exhausted": _add(session, "Hospital Santa Luzia", "TIM", june, "FALHA_DOWNLOAD", 3),
            "no_rpa": _add(session, "Supermercados Boa Compra S.A.", "OI", june, "AGUARDANDO_DOWNLOAD", 0),
            "approved": _add(
                session, "Supermercados Boa Compra S.A.", "CLARO", june, "AGUARDANDO_APROVACAO", 1
            ),
            "retryable_may": _add(session, "Acme Fundo de Investimento", "VIVO", may, "FALHA_DOWNLOAD", 2),
        }
    return seeded_url, made


def evaluate(url, moment: datetime, schedule=None):
    schedule = schedule or nightly.build_nightly_downloads_schedule()
    defs = dg.Definitions(
        assets=[downloaded_invoices],
        jobs=[invoice_downloads_job],
        schedules=[schedule],
        resources=make_resources(url, "/nonexistent"),
    )
    with (
        dg.instance_for_test() as instance,
        dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=moment,
            repository_def=defs.get_repository_def(),
            resources={"database": DatabaseResource(url=url)},
        ) as context,
    ):
        result = schedule.evaluate_tick(context)
        return list(result.run_requests or []), result.skip_message


def _requested(requests) -> dict[tuple[str, str], set[int]]:
    return {
        (r.partition_key.keys_by_dimension["month"], r.partition_key.keys_by_dimension["operator"]): {
            int(i) for i in r.tags["routines/processes"].split(",")
        }
        for r in requests
    }


def test_exactly_the_pending_and_retryable_processes_are_requested(processes, monkeypatch):
    url, made = processes
    monkeypatch.delenv("ROUTINES_INVOICES_MAX_ATTEMPTS", raising=False)
    schedule = nightly.build_nightly_downloads_schedule()
    assert schedule.cron_schedule == "0 2 * * *" and schedule.execution_timezone == "America/Sao_Paulo"
    # Tuesday 10 June 2025, 02:00: an ANBIMA business day
    requests, _ = evaluate(url, datetime(2025, 6, 10, 2, 0, tzinfo=SP), schedule)
    assert _requested(requests) == {
        ("2025-06-01", "VIVO"): {made["waiting"]},
        ("2025-06-01", "CLARO"): {made["retryable"]},
        ("2025-05-01", "VIVO"): {made["retryable_may"]},
    }
    assert {r.run_key for r in requests} == {
        "nightly:2025-06-10:2025-06-01|VIVO",
        "nightly:2025-06-10:2025-06-01|CLARO",
        "nightly:2025-06-10:2025-05-01|VIVO",
    }
    monkeypatch.setenv("ROUTINES_INVOICES_MAX_ATTEMPTS", "2")
    requests, _ = evaluate(url, datetime(2025, 6, 10, 2, 0, tzinfo=SP), schedule)
    assert _requested(requests) == {
        ("2025-06-01", "VIVO"): {made["waiting"]},
        ("2025-06-01", "CLARO"): {made["retryable"]},
    }


def test_business_days_or_every_day_and_the_time_from_the_environment(processes, monkeypatch):
    url, _ = processes
    saturday = datetime(2025, 6, 7, 2, 0, tzinfo=SP)
    requests, skip = evaluate(url, saturday)
    assert requests == [] and "07/06/2025 não é dia útil no calendário ANBIMA: sábado" in skip
    requests, skip = evaluate(url, datetime(2025, 6, 19, 2, 0, tzinfo=SP))  # Corpus Christi
    assert requests == [] and "Corpus Christi" in skip
    monkeypatch.setenv("ROUTINES_INVOICES_NIGHTLY_DAYS", "every")
    monkeypatch.setenv("ROUTINES_INVOICES_NIGHTLY_TIME", "03:30")
    schedule = nightly.build_nightly_downloads_schedule()
    assert schedule.cron_schedule == "30 3 * * *"
    assert len(evaluate(url, saturday.replace(hour=3, minute=30), schedule)[0]) == 3
    monkeypatch.setenv("ROUTINES_INVOICES_NIGHTLY_DAYS", "weekdays")
    with pytest.raises(UserError, match="ROUTINES_INVOICES_NIGHTLY_DAYS"):
        nightly.build_nightly_downloads_schedule()


def test_nothing_pending_is_a_skip_with_the_reason(seeded_url):
    requests, skip = evaluate(seeded_url, datetime(2025, 6, 10, 2, 0, tzinfo=SP))
    assert requests == [] and "nenhum processo" in skip


def test_a_download_run_stops_retrying_at_the_maximum(processes, tmp_path):
    url, made = processes
    engine = get_engine(url)
    with fake_rpa(latency=0.02, behaviour=lambda endpoint, payload: "fail") as (rpa_url, rpa):
        from routines.http import HttpClient

        client = RpaClient(HttpClient("RPA", rpa_url, TOKEN), poll_interval=0.01, max_poll_interval=0.02)
        leases = RpaLeases(engine, 5, "run:test", job_hold=client.job_timeout + 60)
        summary = service.download_partition(
            engine,
            FileStore(tmp_path),
            client,
            date(2025, 6, 1),
            "VIVO",
            "run:test",
            leases=leases,
            max_attempts=3,
        )
        # the waiting process is tried; the one already at 3 failed attempts is not
        assert [item["process_id"] for item in summary.failed] == [made["waiting"]]
        assert {job.payload["processo_id"] for job in rpa.jobs.values()} == {made["waiting"]}
    with session_scope(engine) as session:
        assert session.get(InvoiceProcess, made["exhausted_same_partition"]).download_attempts == 3
        assert session.get(InvoiceProcess, made["waiting"]).download_attempts == 1


def _tick(url, cursor):
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(
            instance=instance, cursor=cursor, resources={"database": DatabaseResource(url=url)}
        )
        nightly.invoice_download_attempts_sensor(context)
        return context.cursor


def test_the_operators_are_notified_once_when_the_last_attempt_fails(processes, monkeypatch):
    url, made = processes
    monkeypatch.setenv("ROUTINES_INVOICES_MAX_ATTEMPTS", "2")
    engine = get_engine(url)
    cursor = _tick(url, None)  # transitions so far: none into FALHA_DOWNLOAD
    with session_scope(engine) as session:
        for name, attempts in (("waiting", 2), ("retryable", 1)):  # the 2nd of 2 attempts; a 1st attempt
            process = session.get(InvoiceProcess, made[name])
            if process.status == "FALHA_DOWNLOAD":
                service.transition(session, process, "AGUARDANDO_DOWNLOAD", "run:x", "nova tentativa")
            process.download_attempts = attempts
            service.transition(
                session, process, "FALHA_DOWNLOAD", "run:x", "portal fora do ar", error="portal fora do ar"
            )
    cursor = _tick(url, cursor)
    with session_scope(engine) as session:
        rows = session.scalars(select(Notification).order_by(Notification.id)).all()
        beg = session.scalar(select(Company.id).where(Company.code == "BEG"))
        operators = set(
            session.scalars(select(User.id).where(User.company_id == beg, User.role == "operator"))
        )
        assert {row.user_id for row in rows} == operators and len(rows) == len(operators) == 1
        assert rows[0].company_id == beg and rows[0].kind == "warning"
        assert "Transportadora Rio Claro Ltda. / VIVO, competência 2025-06" in rows[0].title
        assert (
            f"routines invoices retry {made['waiting']}" in rows[0].message
            and "portal fora do ar" in rows[0].message
        )
    # later ticks, even from the beginning again, tell no one twice
    _tick(url, cursor)
    _tick(url, None)
    with session_scope(engine) as session:
        assert len(session.scalars(select(Notification)).all()) == 1
