"""The sensor's core at tick level, with explicit times: due definitions, restart, catch-up, holidays, DST,
run-now requests. On SQLite and PostgreSQL."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update

from routines.database.engine import session_scope
from routines.reports.config import ReportsConfig
from routines.reports.models import ReportDefinition, ReportExecution, ReportRunRequest
from routines.reports.service import request_run, set_active
from routines.reports.ticks import plan_tick

SP = ZoneInfo("America/Sao_Paulo")
CONFIG = ReportsConfig(catch_up_limit=2)


def sp(*args) -> datetime:
    return datetime(*args, tzinfo=SP)


def executions(engine, report_id=None) -> list[ReportExecution]:
    with session_scope(engine) as session:
        query = select(ReportExecution).order_by(ReportExecution.scheduled_for, ReportExecution.id)
        if report_id is not None:
            query = query.where(ReportExecution.report_id == report_id)
        return list(session.scalars(query))


def next_run(engine, report_id) -> datetime:
    with session_scope(engine) as session:
        return session.get(ReportDefinition, report_id).next_run_at


def finish_all(engine, status="success"):
    """What the runs do when they end."""
    with session_scope(engine) as session:
        session.execute(
            update(ReportExecution).where(ReportExecution.status == "pending").values(status=status)
        )


def test_due_report_is_requested_once_and_next_run_advances(engine, make_report):
    report_id = make_report(now=sp(2018, 2, 9, 7, 0))
    assert next_run(engine, report_id) == sp(2018, 2, 9, 8, 0)
    assert plan_tick(engine, sp(2018, 2, 9, 7, 59), CONFIG).runs == []

    plan = plan_tick(engine, sp(2018, 2, 9, 8, 0, 30), CONFIG)
    [run] = plan.runs
    assert run.run_key == f"report-{report_id}-20180209T100000Z"  # 08:00 -02:00 (DST)
    assert run.partition_day == "2018-02-09" and run.trigger == "schedule"
    assert next_run(engine, report_id) == sp(2018, 2, 10, 8, 0)
    [row] = executions(engine)
    assert (row.status, row.run_key) == ("pending", run.run_key)


def test_daemon_restart_neither_skips_nor_doubles(engine, make_report):
    make_report(now=sp(2018, 2, 9, 7, 0))
    first = plan_tick(engine, sp(2018, 2, 9, 8, 0, 30), CONFIG)
    # the daemon dies after the commit, before launching the run; after the restart the same run key comes
    # back (Dagster deduplicates run keys), and no new execution row is made
    again = plan_tick(engine, sp(2018, 2, 9, 8, 5), CONFIG)
    assert [r.run_key for r in again.runs] == [r.run_key for r in first.runs]
    assert len(executions(engine)) == 1
    finish_all(engine)
    assert plan_tick(engine, sp(2018, 2, 9, 8, 6), CONFIG).runs == []
    assert len(executions(engine)) == 1


def test_downtime_is_caught_up_to_the_limit_and_older_ticks_recorded_as_missed(engine, make_report):
    report_id = make_report(now=sp(2018, 2, 9, 7, 0))
    plan_tick(engine, sp(2018, 2, 9, 8, 1), CONFIG)
    finish_all(engine)
    # down from Friday 08:01 to Wednesday 09:00: fire times 10, 11, 12, 13 and 14 February
    plan = plan_tick(engine, sp(2018, 2, 14, 9, 0), CONFIG)
    assert [r.scheduled_for.astimezone(SP).day for r in plan.runs] == [13, 14]
    assert plan.missed == 3
    rows = executions(engine, report_id)[1:]
    assert [(r.scheduled_for.astimezone(SP).day, r.status) for r in rows] == [
        (10, "missed"), (11, "missed"), (12, "missed"), (13, "pending"), (14, "pending")
    ]  # fmt: skip
    assert "limite de recuperação" in rows[0].error
    assert next_run(engine, report_id) == sp(2018, 2, 15, 8, 0)


def test_business_days_only_report_skips_carnaval(engine, make_report):
    report_id = make_report(now=sp(2018, 2, 9, 7, 0), calendar_name="ANBIMA", business_days_only=True)
    plan_tick(engine, sp(2018, 2, 9, 8, 1), CONFIG)
    finish_all(engine)
    assert next_run(engine, report_id) == sp(2018, 2, 14, 8, 0)  # Sat, Sun, Carnaval Mon/Tue skipped
    for day in (10, 11, 12, 13):
        assert plan_tick(engine, sp(2018, 2, day, 8, 30), CONFIG).runs == []
    plan = plan_tick(engine, sp(2018, 2, 14, 8, 0), CONFIG)
    assert [r.partition_day for r in plan.runs] == ["2018-02-14"]
    assert plan.missed == 0


def test_ticks_across_the_2018_dst_changes_fire_each_wall_time_once(engine, make_report):
    midnight = make_report(name="Meia-noite", cron="0 0 * * *", now=sp(2018, 11, 2, 12))
    late = make_report(name="Noite", cron="30 23 * * *", now=sp(2018, 11, 2, 12))
    tick = sp(2018, 11, 2, 12).astimezone(UTC)
    while tick < datetime(2018, 11, 6, tzinfo=UTC):  # a tick every 10 minutes, runs finish at once
        plan_tick(engine, tick, CONFIG)
        finish_all(engine)
        tick += timedelta(minutes=10)
    keys = [e.run_key.split("-")[-1] for e in executions(engine, midnight)]
    assert keys == ["20181103T030000Z", "20181104T030000Z", "20181105T020000Z"]  # 4 Nov: 01:00 -02:00
    late_days = [e.scheduled_for.astimezone(SP).strftime("%d %H:%M") for e in executions(engine, late)]
    assert late_days == ["02 23:30", "03 23:30", "04 23:30"]  # the ticks end on the 5th at 22:00 local

    fall = make_report(name="Queda", cron="30 23 * * *", now=sp(2018, 2, 16, 12))
    tick = sp(2018, 2, 16, 12).astimezone(UTC)
    while tick < datetime(2018, 2, 19, 12, tzinfo=UTC):
        plan_tick(engine, tick, CONFIG)
        finish_all(engine)
        tick += timedelta(minutes=10)
    days = [e.scheduled_for.astimezone(SP).strftime("%d %H:%M%z") for e in executions(engine, fall)]
    assert days == ["16 23:30-0200", "17 23:30-0200", "18 23:30-0300"]  # the repeated 23:30 of the 17th: once


def test_run_now_requests_are_picked_up_and_disabled_reports_rejected(engine, make_report):
    active = make_report(name="Ativo", now=sp(2026, 11, 20, 7))
    disabled = make_report(name="Inativo", now=sp(2026, 11, 20, 7))
    with session_scope(engine) as session:
        set_active(session, disabled, False, now=sp(2026, 11, 20, 7))
        ok = request_run(session, active, requested_by="maria").id
        refused = request_run(session, disabled, requested_by="joao").id
    plan = plan_tick(engine, sp(2026, 11, 20, 7, 30), CONFIG)
    assert [r.run_key for r in plan.runs] == [f"report-{active}-request-{ok}"]
    assert plan.runs[0].trigger == "manual"
    assert (plan.requests_accepted, plan.requests_rejected) == (1, 1)
    with session_scope(engine) as session:
        requests = {r.id: r for r in session.scalars(select(ReportRunRequest))}
        assert requests[ok].status == "accepted" and requests[ok].execution_id is not None
        assert requests[refused].status == "rejected" and "is disabled" in requests[refused].error
        failed = session.get(ReportExecution, requests[refused].execution_id)
        assert failed.status == "failed" and "routines reports enable" in failed.error
    # picked up once: the next tick does not create another execution
    plan_tick(engine, sp(2026, 11, 20, 7, 31), CONFIG)
    assert len(executions(engine)) == 2
    # a disabled definition is never due
    assert next_run(engine, disabled) is None


def test_a_tick_handles_a_bounded_batch_and_the_rest_next_tick(engine, make_report):
    ids = [make_report(name=f"R{i}", now=sp(2026, 11, 20, 7)) for i in range(5)]
    config = ReportsConfig(catch_up_limit=1, tick_batch_size=2)
    now = sp(2026, 11, 20, 8, 1)
    sizes = []
    for _ in range(3):
        plan = plan_tick(engine, now, config)
        sizes.append(plan.due_definitions)
    assert sizes == [2, 2, 1]
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(ReportExecution)) == 5
        assert {d.next_run_at for d in session.scalars(select(ReportDefinition))} == {sp(2026, 11, 21, 8)}
    assert sorted(e.report_id for e in executions(engine)) == ids


def test_pending_executions_that_never_ran_expire(engine, make_report):
    make_report(now=sp(2026, 11, 20, 7))
    plan_tick(engine, sp(2026, 11, 20, 8, 1), CONFIG)
    plan = plan_tick(engine, sp(2026, 11, 21, 7, 0), ReportsConfig(pending_window_hours=12))
    assert plan.expired == 1 and plan.runs == []
    [row] = executions(engine)
    assert row.status == "failed" and "no run started within 12 h" in row.error


def test_definitions_written_by_the_application_are_scheduled_and_bad_ones_recorded_once(engine, companies):
    from sqlalchemy import insert

    base = {"company_id": companies["BEG"], "query_sql": "select 1", "format": "xlsx", "recipients_to": ["a@b.com"],
            "recipients_cc": [], "timezone": "America/Sao_Paulo", "business_days_only": False, "shift": "skip",
            "active": True, "created_at": sp(2026, 11, 20), "updated_at": sp(2026, 11, 20)}  # fmt: skip
    with session_scope(engine) as session:  # as the business application's CRUD writes them: no next_run_at
        session.execute(insert(ReportDefinition), [
            {**base, "name": "Novo", "cron": "15 9 * * *"},
            {**base, "name": "Cron inválido", "cron": "99 9 * * *"},
            {**base, "name": "Calendário inexistente", "cron": "0 9 * * *", "calendar_name": "NAO-EXISTE",
             "business_days_only": True},
        ])  # fmt: skip
        ids = {d.name: d.id for d in session.scalars(select(ReportDefinition))}
    plan = plan_tick(engine, sp(2026, 11, 20, 8, 0), CONFIG)
    assert (plan.initialized, plan.invalid) == (1, 2)
    assert next_run(engine, ids["Novo"]) == sp(2026, 11, 20, 9, 15)
    plan_tick(engine, sp(2026, 11, 20, 8, 1), CONFIG)  # recorded once, not at every tick
    failed = {e.report_id: e for e in executions(engine) if e.status == "failed"}
    assert set(failed) == {ids["Cron inválido"], ids["Calendário inexistente"]}
    assert "invalid schedule, report not scheduled: report 'Cron inválido', field cron:" in failed[
        ids["Cron inválido"]].error  # fmt: skip
    assert "NAO-EXISTE" in failed[ids["Calendário inexistente"]].error
    plan = plan_tick(engine, sp(2026, 11, 20, 9, 15), CONFIG)
    assert [r.report_id for r in plan.runs] == [ids["Novo"]]
