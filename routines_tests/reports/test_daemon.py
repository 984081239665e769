"""A real `dagster-daemon` on a real instance (the repository's dagster.yaml, with its run retries) in a temporary
DAGSTER_HOME: a report whose SMTP server refuses it for good (550) gives exactly one run, one failed execution
and one notification - the run-retry logic of the daemon does not run it again."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
from sqlalchemy import select, update

from routines.database.engine import get_engine, session_scope
from routines_tests.helpers import REPO_ROOT
from routines_tests.reports.conftest import DEMO_LIKE_QUERY, seed_companies

WAIT_SECONDS = 420


def _wait_for(what: str, condition, daemon: subprocess.Popen, log: Path):
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if daemon.poll() is not None:
            raise AssertionError(
                f"dagster-daemon exited ({daemon.returncode}) waiting for {what}:\n{log.read_text()[-4000:]}"
            )
        time.sleep(2)
    raise AssertionError(f"gave up waiting for {what}:\n{log.read_text()[-4000:]}")


def test_permanent_smtp_failure_gives_one_run_one_failed_execution_one_notification(
    sqlite_db_url, smtp_server, tmp_path, secret_key
):
    from routines.notifications.models import Notification
    from routines.reports.models import ReportDefinition, ReportExecution
    from routines.reports.service import save_definition, set_smtp_settings

    engine = get_engine(sqlite_db_url)
    companies = seed_companies(engine)
    smtp_server.handler.fail_next = 1000
    smtp_server.handler.fail_code = "550 5.7.1 Caixa postal indisponível"
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    hour = (now.astimezone(ZoneInfo("America/Sao_Paulo")).hour + 12) % 24  # far from now: fires once
    with session_scope(engine) as session:
        set_smtp_settings(session, companies["BEG"], host="127.0.0.1", port=smtp_server.port, security="none",
                          from_address="rel@beg.com.br")  # fmt: skip
        definition = ReportDefinition(
            company_id=companies["BEG"], name="Resumo recusado", query_sql=DEMO_LIKE_QUERY, format="csv",
            recipients_to=["financeiro@beg.com.br"], recipients_cc=[], cron=f"0 {hour} * * *",
            timezone="America/Sao_Paulo", active=True,
        )  # fmt: skip
        save_definition(session, definition)
        report_id = definition.id
    with session_scope(
        engine
    ) as session:  # due since a minute ago: exactly one fire time (the next is hours away)
        session.execute(update(ReportDefinition).values(next_run_at=now - timedelta(minutes=1)))

    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(
        REPO_ROOT / "dagster.yaml", home / "dagster.yaml"
    )  # the real instance settings, run retries on
    assert "retry_on_asset_or_op_failure: false" in (home / "dagster.yaml").read_text()
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(
        "load_from:\n  - python_module:\n      module_name: routines.definitions\n"
        f"      location_name: routines\n      working_directory: {REPO_ROOT}\n"
    )
    env = {
        **os.environ, "DAGSTER_HOME": str(home), "ROUTINES_DATABASE_URL": sqlite_db_url,
        "ROUTINES_FILE_STORE_ROOT": str(tmp_path / "files"), "ROUTINES_SECRET_KEY": secret_key,
        "ROUTINES_REPORTS_SMTP_ATTEMPTS": "3", "ROUTINES_REPORTS_SMTP_BACKOFF": "0.01",
    }  # fmt: skip
    log = tmp_path / "daemon.log"
    daemon_bin = Path(sys.executable).with_name("dagster-daemon")
    with open(log, "wb") as output:
        daemon = subprocess.Popen(
            [str(daemon_bin), "run", "-w", str(workspace)], cwd=tmp_path, env=env, stdout=output,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        os.environ["DAGSTER_HOME"] = str(home)
        with dg.DagsterInstance.get() as instance:

            def report_runs():
                return instance.get_runs(dg.RunsFilter(job_name="reports_job"))

            [run] = _wait_for(
                "the report run to fail",
                lambda: [r for r in report_runs() if r.status == dg.DagsterRunStatus.FAILURE],
                daemon, log,
            )  # fmt: skip
            # the run-retry logic (in the daemon's event log consumer) has seen the failure and decided
            failure_id = max(
                record.storage_id
                for record in instance.fetch_run_status_changes(
                    dg.DagsterEventType.RUN_FAILURE, limit=100
                ).records
                if record.event_log_entry.run_id == run.run_id
            )
            key = "EVENT_LOG_CONSUMER_CURSOR-PIPELINE_FAILURE"
            _wait_for(
                "the run-retry daemon to process the failure",
                lambda: int(instance.daemon_cursor_storage.get_cursor_values({key}).get(key) or 0) >= failure_id,
                daemon, log,
            )  # fmt: skip
            _wait_for(
                "the failure notification",
                lambda: _notifications(engine, Notification),
                daemon, log,
            )  # fmt: skip
            assert instance.get_run_by_id(run.run_id).tags.get("dagster/will_retry") == "false"
            assert [r.run_id for r in report_runs()] == [run.run_id]  # exactly one run, no retry
    finally:
        os.environ.pop("DAGSTER_HOME", None)
        _stop(daemon)

    with session_scope(engine) as session:
        executions = list(
            session.scalars(select(ReportExecution).where(ReportExecution.report_id == report_id))
        )
        notes = _notifications(engine, Notification)
    assert [(e.status, e.dagster_run_id) for e in executions] == [("failed", run.run_id)]
    assert "SMTP 550 5.7.1 Caixa postal indispon" in executions[0].error
    assert [n.run_id for n in notes] == [run.run_id]
    assert smtp_server.handler.attempts == 1  # a permanent refusal is not retried inside the step either
    assert smtp_server.messages == []


def _notifications(engine, model):
    with session_scope(engine) as session:
        return list(session.scalars(select(model).where(model.job_name == "reports_job")))


def _stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
