"""Notifications for people: failed runs go to the owners of the failed assets (else the routine's company's
admins), once per root run even when Dagster retries it; users list and read their own."""

from __future__ import annotations

import dagster as dg
import pytest
from sqlalchemy import select, text

from routines.cli import main
from routines.companies.demo import seed_demo
from routines.companies.models import User
from routines.database import migrate
from routines.database.engine import get_engine, session_scope
from routines.defs.notifications.sensors import notify_failed_runs
from routines.lib.resources import DatabaseResource
from routines.notifications.models import Notification
from routines.notifications.service import (
    FailedRun,
    list_notifications,
    mark_read,
    notify,
    record_failed_run,
    unread_count,
)

DAY = dg.StaticPartitionsDefinition(["2024-11-29"])


@dg.asset(partitions_def=DAY)
def failing_asset() -> None:
    raise RuntimeError("arquivo COTAHIST ausente")


@dg.asset(partitions_def=DAY, owners=["Bruno.Lima@beg.com.br", "team:mercado"])
def owned_asset() -> None:
    raise RuntimeError("B3 fora do ar")


@pytest.fixture
def people(engine):
    """The demo companies and users (BEG: Ana admin, Bruno operator, Carla viewer; ACME: Diego admin, ...)."""
    with session_scope(engine) as session:
        seed_demo(session)
        return {user.email.split("@")[0]: user.id for user in session.scalars(select(User))}


def failed_run(instance, asset, tags=None):
    result = dg.materialize(
        [asset], instance=instance, partition_key="2024-11-29", raise_on_error=False, tags=tags or {}
    )
    assert not result.success
    return result.run_id


def sensor_context(instance, run_id, db_url, repository_def=None):
    failure_event = next(
        event
        for event in instance.all_logs(run_id)
        if event.dagster_event and event.dagster_event.event_type == dg.DagsterEventType.RUN_FAILURE
    ).dagster_event
    return dg.build_run_status_sensor_context(
        sensor_name="notify_failed_runs",
        dagster_event=failure_event,
        dagster_instance=instance,
        dagster_run=instance.get_run_by_id(run_id),
        resources={"database": DatabaseResource(url=db_url)},
        repository_def=repository_def,
    ).for_run_failure()


def test_a_failed_run_with_nobody_to_tell_goes_to_the_general_feed_once(db_url):
    with dg.instance_for_test() as instance:
        run_id = failed_run(instance, failing_asset)
        context = sensor_context(instance, run_id, db_url)
        notify_failed_runs(context)
        notify_failed_runs(context)  # the daemon may deliver the same run twice: still one notification

    with session_scope(get_engine(db_url)) as session:
        rows = list_notifications(session)
    assert len(rows) == 1
    assert (rows[0].kind, rows[0].user_id, rows[0].run_id) == ("error", None, run_id)
    assert rows[0].title == "Falha na materialização de failing_asset (partição 2024-11-29)"
    assert run_id in rows[0].message and "arquivo COTAHIST ausente" in rows[0].message
    assert not rows[0].is_read


def test_owners_of_the_failed_asset_are_told_once_even_when_dagster_retries(db_url, people):
    repository = dg.Definitions(assets=[owned_asset]).get_repository_def()
    with dg.instance_for_test() as instance:
        first = failed_run(instance, owned_asset)
        notify_failed_runs(sensor_context(instance, first, db_url, repository))
        # Dagster's run retries: a new run tagged with its parent and root runs, failing again
        retry = failed_run(
            instance, owned_asset, tags={"dagster/parent_run_id": first, "dagster/root_run_id": first}
        )
        notify_failed_runs(sensor_context(instance, retry, db_url, repository))

    with session_scope(get_engine(db_url)) as session:
        rows = list(session.scalars(select(Notification)))
        # the owner matched by e-mail (case does not matter; the team is not a person), nobody else
        assert [(row.user_id, row.run_id) for row in rows] == [(people["bruno.lima"], first)]
        assert rows[0].company_id == session.get(User, people["bruno.lima"]).company_id
        assert "B3 fora do ar" in rows[0].message


def test_without_owners_the_admins_of_the_routines_company_are_told(db_url, people, monkeypatch):
    with dg.instance_for_test() as instance:
        shared = failed_run(instance, failing_asset)
        notify_failed_runs(sensor_context(instance, shared, db_url))
        tagged = failed_run(instance, failing_asset, tags={"routines/company": "ACME"})
        notify_failed_runs(sensor_context(instance, tagged, db_url))
        monkeypatch.setenv("ROUTINES_ROUTINE_COMPANY", "BEG")
        configured = failed_run(instance, failing_asset)
        notify_failed_runs(sensor_context(instance, configured, db_url))

    with session_scope(get_engine(db_url)) as session:
        told = {}
        for row in session.scalars(select(Notification).order_by(Notification.id)):
            told.setdefault(row.run_id, []).append(row.user_id)
    # a routine of no company in particular: every company's admins; a tagged one: its company's; with
    # ROUTINES_ROUTINE_COMPANY: the admins of the company that runs the shared routines
    assert sorted(told[shared]) == sorted([people["ana.souza"], people["diego.alves"]])
    assert told[tagged] == [people["diego.alves"]]
    assert told[configured] == [people["ana.souza"]]


def test_export_runs_are_left_to_their_domain(db_url, people):
    with dg.instance_for_test() as instance:
        run_id = failed_run(instance, failing_asset, tags={"routines/notifies_itself": "true"})
        notify_failed_runs(sensor_context(instance, run_id, db_url))
    with session_scope(get_engine(db_url)) as session:
        assert list_notifications(session) == []


def test_a_user_lists_and_reads_their_own_from_the_cli(db_url, people, capsys):
    with session_scope(get_engine(db_url)) as session:
        ana, diego = session.get(User, people["ana.souza"]), session.get(User, people["diego.alves"])
        for n in range(3):
            notify(session, kind="info", title=f"Aviso {n}", message="texto", user=ana, link_url="https://x/1",
                   link_text="Abrir")  # fmt: skip
        notify(session, kind="warning", title="Outro", message="de outra pessoa", user=diego)
        assert unread_count(session, ana.id) == 3
    assert main(["notifications", "list", "--user", "ana.souza@beg.com.br", "--unread"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all("\tinfo\tAviso" in line and "Abrir: https://x/1" in line for line in lines)
    ids = [int(line.split("\t")[0]) for line in lines]
    assert main(["notifications", "mark-read", str(ids[0]), "--user", "ana.souza@beg.com.br"]) == 0
    assert "1 marked as read" in capsys.readouterr().out
    # someone else's notification is refused like an unknown one
    with session_scope(get_engine(db_url)) as session:
        other = list_notifications(session, user_id=people["diego.alves"])[0].id
    assert main(["notifications", "mark-read", str(other), "--user", "ana.souza@beg.com.br"]) == 2
    assert f"no notification with id {other}" in capsys.readouterr().err
    assert main(["notifications", "mark-read", "--all", "--user", str(people["ana.souza"])]) == 0
    assert "2 marked as read" in capsys.readouterr().out
    assert main(["notifications", "list", "--unread"]) == 0
    assert capsys.readouterr().out.count("\t") > 0  # Diego's is still unread in the general listing
    assert main(["notifications", "list", "--user", "nobody@x.com"]) == 2


def test_dedup_key_and_kinds(db_url, people):
    with session_scope(get_engine(db_url)) as session:
        ana = session.get(User, people["ana.souza"])
        first = notify(session, kind="file_ready", title="t", message="m", user=ana, dedup_key="k1")
        again = notify(session, kind="file_ready", title="t", message="m", user=ana, dedup_key="k1")
        assert first.id == again.id
        with pytest.raises(ValueError, match="notification kind 'run_failed'"):
            notify(session, kind="run_failed", title="t", message="m")


def test_long_errors_are_cut(db_url):
    with session_scope(get_engine(db_url)) as session:
        (row,) = record_failed_run(
            session, FailedRun(run_id="r", job_name="j", partition_key=None, error="e" * 5000)
        )
        assert len(row.message) < 2100
        assert session.get(Notification, row.id).message.endswith("…")


def test_marking_unknown_ids_changes_nothing(db_url):
    with session_scope(get_engine(db_url)) as session:
        (row,) = record_failed_run(
            session, FailedRun(run_id="r", job_name="j", partition_key=None, error="x")
        )
        with pytest.raises(ValueError, match="no notification with id 7"):
            mark_read(session, [row.id, 7])
        assert not row.is_read


def test_the_migration_keeps_existing_notifications_valid(empty_db_url):
    migrate.upgrade(empty_db_url, "0007_users")
    engine = get_engine(empty_db_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO notifications (kind, title, message, run_id, job_name, is_read, created_at) "
                "VALUES ('run_failed', 'Falha na execução de b3_quotes_job', 'A execução old-run falhou: x', "
                "'old-run', 'b3_quotes_job', false, CURRENT_TIMESTAMP)"
            )
        )
    migrate.upgrade(empty_db_url)
    with session_scope(engine) as session:
        (old,) = list_notifications(session)
        assert (old.kind, old.user_id, old.run_id, old.dedup_key) == ("error", None, "old-run", "run:old-run")
        # the same failed run delivered again after the upgrade: still that one notification
        assert record_failed_run(
            session, FailedRun(run_id="old-run", job_name="b3_quotes_job", partition_key=None, error="x")
        ) == [old]
    migrate.downgrade(empty_db_url, "0007_users")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT kind, run_id FROM notifications")).all() == [
            ("run_failed", "old-run")
        ]
