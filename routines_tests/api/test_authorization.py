"""Authorization of every route, derived from the OpenAPI document so that a new route cannot be forgotten:
a user of company ACME never reads, downloads, approves or marks anything of company BEG (404, nothing changed),
a BEG user never touches another BEG user's task or notification, and a viewer cannot act."""

from __future__ import annotations

from sqlalchemy import select

from routines.companies.models import User
from routines.database.engine import session_scope
from routines.exports.models import ExportTask
from routines.invoices.models import InvoiceProcess, ProcessTransition
from routines.notifications.models import Notification
from routines.notifications.service import notify
from routines.reports.models import ReportDefinition, ReportRunRequest
from routines_tests.api.conftest import run_task
from routines_tests.api.test_reports import DEFINITION

BODIES = {
    ("post", "/api/invoices/{process_id}/reject/"): {"reason": "não reconheço"},
    ("patch", "/api/reports/{report_id}/"): {"name": "Outro nome"},
}
OPERATOR_ROUTES = {
    ("post", "/api/invoices/{process_id}/approve/"), ("post", "/api/invoices/{process_id}/reject/"),
    ("post", "/api/invoices/{process_id}/retry/"), ("post", "/api/reports/"), ("patch", "/api/reports/{report_id}/"),
    ("post", "/api/reports/{report_id}/enable/"), ("post", "/api/reports/{report_id}/disable/"),
    ("post", "/api/reports/{report_id}/run/"),
}  # fmt: skip
ADMIN_ROUTES = {("get", "/api/users/"), ("post", "/api/users/"), ("post", "/api/users/{user_id}/disable/")}


def snapshot(engine) -> dict:
    with session_scope(engine) as session:
        return {
            "tasks": sorted(
                session.execute(select(ExportTask.id, ExportTask.status, ExportTask.file_removed_at)).all()
            ),
            "processes": sorted(session.execute(select(InvoiceProcess.id, InvoiceProcess.status)).all()),
            "transitions": session.scalar(
                select(ProcessTransition.id).order_by(ProcessTransition.id.desc()).limit(1)
            ),
            "read": sorted(session.execute(select(Notification.id, Notification.is_read)).all()),
            "reports": sorted(
                session.execute(
                    select(ReportDefinition.id, ReportDefinition.name, ReportDefinition.active)
                ).all()
            ),
            "requests": session.scalar(select(ReportRunRequest.id).limit(1)),
            "users": sorted(session.execute(select(User.id, User.active)).all()),
        }


def operations(api) -> list[tuple[str, str]]:
    paths = api.client.get("/api/openapi.json").json()["paths"]
    return [(method, path) for path, ops in paths.items() for method in ops]


def call(api, who, method, template, ids):
    path = template
    for name, value in ids.items():
        path = path.replace("{" + name + "}", str(value))
    body = BODIES.get((method, template))
    return api.client.request(method.upper(), path, headers=api.headers(who), json=body)


def test_nothing_of_company_beg_is_reachable_from_acme_or_another_user(api, engine, invoices, store):
    task_id = api.post(
        "bruno", "/api/tasks/", json={"task_type": "invoices_month", "payload": {"month": "2025-06"}}
    ).json()["id"]
    assert run_task(engine, store, task_id).status == "completed"  # a file to (not) download
    report_id = api.post("bruno", "/api/reports/", json=DEFINITION).json()["id"]
    with session_scope(engine) as session:
        notification_id = notify(
            session, kind="info", title="x", message="x", user=session.get(User, api.people["bruno"])
        ).id
    ids = {"task_id": task_id, "notification_id": notification_id, "process_id": invoices["processes"][2],
           "report_id": report_id, "user_id": api.people["carla"]}  # fmt: skip
    before = snapshot(engine)
    checked = 0
    for method, template in operations(api):
        if "{" not in template:
            continue
        for who in ("diego", "elisa") + (
            () if template.startswith(("/api/invoices", "/api/reports", "/api/users")) else ("ana", "carla")
        ):
            response = call(api, who, method, template, ids)
            expected = 403 if (method, template) in ADMIN_ROUTES and who != "diego" else 404
            assert response.status_code == expected, (
                who,
                method,
                template,
                response.status_code,
                response.text,
            )
            checked += 1
    assert checked >= 40
    # the lists of ACME's people hold nothing of BEG
    for who in ("diego", "elisa"):
        assert api.get(who, "/api/tasks/").json() == [] and api.get(who, "/api/notifications/").json() == []
        assert all(p["client"] == "Acme Fundo" for p in api.get(who, "/api/invoices/").json())
        assert (
            api.get(who, "/api/reports/").json() == []
            and api.get(who, "/api/reports/executions/").json() == []
        )
        assert api.get(who, "/api/tasks/summary/").json()["total"] == 0
        assert api.get(who, "/api/notifications/unread_count/").json() == {"count": 0}
        assert api.post(who, "/api/notifications/mark_all_read/").json() == {"marked": 0}
    assert {u["company"] for u in api.get("diego", "/api/users/").json()} == {"ACME"}
    assert snapshot(engine) == before  # nothing was read into a change, downloaded away, approved or marked


def test_a_viewer_reads_but_cannot_act(api, engine, invoices):
    report_id = api.post("bruno", "/api/reports/", json=DEFINITION).json()["id"]
    ids = {"process_id": invoices["processes"][2], "report_id": report_id, "user_id": api.people["bruno"]}
    before = snapshot(engine)
    for method, template in sorted(OPERATOR_ROUTES | ADMIN_ROUTES):
        body_template = template
        response = call(api, "carla", method, body_template, ids) if "{" in template else api.client.request(
            method.upper(), template, headers=api.headers("carla"), json=DEFINITION if "reports" in template else
            {"name": "X", "email": "x@beg.com.br", "role": "viewer"})  # fmt: skip
        assert response.status_code == 403, (method, template, response.text)
    for method, template in sorted(ADMIN_ROUTES):  # an operator is not an admin either
        response = call(api, "bruno", method, template, ids) if "{" in template else api.client.request(
            method.upper(), template, headers=api.headers("bruno"), json={"name": "X", "email": "x@beg.com.br", "role": "viewer"})  # fmt: skip
        assert response.status_code == 403
    assert snapshot(engine) == before
    assert (
        api.get("carla", f"/api/invoices/{invoices['processes'][2]}/file/").status_code == 200
    )  # reading is fine
    assert api.get("carla", f"/api/reports/{report_id}/").status_code == 200
