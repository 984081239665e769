"""Reports wait for their data: a report naming `quotes` runs for a day once quotes' partition of that day is
materialized; past the wait limit it is sent with a pt-BR warning in the e-mail, or skipped, as configured.
Real sensor ticks at explicit times, real runs, a real SMTP server on loopback."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg
from sqlalchemy import select

from routines.database.engine import session_scope
from routines.reports.models import ReportExecution
from routines_tests.reports.test_dagster import launch, tick

SP = ZoneInfo("America/Sao_Paulo")
DAYS = dg.StaticPartitionsDefinition(["2026-11-19", "2026-11-20"])


@dg.asset(partitions_def=DAYS)
def quotes() -> None:
    return None


def sp(*args) -> datetime:
    return datetime(*args, tzinfo=SP)


def test_a_report_waits_for_its_data_then_warns_or_skips(
    db_url, engine, make_report, smtp_for, smtp_server, file_store_root
):
    smtp_for("BEG", smtp_server.port)
    created = sp(2026, 11, 18, 12, 0)
    warn = make_report(name="Cotações do dia", now=created, recipients_cc=[],
                       wait_for_assets=["quotes"], wait_limit_minutes=60, wait_action="warn")  # fmt: skip
    skip = make_report(name="Posição do dia", now=created, recipients_cc=[],
                       wait_for_assets=["quotes"], wait_limit_minutes=60, wait_action="skip")  # fmt: skip
    with dg.instance_for_test() as instance:
        for moment in (sp(2026, 11, 19, 8, 0, 30), sp(2026, 11, 19, 8, 45)):  # quotes of 19/11 missing: wait
            assert tick(instance, db_url, moment).run_requests == []
        result = tick(instance, db_url, sp(2026, 11, 19, 9, 1))  # past the 60 min limit
        (request,) = result.run_requests
        assert request.run_key == f"report-{warn}-20261119T110000Z"
        assert request.tags["routines/report_missing_data"] == "true"
        assert launch(instance, db_url, file_store_root, request).success
        (mail,) = smtp_server.messages
        assert (
            mail.message.get_body(("plain",))
            .get_content()
            .rstrip()
            .endswith(
                "Atenção: os dados de quotes do dia 19/11/2026 ainda não estavam disponíveis no prazo de espera; "
                "este relatório pode estar incompleto."
            )
        )
        with session_scope(engine) as session:
            skipped = session.scalars(select(ReportExecution).where(ReportExecution.report_id == skip)).one()
            assert skipped.status == "skipped"
            assert (
                skipped.error
                == "não enviado: os dados de quotes do dia 19/11/2026 não chegaram no prazo de espera"
            )

        # next day the data is there before 08:00: both sent at once, without warning
        assert dg.materialize([quotes], instance=instance, partition_key="2026-11-20").success
        result = tick(instance, db_url, sp(2026, 11, 20, 8, 0, 30))
        assert sorted(r.run_key for r in result.run_requests) == sorted(
            [f"report-{warn}-20261120T110000Z", f"report-{skip}-20261120T110000Z"]
        )
        assert all("routines/report_missing_data" not in r.tags for r in result.run_requests)
        for request in result.run_requests:
            assert launch(instance, db_url, file_store_root, request).success
        assert len(smtp_server.messages) == 3
        assert all(
            "Atenção" not in m.message.get_body(("plain",)).get_content() for m in smtp_server.messages[1:]
        )
