"""Failed runs become notifications (pt-BR) through the run-failure sensor; operators list and read them."""

from __future__ import annotations

import dagster as dg
import pytest

from routines.cli import main
from routines.database.engine import get_engine, session_scope
from routines.defs.notifications.sensors import notify_failed_runs
from routines.lib.resources import DatabaseResource
from routines.notifications.models import Notification
from routines.notifications.service import FailedRun, list_notifications, mark_read, record_failed_run


@dg.asset(partitions_def=dg.StaticPartitionsDefinition(["2024-11-29"]))
def failing_asset() -> None:
    raise RuntimeError("arquivo COTAHIST ausente")


def test_a_failed_run_becomes_one_notification(db_url):
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [failing_asset], instance=instance, partition_key="2024-11-29", raise_on_error=False
        )
        assert not result.success
        run = instance.get_run_by_id(result.run_id)
        failure_event = next(
            event
            for event in instance.all_logs(result.run_id)
            if event.dagster_event and event.dagster_event.event_type == dg.DagsterEventType.RUN_FAILURE
        ).dagster_event
        context = dg.build_run_status_sensor_context(
            sensor_name="notify_failed_runs",
            dagster_event=failure_event,
            dagster_instance=instance,
            dagster_run=run,
            resources={"database": DatabaseResource(url=db_url)},
        ).for_run_failure()
        notify_failed_runs(context)
        notify_failed_runs(context)  # the daemon may deliver the same run twice: still one notification

    with session_scope(get_engine(db_url)) as session:
        rows = list_notifications(session)
    assert len(rows) == 1
    assert rows[0].kind == "run_failed"
    assert rows[0].run_id == result.run_id
    assert rows[0].title == "Falha na materialização de failing_asset (partição 2024-11-29)"
    assert result.run_id in rows[0].message and "arquivo COTAHIST ausente" in rows[0].message
    assert not rows[0].is_read


def test_list_and_mark_read_from_the_cli(db_url, capsys):
    with session_scope(get_engine(db_url)) as session:
        for n in range(3):
            record_failed_run(
                session, FailedRun(run_id=f"run-{n}", job_name="b3_daily", partition_key=None, error="x")
            )
    assert main(["notifications", "list", "--unread"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3
    with session_scope(get_engine(db_url)) as session:
        ids = [row.id for row in list_notifications(session)]
    assert main(["notifications", "mark-read", str(ids[0])]) == 0
    assert "1 marked as read" in capsys.readouterr().out
    assert main(["notifications", "list", "--unread"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    assert main(["notifications", "mark-read", "--all"]) == 0
    assert "2 marked as read" in capsys.readouterr().out
    assert main(["notifications", "mark-read", "999"]) == 2
    assert "no notification with id 999" in capsys.readouterr().err


def test_long_errors_are_cut(db_url):
    with session_scope(get_engine(db_url)) as session:
        row = record_failed_run(
            session, FailedRun(run_id="r", job_name="j", partition_key=None, error="e" * 5000)
        )
        assert len(row.message) < 2100
        assert session.get(Notification, row.id).message.endswith("…")


def test_marking_unknown_ids_changes_nothing(db_url):
    with session_scope(get_engine(db_url)) as session:
        row = record_failed_run(session, FailedRun(run_id="r", job_name="j", partition_key=None, error="x"))
        with pytest.raises(ValueError, match="no notification with id 7"):
            mark_read(session, [row.id, 7])
        assert not row.is_read
