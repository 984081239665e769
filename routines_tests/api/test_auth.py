"""Bearer tokens: issued once and stored as a hash, refused when unknown, revoked, expired or of a disabled user;
failed authentications rate-limited per client address and logged without the token; roles."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select, text

from routines.api.models import ApiToken
from routines.api.tokens import issue_token, parse_expiry, revoke_token, token_hash
from routines.cli import main
from routines.companies.users import disable_user
from routines.database.base import utcnow
from routines.database.engine import session_scope


def test_every_api_route_needs_a_bearer_token(api):
    paths = api.client.get("/api/openapi.json").json()["paths"]
    assert len(paths) >= 29
    for template, operations in paths.items():
        path = (
            template.replace("{task_id}", "1").replace("{notification_id}", "1").replace("{process_id}", "1")
        )
        path = path.replace("{report_id}", "1").replace("{user_id}", "1")
        for method in operations:
            response = api.client.request(method, path)
            assert response.status_code == 401, (method, path, response.text)
            assert response.json() == {"erro": "token ausente, inválido, expirado ou revogado", "campo": None}
            assert response.headers["www-authenticate"] == "Bearer"
            api.client.app.state.limiter._failures.clear()  # these failures are not what this test is about


def test_token_is_stored_only_as_a_hash_and_shown_once(engine, people, capsys, db_url):
    assert main(["users", "token", "bruno.lima@beg.com.br", "--expires", "30d", "--label", "planilhas"]) == 0
    out = capsys.readouterr().out.splitlines()
    token = out[1]
    assert token.startswith("rt_") and len(token) > 40
    with engine.connect() as connection:
        dump = " ".join(str(v) for row in connection.execute(text("select * from api_tokens")) for v in row)
    assert token not in dump and token_hash(token) in dump
    with session_scope(engine) as session:
        record = session.scalar(select(ApiToken))
        assert record.user_id == people["bruno"] and record.label == "planilhas"
        assert timedelta(days=29, hours=23) < record.expires_at - utcnow() <= timedelta(days=30)
    assert main(["users", "tokens", "bruno.lima@beg.com.br"]) == 0
    listing = capsys.readouterr().out
    assert "active" in listing and token not in listing and "planilhas" in listing
    assert main(["users", "revoke-token", str(record.id)]) == 0
    assert "revoked" in capsys.readouterr().out
    assert main(["users", "token", "bruno.lima@beg.com.br", "--expires", "ontem"]) == 2
    assert "--expires 'ontem'" in capsys.readouterr().err


def test_revoked_expired_and_disabled_tokens_are_refused(api, engine):
    assert api.get("bruno", "/api/users/me/").json()["email"] == "bruno.lima@beg.com.br"
    with session_scope(engine) as session:
        record = session.scalar(
            select(ApiToken).where(ApiToken.token_sha256 == token_hash(api.tokens["bruno"]))
        )
        revoke_token(session, record.id)
        expired = issue_token(session, api.people["elisa"], expires_at=utcnow() - timedelta(seconds=1)).token
        disable_user(session, api.people["carla"])
    assert api.get("bruno", "/api/users/me/").status_code == 401
    assert api.client.get("/api/users/me/", headers={"Authorization": f"Bearer {expired}"}).status_code == 401
    assert api.get("carla", "/api/users/me/").status_code == 401
    assert api.get("elisa", "/api/users/me/").status_code == 200  # her other token still works


def test_failed_authentications_are_rate_limited_and_logged_without_the_token(api, caplog):
    caplog.set_level(logging.INFO, logger="routines.api")
    bad = "rt_" + "x" * 43
    for _ in range(5):
        assert api.client.get("/api/tasks/", headers={"Authorization": f"Bearer {bad}"}).status_code == 401
    blocked = api.get("ana", "/api/tasks/")  # even a valid token waits: the address is blocked
    assert blocked.status_code == 429 and 1 <= int(blocked.headers["retry-after"]) <= 60
    assert "tente novamente" in blocked.json()["erro"]
    logged = caplog.text
    assert "falha de autenticação: endereço testclient" in logged and "unknown token" in logged
    assert bad not in logged and api.tokens["ana"] not in logged
    api.client.app.state.limiter.clock = lambda: 10**9  # the window has passed
    assert api.get("ana", "/api/tasks/").status_code == 200


def test_expiry_forms():
    now = utcnow()
    assert parse_expiry("12h", now) == now + timedelta(hours=12)
    assert parse_expiry(None) is None
    assert parse_expiry("2999-01-31", now).isoformat().startswith("2999-02-01T00:00:00-03:00")


def test_roles(api):
    assert api.get("carla", "/api/users/").status_code == 403  # viewer
    forbidden = api.get("bruno", "/api/users/")  # operator
    assert forbidden.status_code == 403 and "administrador" in forbidden.json()["erro"]
    listed = api.get("ana", "/api/users/").json()
    assert {u["email"].split(".")[0] for u in listed} == {"ana", "bruno", "carla"}  # only BEG's people
    added = api.post(
        "ana", "/api/users/", json={"name": "Davi Reis", "email": "davi@beg.com.br", "role": "viewer"}
    )
    assert added.status_code == 201 and added.json()["company"] == "BEG"
    bad = api.post("ana", "/api/users/", json={"name": "X", "email": "nao-e-email", "role": "viewer"})
    assert bad.status_code == 422 and bad.json()["campo"] == "email"
    role = api.post("ana", "/api/users/", json={"name": "X", "email": "x@beg.com.br", "role": "chefe"})
    assert role.status_code == 422 and role.json()["campo"] == "role"
    assert api.post("ana", f"/api/users/{api.people['diego']}/disable/").status_code == 404  # ACME's admin
    assert api.post("diego", f"/api/users/{api.people['carla']}/disable/").status_code == 404
    assert api.post("ana", f"/api/users/{api.people['carla']}/disable/").json()["active"] is False


def test_interactive_docs_are_served_without_internet(api):
    """/api/docs loads Swagger UI's JavaScript and CSS from this service, never from a CDN."""
    page = api.client.get("/api/docs")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "cdn." not in page.text and "/api/openapi.json" in page.text
    for asset in ("/api/docs/assets/swagger-ui-bundle.js", "/api/docs/assets/swagger-ui.css"):
        assert asset in page.text
        response = api.client.get(asset)
        assert response.status_code == 200 and len(response.content) > 100_000, asset
