"""`GET /api/routines/status/` reads the Dagster instance of DAGSTER_HOME: each job's last run, its schedules'
next times (and whether they run), its current partition and whether it is done; a clear 503 without it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg

from routines.api.routes.routines_status import repository


def test_without_dagster_home_the_answer_says_so(api, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    response = api.get("carla", "/api/routines/status/")
    assert response.status_code == 503 and "DAGSTER_HOME" in response.json()["erro"]


def test_status_from_the_instance(api, tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    job = repository().get_job("close_past_appointments_job")
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(instance=instance)
        assert result.success

    before = datetime.now(UTC)
    response = api.get("carla", "/api/routines/status/")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["dagster_home"] == str(home)
    routines = {r["job"]: r for r in body["routines"]}
    assert "__ASSET_JOB" not in routines and {"export_task_job", "b3_quotes_job", "reports_job"} <= set(
        routines
    )

    closing = routines["close_past_appointments_job"]
    assert (closing["last_run_id"], closing["last_run_status"]) == (result.run_id, "SUCCESS")
    assert closing["last_run_started_at"] and closing["last_run_ended_at"]
    (schedule,) = closing["schedules"]
    assert schedule["name"] == "close_past_appointments_schedule" and schedule["running"] is True
    next_run = datetime.fromisoformat(schedule["next_run_at"])
    assert before < next_run <= before + timedelta(hours=1) and next_run.minute == 0
    assert closing["next_run_at"] == schedule["next_run_at"]
    assert closing["partition"] is None and closing["partition_done"] is None

    quotes = routines["b3_quotes_job"]
    assert quotes["last_run_id"] is None and quotes["partition"] and quotes["partition_done"] is False
    assert [s["running"] for s in quotes["schedules"]] == [False]  # a fallback schedule, stopped by default
    assert quotes["next_run_at"] is None
