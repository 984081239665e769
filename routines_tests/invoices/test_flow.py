"""A month of demo processes from creation to UPLOAD_REALIZADO through real Dagster runs, the fake RPA and SAT
servers (real HTTP) and the sensors in between, ticked with explicit cursors."""

from __future__ import annotations

import hashlib

import dagster as dg
from sqlalchemy import select

from routines.database.base import utcnow
from routines.database.engine import get_engine, session_scope
from routines.defs.invoices.assets import downloaded_invoices, invoice_processes, sat_uploads
from routines.defs.invoices.sensors import (
    invoice_approval_sensor,
    invoice_downloads_sensor,
    invoice_operator_partitions_sensor,
)
from routines.files import FileStore
from routines.invoices.models import InvoiceProcess, Operator, ProcessTransition
from routines.invoices.status import Status
from routines_tests.helpers import apply_partition_requests
from routines_tests.invoices.conftest import make_resources, run_cli
from routines_tests.invoices.fakes import SAT_TOKEN, TOKEN, fake_rpa, fake_sat

MONTH = "2025-06-01"


def tick(sensor, instance, resources, cursor=None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources)
    result = sensor(context)
    apply_partition_requests(instance, result)
    return result


def processes(url):
    with session_scope(get_engine(url)) as session:
        return {
            p.id: (p.operator.code, p.client.name, p.status)
            for p in session.scalars(select(InvoiceProcess).order_by(InvoiceProcess.id))
        }


def all_event_text(instance) -> str:
    texts = []
    for run in instance.get_runs():
        for entry in instance.all_logs(run.run_id):
            texts.append(entry.user_message or "")
            if entry.dagster_event is not None:
                texts.append(repr(entry.dagster_event.event_specific_data))
    return "\n".join(texts)


def test_a_month_goes_from_creation_to_upload(seeded_url, tmp_path, capsys):
    store_root = tmp_path / "files"
    with (
        fake_rpa(latency=0.15, log_lines=4) as (rpa_url, rpa),
        fake_sat() as (sat_url, sat),
        dg.instance_for_test() as instance,
    ):
        resources = make_resources(seeded_url, store_root, rpa_url, sat_url)

        # 1. the monthly processes (twice: idempotent)
        for _ in range(2):
            result = dg.materialize(
                [invoice_processes], partition_key=MONTH, instance=instance, resources=resources
            )
            assert result.success
        created = processes(seeded_url)
        assert len(created) == 8 and {status for *_, status in created.values()} == {"AGUARDANDO_DOWNLOAD"}
        metadata = result.asset_materializations_for_node("invoice_processes")[0].metadata
        assert metadata["created"].value == 0 and metadata["already_existing"].value == 8

        # 2. operator partitions follow the database (OI has no RPA)
        tick(invoice_operator_partitions_sensor, instance, resources)
        assert sorted(instance.get_dynamic_partitions("invoice_operators")) == ["CLARO", "TIM", "VIVO"]

        # 3. the downloads sensor asks for one run per month x operator with waiting processes
        downloads = tick(invoice_downloads_sensor, instance, resources, cursor=None)
        keys = [request.partition_key for request in downloads.run_requests]
        assert sorted(str(key) for key in keys) == [f"{MONTH}|CLARO", f"{MONTH}|TIM", f"{MONTH}|VIVO"]
        again = tick(invoice_downloads_sensor, instance, resources, cursor=downloads.cursor)
        assert again.run_requests == [] and again.cursor == downloads.cursor
        for key in keys:
            result = dg.materialize(
                [downloaded_invoices], partition_key=key, instance=instance, resources=resources
            )
            assert result.success
        after_download = processes(seeded_url)
        for process_id, (operator, _client, status) in after_download.items():
            assert status == ("AGUARDANDO_DOWNLOAD" if operator == "OI" else "AGUARDANDO_APROVACAO"), (
                process_id
            )
        assert len(rpa.jobs) == 7
        store = FileStore(store_root)
        with session_scope(get_engine(seeded_url)) as session:
            downloaded = session.scalars(
                select(InvoiceProcess)
                .where(InvoiceProcess.status == Status.AGUARDANDO_APROVACAO.value)
                .order_by(InvoiceProcess.id)
            ).all()
            for process in downloaded:
                assert process.file_key.startswith("invoices/2025/06/01/")
                assert hashlib.sha256(store.read_bytes(process.file_key)).hexdigest() == process.file_sha256
                assert process.file_size == len(store.read_bytes(process.file_key))
                assert process.job_id in rpa.jobs and "download concluído" in process.last_log_lines
            ids = sorted(p.id for p in downloaded)
            # the business application approves two invoices by writing the approval columns
            for process in downloaded[2:]:
                process.approved_by, process.approved_at = "ana.souza", utcnow()

        # 4. an operator approves one and rejects one on the command line
        assert run_cli("invoices", "approve", str(ids[0]), "--by", "joao", "--url", seeded_url) == 0
        assert (
            run_cli(
                "invoices",
                "reject",
                str(ids[1]),
                "--reason",
                "valor divergente",
                "--by",
                "joao",
                "--url",
                seeded_url,
            )
            == 0
        )
        assert "REJEITADO" in capsys.readouterr().out

        # 5. the approval sensor applies the recorded decisions and asks for one upload run for the month
        approval = tick(invoice_approval_sensor, instance, resources, cursor=downloads.cursor)
        assert [request.partition_key for request in approval.run_requests] == [MONTH]
        assert tick(invoice_approval_sensor, instance, resources, cursor=approval.cursor).run_requests == []
        waiting = [
            pid for pid, (*_, status) in processes(seeded_url).items() if status == "AGUARDANDO_ENVIO_SAT"
        ]
        assert len(waiting) == 6 and ids[1] not in waiting

        # 6. the upload
        result = dg.materialize([sat_uploads], partition_key=MONTH, instance=instance, resources=resources)
        assert result.success
        final = processes(seeded_url)
        uploaded = sorted(pid for pid, (*_, status) in final.items() if status == "UPLOAD_REALIZADO")
        assert uploaded == sorted(waiting)
        assert final[ids[1]][2] == "REJEITADO"
        assert len(sat.uploads) == 6 and len(sat.keys) == 6
        assert {upload["body"]["processo_id"] for upload in sat.uploads} == set(uploaded)
        # re-running the upload sends nothing again
        assert dg.materialize(
            [sat_uploads], partition_key=MONTH, instance=instance, resources=resources
        ).success
        assert len(sat.requests) == 6

        # 7. every transition recorded, with actor and reason
        with session_scope(get_engine(seeded_url)) as session:
            history = session.scalars(
                select(ProcessTransition)
                .where(ProcessTransition.process_id == ids[0])
                .order_by(ProcessTransition.id)
            ).all()
            assert [(t.from_status, t.to_status) for t in history] == [
                (None, "AGUARDANDO_DOWNLOAD"),
                ("AGUARDANDO_DOWNLOAD", "AGUARDANDO_APROVACAO"),
                ("AGUARDANDO_APROVACAO", "AGUARDANDO_ENVIO_SAT"),
                ("AGUARDANDO_ENVIO_SAT", "UPLOAD_REALIZADO"),
            ]
            assert history[2].actor == "user:joao"
            assert all(t.actor.startswith("run:") for t in (history[0], history[1], history[3]))
            assert "SAT-" in history[3].reason
            approved_by_app = session.get(InvoiceProcess, ids[2])
            assert approved_by_app.status == "UPLOAD_REALIZADO" and approved_by_app.sat_protocol
            last = session.scalars(
                select(ProcessTransition).where(
                    ProcessTransition.process_id == ids[2],
                    ProcessTransition.to_status == "AGUARDANDO_ENVIO_SAT",
                )
            ).one()
            assert last.actor == "user:ana.souza"
            assert session.scalar(select(Operator.code).where(Operator.has_rpa.is_(False))) == "OI"

        # 8. the RPA log lines reached the run log, each once; no token anywhere in the event log
        text = all_event_text(instance)
        for job in rpa.jobs.values():
            for line in job.lines:
                assert text.count(f"] {line}") == 1, line
        assert TOKEN not in text and SAT_TOKEN not in text
