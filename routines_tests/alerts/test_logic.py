"""Pure logic of alerts: deadlines across Carnival 2025 and a month-end, catch-up decisions, routes, quiet
window, pt-BR messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from routines.alerts.catchup import decide
from routines.alerts.deadlines import TIMEZONE, Deadline, DeadlineError, evaluate, expectations
from routines.alerts.messages import Alert, body, title
from routines.alerts.routing import Route, default_routes, select_routes, suppressed
from routines.calendar.registry import get_calendar

B3 = get_calendar("B3")
ANBIMA = get_calendar("ANBIMA")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TIMEZONE)


def test_nothing_is_expected_on_carnival_and_the_due_day_moves_with_the_calendar():
    d0 = Deadline.parse({"calendar": "B3", "time": "20:00", "business_days_after": 0})
    labels = [e.label for e in expectations(d0, B3, at("2025-03-04T23:00"), 3)]
    assert labels == ["2025-02-26", "2025-02-27", "2025-02-28"]  # Monday 03 and Tuesday 04 closed
    d1 = Deadline.parse('{"calendar": "B3", "time": "20:00", "business_days_after": 1}')
    due = {e.label: e.due for e in expectations(d1, B3, at("2025-03-05T21:00"), 2)}
    assert due["2025-02-28"] == at("2025-03-05T20:00")  # D+1 after Carnival: Ash Wednesday


def test_evaluation_passed_warn_failed():
    deadline = Deadline.parse({"calendar": "B3", "time": "20:00"})
    done = {
        "2025-02-27": datetime(2025, 2, 27, 22, tzinfo=UTC),
        "2025-02-28": datetime(2025, 2, 28, 22, tzinfo=UTC),
    }
    # Carnival: every expected session loaded, nothing missing on the closed days
    assert evaluate(deadline, B3, at("2025-03-04T21:00"), done, 2).status == "passed"
    # Ash Wednesday, 19:30: the session of the day is due at 20:00 -> warning
    warn = evaluate(deadline, B3, at("2025-03-05T19:30"), done, 3)
    assert warn.status == "warn" and [o.expectation.label for o in warn.warned] == ["2025-03-05"]
    failed = evaluate(deadline, B3, at("2025-03-05T20:30"), done, 3)
    assert failed.status == "failed" and [o.expectation.label for o in failed.failed] == ["2025-03-05"]
    assert failed.failed[0].late_by == timedelta(minutes=30)


def test_month_end_and_monthly_deadlines():
    deadline = Deadline.parse({"calendar": "B3", "time": "20:00"})
    labels = [e.label for e in expectations(deadline, B3, at("2025-04-01T08:00"), 2)]
    assert labels == ["2025-03-28", "2025-03-31"]
    # SAT uploads of March by the 5th ANBIMA business day of March: 03/03 and 04/03 closed -> 11/03
    sat = Deadline.parse({"kind": "monthly", "calendar": "ANBIMA", "time": "18:00", "business_day": 5})
    (march,) = [e for e in expectations(sat, ANBIMA, at("2025-03-11T18:30"), 3) if e.label == "2025-03-01"]
    assert march.due == at("2025-03-11T18:00")
    assert "2025-03-01" not in [e.label for e in expectations(sat, ANBIMA, at("2025-03-10T18:30"), 3)]


def test_refresh_deadline_wants_both_open_months_refreshed_that_day():
    cvm = Deadline.parse({"kind": "refresh", "calendar": "ANBIMA", "time": "10:00"})
    moment = at("2025-03-05T10:30")
    refreshed = {"2025-02-01": at("2025-03-05T09:40"), "2025-03-01": at("2025-03-04T09:40")}
    result = evaluate(cvm, ANBIMA, moment, refreshed, 1)
    assert result.status == "failed" and result.failed[0].expectation.partitions == (
        "2025-02-01",
        "2025-03-01",
    )
    refreshed["2025-03-01"] = at("2025-03-05T09:41")
    assert evaluate(cvm, ANBIMA, moment, refreshed, 1).status == "passed"
    # no expectation on Carnival Tuesday
    assert [e.label for e in expectations(cvm, ANBIMA, at("2025-03-04T12:00"), 1)] == ["2025-02-28"]


@pytest.mark.parametrize(
    "value, message",
    [
        ({"time": "20:00"}, "calendar is missing"),
        ({"calendar": "B3", "time": "8h"}, "expected HH:MM"),
        ({"calendar": "B3", "time": "20:00", "kind": "weekly"}, "kind 'weekly'"),
        ("{not json", "is not JSON"),
    ],
)
def test_bad_declarations_name_the_asset_and_field(value, message):
    with pytest.raises(DeadlineError, match=message) as info:
        Deadline.parse(value, "b3_quotes")
    assert str(info.value).startswith("b3_quotes:")


def test_catch_up_requests_only_missing_days_whose_data_can_exist():
    deadline = Deadline.parse({"calendar": "B3", "time": "20:00"})
    decision = decide(
        B3,
        at("2025-03-06T19:00"),
        5,
        materialized={"2025-02-27"},
        running={"2025-02-28"},
        failed={"2025-02-26"},
        deadline=deadline,
    )
    assert decision.request == ["2025-03-05"]  # 26/02 failed, 27/02 done, 28/02 running, Carnival closed
    assert decision.not_yet == ["2025-03-06"]  # before its 20:00 deadline
    assert decision.failed == ["2025-02-26"] and decision.running == ["2025-02-28"]
    limited = decide(B3, at("2025-03-07T21:00"), 5, materialized=set(), deadline=deadline, limit=2)
    assert limited.request == ["2025-02-27", "2025-02-28"]  # oldest first: the next to leave the lookback


def test_routes_quiet_window_and_message():
    finance = Route("finance", "slack", "FIN_URL", groups=("invoices",))
    ana = Route("ana", "email", "ana@beg.com.br", owners=("Ana@BEG.com.br",))
    defaults = default_routes(
        {"ROUTINES_ALERT_SLACK_WEBHOOK_URL": "http://x", "ROUTINES_ALERT_EMAIL_TO": "op@x"}
    )
    assert [r.name for r in defaults] == ["default-email", "default-slack"]
    assert select_routes([finance, ana], ["ana@beg.com.br"], ["market"], defaults) == [ana]
    assert select_routes([finance, ana], [], ["invoices"], defaults) == [finance]
    assert select_routes([finance, ana], [], ["market"], defaults) == defaults
    now = datetime(2025, 3, 5, 23, tzinfo=UTC)
    assert suppressed(now - timedelta(minutes=10), now, 30)
    assert not suppressed(now - timedelta(minutes=31), now, 30) and not suppressed(None, now, 30)
    alert = Alert(
        kind="deadline_missed", routine="b3_quotes", partition="2025-03-05", reason="não carregado",
        run_url="http://dagster/runs/abc", at=now,
    )  # fmt: skip
    assert title(alert) == "[Prazo perdido] b3_quotes (partição 2025-03-05)"
    assert body(alert).splitlines() == [
        "Rotina: b3_quotes",
        "Partição: 2025-03-05",
        "Motivo: não carregado",
        "Quando: 05/03/2025 20:00 (horário de Brasília)",
        "Execução no Dagster: http://dagster/runs/abc",
    ]
