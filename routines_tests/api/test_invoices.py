"""Invoice routes: the company's processes only; the PDF; approve / reject (reason required) / retry through the
state machine with the acting user in the transition; a viewer cannot decide; another company's is 404."""

from __future__ import annotations

from sqlalchemy import select

from routines.database.engine import session_scope
from routines.invoices.models import Client, InvoiceProcess, ProcessTransition


def _acme_process(engine) -> int:
    with session_scope(engine) as session:
        return session.scalar(
            select(InvoiceProcess.id)
            .join(Client, Client.id == InvoiceProcess.client_id)
            .where(Client.name == "Acme Fundo")
        )


def test_list_show_and_file(api, invoices, engine):
    listed = api.get("carla", "/api/invoices/?month=2025-06").json()
    assert sorted(p["id"] for p in listed) == sorted(invoices["processes"])  # not ACME's
    waiting = api.get("carla", "/api/invoices/?status=AGUARDANDO_APROVACAO").json()
    assert [p["id"] for p in waiting] == [invoices["processes"][2]]
    assert waiting[0]["status_label"] == "Aguardando aprovação" and waiting[0]["has_file"] is True
    assert {p["operator"] for p in api.get("carla", "/api/invoices/?operator=claro").json()} == {"CLARO"}
    assert api.get("carla", "/api/invoices/?month=2025-07").json() == []
    bad = api.get("carla", "/api/invoices/?month=junho")
    assert bad.status_code == 422 and bad.json()["campo"] == "month"
    assert api.get("carla", "/api/invoices/?status=APROVADO").json()["campo"] == "status"
    acme = _acme_process(engine)
    assert [p["id"] for p in api.get("diego", "/api/invoices/").json()] == [acme]

    shown = api.get("carla", f"/api/invoices/{invoices['processes'][2]}/").json()
    assert [t["to_status"] for t in shown["transitions"]] == ["AGUARDANDO_APROVACAO"]
    pdf = api.get("carla", f"/api/invoices/{invoices['processes'][2]}/file/")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and pdf.headers["content-disposition"].startswith("inline;")
    assert (
        api.get("carla", f"/api/invoices/{invoices['processes'][0]}/file/").status_code == 409
    )  # not downloaded
    for path in ("", "file/"):
        assert api.get("carla", f"/api/invoices/{acme}/{path}").status_code == 404
        assert api.get("diego", f"/api/invoices/{invoices['processes'][2]}/{path}").status_code == 404


def test_approve_reject_retry_through_the_state_machine(api, invoices, engine):
    waiting = invoices["processes"][2]
    # a viewer cannot decide; another company's operator does not even see it
    assert api.post("carla", f"/api/invoices/{waiting}/approve/").status_code == 403
    assert api.post("elisa", f"/api/invoices/{waiting}/approve/").status_code == 404
    assert api.post("elisa", f"/api/invoices/{waiting}/reject/", json={"reason": "x"}).status_code == 404
    no_reason = api.post("bruno", f"/api/invoices/{waiting}/reject/", json={"reason": "   "})
    assert no_reason.status_code == 422 and no_reason.json()["campo"] == "reason"
    assert api.post("bruno", f"/api/invoices/{waiting}/reject/", json={}).json()["campo"] == "reason"
    assert api.get("bruno", f"/api/invoices/{waiting}/").json()["status"] == "AGUARDANDO_APROVACAO"

    approved = api.post("bruno", f"/api/invoices/{waiting}/approve/")
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert body["status"] == "AGUARDANDO_ENVIO_SAT" and body["approved_by"] == "bruno.lima@beg.com.br"
    last = body["transitions"][-1]
    assert (last["from_status"], last["to_status"], last["actor"], last["reason"]) == (
        "AGUARDANDO_APROVACAO", "AGUARDANDO_ENVIO_SAT", "user:bruno.lima@beg.com.br", "fatura aprovada",
    )  # fmt: skip
    twice = api.post("bruno", f"/api/invoices/{waiting}/approve/")
    assert twice.status_code == 409 and "AGUARDANDO_ENVIO_SAT" in twice.json()["erro"]

    # a rejected one goes back to download on retry; the acting admin is recorded each time
    with session_scope(engine) as session:
        other = session.get(InvoiceProcess, invoices["processes"][1])  # FALHA_DOWNLOAD
        other.status = "AGUARDANDO_APROVACAO"
    rejected = api.post(
        "ana", f"/api/invoices/{other.id}/reject/", json={"reason": "valor divergente"}
    ).json()
    assert rejected["status"] == "REJEITADO" and rejected["rejection_reason"] == "valor divergente"
    assert rejected["transitions"][-1]["actor"] == "user:ana.souza@beg.com.br"
    retried = api.post("ana", f"/api/invoices/{other.id}/retry/").json()
    assert retried["status"] == "AGUARDANDO_DOWNLOAD"
    assert api.post("ana", f"/api/invoices/{invoices['processes'][4]}/retry/").status_code == 409  # final
    with session_scope(engine) as session:
        actors = list(
            session.scalars(
                select(ProcessTransition.actor)
                .where(ProcessTransition.actor.like("user:%"))
                .order_by(ProcessTransition.id)
            )
        )
    assert actors == ["user:bruno.lima@beg.com.br", "user:ana.souza@beg.com.br", "user:ana.souza@beg.com.br"]
