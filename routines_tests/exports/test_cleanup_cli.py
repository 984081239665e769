"""Cleanup of old task files (CLI and the daily Dagster job: the dry run lists exactly what the real run
removes) and the operator commands request / list / show."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import dagster as dg
from sqlalchemy import update

from routines.cli import main
from routines.database.engine import session_scope
from routines.defs.exports.jobs import export_files_cleanup_job, export_files_cleanup_schedule
from routines.exports import service
from routines.exports.config import ExportsConfig
from routines.exports.context import ExportOutput
from routines.exports.models import ExportTask
from routines.lib.resources import DatabaseResource, FileStoreResource
from routines_tests.exports.conftest import T0

NOW = datetime.now(UTC)


def completed_task(engine, store, user_id: int, data: bytes, finished_days_ago: float) -> ExportTask:
    """A task taken through the real life cycle (create, request, claim, complete), finished N days ago."""
    with session_scope(engine) as session:
        task_id = service.create_task(
            session, task_type="invoices_month", user=user_id, payload={"month": "2025-06"}
        ).id
        (plan,) = service.request_pending(session, T0, ExportsConfig())
    claim = service.claim_task(engine, task_id, run_id=f"run-{task_id}", run_key=plan.run_key, slots=5)
    output = ExportOutput(summary="teste", data=data, file_name=f"faturas_{task_id}.xlsx")
    service.complete_task(
        engine, store, task_id, claim, output, run_id=f"run-{task_id}", config=ExportsConfig()
    )
    with session_scope(engine) as session:
        session.execute(
            update(ExportTask)
            .where(ExportTask.id == task_id)
            .values(finished_at=NOW - timedelta(days=finished_days_ago))
        )
        return session.get(ExportTask, task_id)


def old_file(store, key: str, data: bytes, days_ago: float) -> None:
    path = store.write_bytes(key, data).path
    stamp = (NOW - timedelta(days=days_ago)).timestamp()
    os.utime(path, (stamp, stamp))


def test_cleanup_dry_run_lists_exactly_what_the_real_run_removes(
    engine, people, store, file_store_root, capsys
):
    old = completed_task(engine, store, people["bruno"], b"old file", finished_days_ago=40)
    recent = completed_task(engine, store, people["bruno"], b"recent file", finished_days_ago=5)
    old_file(
        store, "task_files/2025/01/invoices_month/99_deadbeef.xlsx", b"orphan", days_ago=45
    )  # run killed mid-way
    old_file(store, "task_files/2025/01/invoices_month/.98_x.xlsx.abc.part", b"half", days_ago=45)
    old_file(store, "task_files/2025/06/report/97_cafecafe.pdf", b"young orphan", days_ago=1)
    old_file(store, "reports/2025/01/02/not_a_task_file.pdf", b"other domain", days_ago=400)

    assert main(["exports", "cleanup", "--days", "30", "--dry-run"]) == 0
    dry = capsys.readouterr().out.splitlines()
    with session_scope(engine) as session:  # nothing changed
        assert session.get(ExportTask, old.id).downloadable
    assert (file_store_root / old.file_key).exists()

    assert main(["exports", "cleanup", "--days", "30"]) == 0
    real = capsys.readouterr().out.splitlines()
    assert dry[:-1] == real[:-1]  # the same list, line for line
    assert dry[-1] == f"3 file(s), {8 + 6 + 4} bytes would be removed (older than 30 days)"
    assert real[-1] == f"3 file(s), {8 + 6 + 4} bytes removed (older than 30 days)"
    assert real[:-1] == sorted(
        [f"{old.file_key}\t8 bytes\ttask {old.id}", "task_files/2025/01/invoices_month/.98_x.xlsx.abc.part\t4 bytes\tno task",
         "task_files/2025/01/invoices_month/99_deadbeef.xlsx\t6 bytes\tno task"]
    )  # fmt: skip
    with session_scope(engine) as session:
        gone, kept = session.get(ExportTask, old.id), session.get(ExportTask, recent.id)
        assert gone.file_removed_at is not None and not gone.downloadable and gone.status == "completed"
        assert kept.downloadable
    assert not (file_store_root / old.file_key).exists() and (file_store_root / recent.file_key).exists()
    assert (file_store_root / "task_files/2025/06/report/97_cafecafe.pdf").exists()
    assert (file_store_root / "reports/2025/01/02/not_a_task_file.pdf").exists()
    assert main(["exports", "cleanup", "--days", "30"]) == 0
    assert capsys.readouterr().out.splitlines() == ["0 file(s), 0 bytes removed (older than 30 days)"]
    assert main(["exports", "cleanup", "--days", "0"]) == 2


def test_the_daily_cleanup_job_records_what_it_removed(
    engine, db_url, people, store, file_store_root, tmp_path, monkeypatch
):
    old = completed_task(engine, store, people["bruno"], b"x" * 100, finished_days_ago=31)
    monkeypatch.setenv("ROUTINES_EXPORTS_RETENTION_DAYS", "30")
    resources = {
        "database": DatabaseResource(url=db_url),
        "file_store": FileStoreResource(root=str(file_store_root)),
    }
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        dry = export_files_cleanup_job.execute_in_process(
            instance=instance,
            resources=resources,
            run_config={"ops": {"cleanup_export_files": {"config": {"dry_run": True}}}},
        )
        result = export_files_cleanup_job.execute_in_process(instance=instance, resources=resources)

        def metadata(run):
            (event,) = [e for e in run.all_events if e.event_type_value == "STEP_OUTPUT"]
            return {k: v.value for k, v in event.event_specific_data.metadata.items()}

        assert metadata(dry)["keys"] == metadata(result)["keys"] == [old.file_key]
        assert metadata(dry)["dry_run"] is True
        removed = metadata(result)
        assert (removed["removed_files"], removed["removed_bytes"], removed["tasks"], removed["days"]) == (
            1,
            100,
            [old.id],
            30,
        )
    assert not (file_store_root / old.file_key).exists()
    assert export_files_cleanup_schedule.execution_timezone == "America/Sao_Paulo"


def test_request_list_and_show(engine, people, capsys, tmp_path):
    payload = tmp_path / "payload.json"
    payload.write_text('{"month": "2025-06"}', encoding="utf-8")
    assert main(["exports", "request", "invoices_month", "--user", "ana.souza@beg.com.br", "--payload", f"@{payload}",
                 "--priority", "3"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert out.startswith("task ") and "pending for ana.souza@beg.com.br (BEG)" in out
    task_id = int(out.split()[1].rstrip(":"))
    assert main(["exports", "list", "--user", "ana.souza@beg.com.br"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.split("\t")[2:7] == ["invoices_month", "pending", "0%", "BEG", "ana.souza@beg.com.br"]
    assert main(["exports", "list", "--company", "ACME"]) == 0
    assert capsys.readouterr().out == "no tasks\n"
    assert main(["exports", "show", str(task_id)]) == 0
    shown = dict(line.split(":\t", 1) for line in capsys.readouterr().out.splitlines())
    assert (
        shown["status"] == "pending"
        and shown["priority"] == "3"
        and shown["payload"] == '{"month": "2025-06"}'
    )
    assert main(["exports", "types"]) == 0
    assert "approval_letter\tDOCX" in capsys.readouterr().out
