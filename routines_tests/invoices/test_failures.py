"""Failure cases through real Dagster runs and the fake servers: token rejected, failing and never-finishing RPA
jobs, transient 5xx, SAT refusals; retries through the state machine."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pytest
from sqlalchemy import select

from routines.database.base import utcnow
from routines.database.engine import get_engine, session_scope
from routines.defs.invoices.assets import downloaded_invoices, month_operator_key, sat_uploads
from routines.defs.invoices.sensors import invoice_approval_sensor, invoice_downloads_sensor
from routines.invoices import service
from routines.invoices.models import InvoiceProcess, ProcessTransition
from routines_tests.invoices.conftest import make_resources, run_cli
from routines_tests.invoices.fakes import TOKEN, fake_rpa, fake_sat

MONTH = "2025-06-01"


@pytest.fixture
def month_created(seeded_sqlite_url):
    with session_scope(get_engine(seeded_sqlite_url)) as session:
        service.create_month_processes(session, date(2025, 6, 1), "test")
    return seeded_sqlite_url


def statuses(url, operator=None) -> dict[int, InvoiceProcess]:
    with session_scope(get_engine(url)) as session:
        query = select(InvoiceProcess).order_by(InvoiceProcess.id)
        rows = session.scalars(query).all()
        return {p.id: p for p in rows if operator is None or p.operator.code == operator}


def download(instance, resources, operator="VIVO"):
    return dg.materialize(
        [downloaded_invoices],
        partition_key=month_operator_key(MONTH, operator),
        instance=instance,
        resources=resources,
        raise_on_error=False,
    )


def failure_message(result) -> str:
    events = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert events, "the step did not fail"
    return events[0].step_failure_data.error.to_string()


def test_rpa_token_rejected_fails_at_once_and_moves_nothing(month_created, tmp_path):
    with fake_rpa() as (url, rpa), dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("invoice_operators", ["VIVO"])
        resources = make_resources(month_created, tmp_path / "files", url, rpa_token="expired-token-000")
        result = download(instance, resources)
    assert not result.success
    message = failure_message(result)
    assert "token rejected (HTTP 401)" in message and "expired-token-000" not in message
    assert len(rpa.requests) == 1  # neither in-process retries nor the op's retry policy
    assert not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert {p.status for p in statuses(month_created, "VIVO").values()} == {"AGUARDANDO_DOWNLOAD"}


def test_failed_and_never_finishing_jobs_are_recorded_then_retried(month_created, tmp_path):
    def behaviour(endpoint, payload):
        return {"Hospital Santa Luzia": "fail", "Acme Fundo de Investimento": "hang"}.get(
            payload["cliente"]["nome"], "ok"
        )

    with (
        fake_rpa(latency=0.1, log_lines=3, behaviour=behaviour) as (url, rpa),
        dg.instance_for_test() as instance,
    ):
        instance.add_dynamic_partitions("invoice_operators", ["VIVO"])
        resources = make_resources(month_created, tmp_path / "files", url, job_timeout_seconds=0.6)
        result = download(instance, resources)
        assert not result.success
        assert "2 download(s) falharam em VIVO 2025-06" in failure_message(result)
        rows = statuses(month_created, "VIVO")
        assert sorted(p.status for p in rows.values()) == [
            "AGUARDANDO_APROVACAO",
            "FALHA_DOWNLOAD",
            "FALHA_DOWNLOAD",
        ]
        failed_job, timed_out = sorted(
            (p.error for p in rows.values() if p.error), key=lambda e: "terminou" in e
        )
        assert failed_job == "portal da operadora indisponível"
        assert "não terminou em 0.6 s" in timed_out
        for process in rows.values():
            assert process.job_id in rpa.jobs and process.last_log_lines  # logs kept with the failure
            assert process.last_log_lines.splitlines()[0].endswith("acessando portal vivo")

        # the job that did not finish still runs on the RPA: its slot stays taken, and a retry follows it
        # instead of starting a second job for the same process; here the RPA finishes it late
        hung = next(p for p in rows.values() if p.error and "terminou" in p.error)
        assert "a vaga no RPA segue reservada até o job terminar" in hung.error
        rpa.jobs[hung.job_id].outcome = "ok"

        # the downloads sensor does not loop on failures; re-materializing the partition retries them
        rpa.behaviour = lambda endpoint, payload: "ok"
        result = download(instance, resources)
        assert result.success
        rows = statuses(month_created, "VIVO")
        assert {p.status for p in rows.values()} == {"AGUARDANDO_APROVACAO"}
        assert (
            rows[hung.id].job_id == hung.job_id and len(rpa.jobs) == 4
        )  # 3 first jobs + 1 for the failed one
        assert all(p.error is None for p in rows.values())
        assert sorted(p.download_attempts for p in rows.values()) == [1, 2, 2]
        with session_scope(get_engine(month_created)) as session:
            failed_id = min(p.id for p in rows.values() if p.download_attempts == 2)
            path = [
                (t.from_status, t.to_status)
                for t in session.scalars(
                    select(ProcessTransition)
                    .where(ProcessTransition.process_id == failed_id)
                    .order_by(ProcessTransition.id)
                )
            ]
        assert path == [
            (None, "AGUARDANDO_DOWNLOAD"),
            ("AGUARDANDO_DOWNLOAD", "FALHA_DOWNLOAD"),
            ("FALHA_DOWNLOAD", "AGUARDANDO_DOWNLOAD"),
            ("AGUARDANDO_DOWNLOAD", "AGUARDANDO_APROVACAO"),
        ]
        context = dg.build_sensor_context(instance=instance, cursor="0", resources=resources)
        requests = invoice_downloads_sensor(context).run_requests
        # only the creations ask for runs (one per RPA operator), not the run's own retries
        assert sorted(str(r.partition_key) for r in requests) == [
            f"{MONTH}|CLARO",
            f"{MONTH}|TIM",
            f"{MONTH}|VIVO",
        ]


def test_transient_server_errors_are_retried(month_created, tmp_path):
    """A throttled start (429: the RPA did not act on it) and 5xx while following are retried in-process."""
    polls = iter([503, 500, 502])

    def fail_polls(method, path):
        return next(polls, None) if method == "GET" else None

    with (
        fake_rpa(latency=0.05, failures=[(429, "0")], fail_request=fail_polls) as (url, rpa),
        dg.instance_for_test() as instance,
    ):
        instance.add_dynamic_partitions("invoice_operators", ["CLARO"])
        result = download(instance, make_resources(month_created, tmp_path / "files", url), "CLARO")
    assert result.success
    assert {p.status for p in statuses(month_created, "CLARO").values()} == {"AGUARDANDO_APROVACAO"}
    assert len(rpa.jobs) == 2
    assert [method for method, *_ in rpa.requests[:2]] == ["POST", "POST"]


def test_retry_cli_sends_a_failed_download_back_and_the_sensor_picks_it_up(month_created, tmp_path, capsys):
    with (
        fake_rpa(latency=0.05, behaviour=lambda e, p: "fail") as (url, _rpa),
        dg.instance_for_test() as instance,
    ):
        instance.add_dynamic_partitions("invoice_operators", ["TIM"])
        resources = make_resources(month_created, tmp_path / "files", url)
        assert not download(instance, resources, "TIM").success
        with session_scope(get_engine(month_created)) as session:
            cursor = str(service.last_transition_id(session))
        failed = sorted(statuses(month_created, "TIM"))
        assert run_cli("invoices", "retry", str(failed[0]), "--by", "maria", "--url", month_created) == 0
        assert run_cli("invoices", "approve", str(failed[1]), "--url", month_created) == 2
        assert "only AGUARDANDO_APROVACAO can be approved" in capsys.readouterr().out
        context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources)
        result = invoice_downloads_sensor(context)
    assert [str(r.partition_key) for r in result.run_requests] == [f"{MONTH}|TIM"]
    assert statuses(month_created)[failed[0]].status == "AGUARDANDO_DOWNLOAD"


def approve_all(url) -> list[int]:
    with session_scope(get_engine(url)) as session:
        ids = []
        for process in session.scalars(
            select(InvoiceProcess).where(InvoiceProcess.status == "AGUARDANDO_APROVACAO")
        ):
            service.approve(session, process.id, "teste")
            ids.append(process.id)
        return sorted(ids)


def test_sat_token_rejected_and_refusals(month_created, tmp_path):
    with (
        fake_rpa(latency=0.05) as (rpa_url, _rpa),
        fake_sat() as (sat_url, sat),
        dg.instance_for_test() as instance,
    ):
        instance.add_dynamic_partitions("invoice_operators", ["CLARO"])
        assert download(instance, make_resources(month_created, tmp_path / "files", rpa_url), "CLARO").success
        ids = approve_all(month_created)
        assert len(ids) == 2

        bad = make_resources(month_created, tmp_path / "files", rpa_url, sat_url, sat_token="wrong")
        result = dg.materialize(
            [sat_uploads], partition_key=MONTH, instance=instance, resources=bad, raise_on_error=False
        )
        assert not result.success and "SAT: token rejected (HTTP 401)" in failure_message(result)
        assert len(sat.requests) == 1 and not sat.uploads
        assert {statuses(month_created)[i].status for i in ids} == {"AGUARDANDO_ENVIO_SAT"}

        # the SAT refuses one invoice: FALHA_ENVIO_SAT with the reason, the other goes through
        sat.refuse = lambda body: "CNPJ do cliente não cadastrado" if body["processo_id"] == ids[0] else None
        good = make_resources(month_created, tmp_path / "files", rpa_url, sat_url)
        result = dg.materialize(
            [sat_uploads], partition_key=MONTH, instance=instance, resources=good, raise_on_error=False
        )
        assert not result.success and "1 envio(s) ao SAT recusados" in failure_message(result)
        rows = statuses(month_created)
        assert (
            rows[ids[0]].status == "FALHA_ENVIO_SAT"
            and "CNPJ do cliente não cadastrado" in rows[ids[0]].error
        )
        assert rows[ids[1]].status == "UPLOAD_REALIZADO"

        # fixed at the SAT; retry -> the approval sensor asks for a new upload run -> uploaded once
        with session_scope(get_engine(month_created)) as session:
            cursor = str(service.last_transition_id(session))
        sat.refuse = lambda body: None
        assert run_cli("invoices", "retry", str(ids[0]), "--url", month_created) == 0
        tick = invoice_approval_sensor(
            dg.build_sensor_context(instance=instance, cursor=cursor, resources=good)
        )
        assert [r.partition_key for r in tick.run_requests] == [MONTH]
        assert dg.materialize([sat_uploads], partition_key=MONTH, instance=instance, resources=good).success
    assert statuses(month_created)[ids[0]].status == "UPLOAD_REALIZADO"
    assert len(sat.uploads) == 2


def test_sat_lost_response_is_not_uploaded_twice(month_created, tmp_path):
    with (
        fake_rpa(latency=0.05) as (rpa_url, _rpa),
        fake_sat(fail_after_store=[503]) as (sat_url, sat),
        dg.instance_for_test() as instance,
    ):
        instance.add_dynamic_partitions("invoice_operators", ["TIM"])
        resources = make_resources(month_created, tmp_path / "files", rpa_url, sat_url)
        assert download(instance, resources, "TIM").success
        ids = approve_all(month_created)
        assert dg.materialize(
            [sat_uploads], partition_key=MONTH, instance=instance, resources=resources
        ).success
    assert len(sat.uploads) == len(ids) == 2 and len(sat.requests) == 3
    rows = statuses(month_created)
    assert {rows[i].sat_protocol for i in ids} == set(sat.keys.values())
    assert all(rows[i].sat_idempotency_key in sat.keys for i in ids)


def test_rejection_recorded_by_the_application_does_not_move_on(month_created, tmp_path):
    with fake_rpa(latency=0.05) as (rpa_url, rpa), dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("invoice_operators", ["TIM"])
        resources = make_resources(month_created, tmp_path / "files", rpa_url)
        assert download(instance, resources, "TIM").success
        with session_scope(get_engine(month_created)) as session:
            cursor = str(service.last_transition_id(session))
            process = session.scalars(
                select(InvoiceProcess)
                .where(InvoiceProcess.status == "AGUARDANDO_APROVACAO")
                .order_by(InvoiceProcess.id)
            ).first()
            process.rejected_by, process.rejected_at, process.rejection_reason = (
                "carla",
                utcnow(),
                "fatura duplicada",
            )
            rejected_id = process.id
        tick = invoice_approval_sensor(
            dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources)
        )
        assert tick.run_requests == []
    process = statuses(month_created)[rejected_id]
    assert process.status == "REJEITADO"
    with session_scope(get_engine(month_created)) as session:
        last = session.scalars(
            select(ProcessTransition)
            .where(ProcessTransition.process_id == rejected_id)
            .order_by(ProcessTransition.id.desc())
        ).first()
        assert (last.actor, last.reason) == ("user:carla", "fatura rejeitada: fatura duplicada")
    # the token is only ever sent in the Authorization header, never in a path
    assert rpa.requests and all(
        auth == f"Bearer {TOKEN}" and TOKEN not in path for _method, path, auth in rpa.requests
    )


def test_an_approval_written_before_the_download_does_not_approve_the_new_file(month_created, tmp_path):
    with session_scope(get_engine(month_created)) as session:
        for process in session.scalars(select(InvoiceProcess).where(InvoiceProcess.operator.has(code="TIM"))):
            process.approved_by, process.approved_at = "apressado", utcnow()
    with fake_rpa(latency=0.05) as (rpa_url, _rpa), dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("invoice_operators", ["TIM"])
        resources = make_resources(month_created, tmp_path / "files", rpa_url)
        assert download(instance, resources, "TIM").success
        tick = invoice_approval_sensor(
            dg.build_sensor_context(instance=instance, cursor=None, resources=resources)
        )
    assert tick.run_requests == []
    rows = statuses(month_created, "TIM").values()
    assert {(p.status, p.approved_at) for p in rows} == {("AGUARDANDO_APROVACAO", None)}
