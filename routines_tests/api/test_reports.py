"""Report routes: create / edit / enable / disable with the CLI's validation (the field named), run-now requests
for the sensor, executions; only the company's reports; a viewer reads but does not act."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from routines.database.engine import session_scope
from routines.reports.models import ReportExecution, ReportRunRequest

DEFINITION = {"name": "Empresas", "dataset": "empresas", "format": "xlsx,csv", "recipients_to": ["fin@beg.com.br"],
              "cron": "0 8 * * 1-5", "calendar_name": "ANBIMA", "business_days_only": True}  # fmt: skip


def test_definitions_validated_like_the_cli(api):
    created = api.post("bruno", "/api/reports/", json=DEFINITION)
    assert created.status_code == 201, created.text
    report = created.json()
    assert report["slug"] == "empresas" and report["active"] and report["next_run_at"]
    assert report["format"] == "xlsx,csv" and report["timezone"] == "America/Sao_Paulo"

    for change, field in (
        ({"query_sql": "DELETE FROM companies", "dataset": None}, "query_sql"),
        ({"recipients_to": ["não-é-email"]}, "recipients_to"),
        ({"format": "docx"}, "format"),
        ({"cron": "todo dia"}, "cron"),
        ({"subject_template": "{senha}"}, "subject_template"),
    ):
        response = api.patch("bruno", f"/api/reports/{report['id']}/", json=change)
        assert response.status_code == 422 and response.json()["campo"] == field, (change, response.json())
    assert api.post("bruno", "/api/reports/", json={**DEFINITION, "name": ""}).json()["campo"] == "name"
    assert (
        api.post(
            "bruno", "/api/reports/", json={**DEFINITION, "name": "Outro", "dataset": "nenhum"}
        ).status_code
        == 422
    )
    assert api.get("bruno", f"/api/reports/{report['id']}/").json() == report  # nothing was changed

    edited = api.patch(
        "bruno", f"/api/reports/{report['id']}/", json={"name": "Empresas ativas", "cron": "0 9 * * *"}
    )
    assert edited.json()["name"] == "Empresas ativas" and edited.json()["slug"] == "empresas"
    assert api.post("bruno", f"/api/reports/{report['id']}/disable/").json()["next_run_at"] is None
    assert api.post("bruno", f"/api/reports/{report['id']}/enable/").json()["next_run_at"] is not None
    assert [r["id"] for r in api.get("carla", "/api/reports/").json()] == [report["id"]]
    # a viewer reads only; another company sees nothing of it
    assert api.post("carla", "/api/reports/", json={**DEFINITION, "name": "X"}).status_code == 403
    assert api.post("carla", f"/api/reports/{report['id']}/disable/").status_code == 403
    assert api.get("diego", "/api/reports/").json() == []
    for method, path in (
        ("GET", ""),
        ("PATCH", ""),
        ("POST", "enable/"),
        ("POST", "disable/"),
        ("POST", "run/"),
    ):
        response = api.client.request(
            method, f"/api/reports/{report['id']}/{path}", headers=api.headers("elisa"), json={}
        )
        assert response.status_code == 404, (method, path)


def test_run_now_is_a_request_for_the_sensor(api, engine):
    report_id = api.post("ana", "/api/reports/", json=DEFINITION).json()["id"]
    assert api.post("carla", f"/api/reports/{report_id}/run/").status_code == 403
    response = api.post("bruno", f"/api/reports/{report_id}/run/")
    assert response.status_code == 202
    assert (
        response.json()["status"] == "pending" and response.json()["requested_by"] == "bruno.lima@beg.com.br"
    )
    with session_scope(engine) as session:
        request = session.scalar(select(ReportRunRequest))
        assert (request.report_id, request.status) == (report_id, "pending")
        when = datetime(2025, 7, 10, 11, 0, tzinfo=UTC)
        session.add(ReportExecution(report_id=report_id, run_key="k1", scheduled_for=when, partition_day="2025-07-10",
                                    trigger="manual", status="success", requested_at=when, row_count=2))  # fmt: skip
    executions = api.get("carla", "/api/reports/executions/").json()
    assert [(e["report_name"], e["status"], e["row_count"]) for e in executions] == [
        ("Empresas", "success", 2)
    ]
    assert api.get("diego", "/api/reports/executions/").json() == []
    assert api.get("carla", f"/api/reports/executions/?report_id={report_id}").json() == executions
