"""Task routes through the real app: create (validated, the field named), list and filters, the legacy summary,
an export run by the exports service and downloaded (streamed, type and name), delete_file, cancel, retry; only
the caller's own tasks."""

from __future__ import annotations

import hashlib
import io

import openpyxl

from routines.database.engine import session_scope
from routines.exports.models import ExportTask
from routines.files import FileStore
from routines_tests.api.conftest import run_task


def test_create_list_summary_cancel_retry(api):
    created = api.post(
        "bruno", "/api/tasks/", json={"task_type": "invoices_month", "payload": {"month": "2025-06"}}
    )
    assert created.status_code == 201, created.text
    task = created.json()
    assert (task["status"], task["progress"], task["title"], task["can_download"]) == (
        "pending", 0, "Faturas do mês", False,
    )  # fmt: skip
    bad = api.post(
        "bruno", "/api/tasks/", json={"task_type": "invoices_month", "payload": {"month": "2025-13"}}
    )
    assert bad.status_code == 422 and bad.json()["campo"] == "payload.month", bad.json()
    kind = api.post("bruno", "/api/tasks/", json={"task_type": "nada", "payload": {}})
    assert kind.status_code == 422 and kind.json()["campo"] == "task_type"
    missing = api.post("bruno", "/api/tasks/", json={"payload": {}})
    assert missing.status_code == 422 and missing.json()["campo"] == "task_type"
    assert "task_type" in missing.json()["erro"]
    extra = api.post("bruno", "/api/tasks/", json={"task_type": "invoices_month", "payload": {}, "x": 1})
    assert extra.status_code == 422 and extra.json()["campo"] == "x"

    second = api.post(
        "bruno", "/api/tasks/", json={"task_type": "invoices_month", "payload": {"month": "2025-05"}}
    )
    assert api.post("bruno", f"/api/tasks/{second.json()['id']}/cancel/").json()["status"] == "cancelled"
    again = api.post("bruno", f"/api/tasks/{second.json()['id']}/cancel/")
    assert again.status_code == 409 and "cancelled" in again.json()["erro"]
    assert [t["id"] for t in api.get("bruno", "/api/tasks/?status=cancelled").json()] == [second.json()["id"]]
    assert api.get("bruno", "/api/tasks/summary/").json() == {
        "total": 2, "pending": 1, "processing": 0, "completed": 0, "failed": 0, "cancelled": 1, "files_available": 0,
    }  # fmt: skip
    assert api.post("bruno", f"/api/tasks/{second.json()['id']}/retry/").json()["status"] == "pending"
    assert (
        api.post("bruno", f"/api/tasks/{task['id']}/retry/").status_code == 409
    )  # pending: nothing to retry
    assert api.get("bruno", "/api/tasks/?status=pendente").json()["campo"] == "status"
    # someone else's task, same company or not: 404, and it is left alone
    for who in ("ana", "diego"):
        assert api.get(who, "/api/tasks/").json() == []
        for method, path in (
            ("GET", ""),
            ("POST", "cancel/"),
            ("GET", "download/"),
            ("DELETE", "delete_file/"),
        ):
            response = api.client.request(method, f"/api/tasks/{task['id']}/{path}", headers=api.headers(who))
            assert (
                response.status_code == 404
                and response.json()["erro"] == f"tarefa {task['id']} não encontrado(a)"
            )
    assert api.get("bruno", f"/api/tasks/{task['id']}/").json()["status"] == "pending"
    assert api.get("bruno", "/api/tasks/999999/").status_code == 404


def test_an_export_goes_from_pending_to_completed_and_is_downloaded(api, engine, invoices, store):
    task_id = api.post(
        "bruno", "/api/tasks/", json={"task_type": "invoices_month", "payload": {"month": "2025-06"}}
    ).json()["id"]
    assert api.get("bruno", f"/api/tasks/{task_id}/download/").status_code == 409  # nothing yet
    outcome = run_task(engine, store, task_id)
    assert outcome.status == "completed", outcome.message
    task = api.get("bruno", f"/api/tasks/{task_id}/").json()
    assert (task["status"], task["progress"], task["can_download"]) == ("completed", 100, True)
    assert task["file_name"].endswith(".xlsx")
    assert [t["id"] for t in api.get("bruno", "/api/tasks/?is_file_task=true").json()] == [task_id]
    assert api.get("bruno", "/api/tasks/?is_file_task=false").json() == []
    assert api.get("bruno", "/api/tasks/summary/").json()["files_available"] == 1

    response = api.get("bruno", f"/api/tasks/{task_id}/download/")
    assert response.status_code == 200
    assert (
        response.headers["content-type"]
        == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert f'filename="{task["file_name"]}"' in response.headers["content-disposition"]
    with session_scope(engine) as session:
        stored = session.get(ExportTask, task_id)
        assert hashlib.sha256(response.content).hexdigest() == stored.file_sha256
        key = stored.file_key
    rows = list(openpyxl.load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert len(rows) > 1
    # the file's user was told, and sees it in their notifications
    assert any(
        n["kind"] == "file_ready" and n["task_id"] == task_id
        for n in api.get("bruno", "/api/notifications/").json()
    )

    removed = api.delete("bruno", f"/api/tasks/{task_id}/delete_file/")
    assert removed.status_code == 200 and removed.json()["can_download"] is False
    assert not FileStore(store.root).path(key).exists()
    assert api.get("bruno", f"/api/tasks/{task_id}/download/").status_code == 409
    assert api.delete("bruno", f"/api/tasks/{task_id}/delete_file/").status_code == 409
    assert api.get("bruno", "/api/tasks/summary/").json()["files_available"] == 0
