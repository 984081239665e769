"""Notification routes: the caller's own only; unread count; mark one, several, all - never someone else's."""

from __future__ import annotations

from sqlalchemy import select

from routines.companies.models import User
from routines.database.engine import session_scope
from routines.notifications.models import Notification
from routines.notifications.service import notify


def test_notifications_are_the_callers_own(api, engine):
    with session_scope(engine) as session:
        bruno, ana, diego = (session.get(User, api.people[w]) for w in ("bruno", "ana", "diego"))
        mine = [
            notify(session, kind="info", title=f"Aviso {i}", message="Olá", user=bruno).id for i in range(3)
        ]
        anas = notify(session, kind="info", title="Da Ana", message="x", user=ana).id
        diegos = notify(session, kind="warning", title="Do Diego", message="x", user=diego).id
        notify(session, kind="error", title="Geral", message="sem dono")  # the general feed: nobody's

    assert {n["id"] for n in api.get("bruno", "/api/notifications/").json()} == set(mine)
    assert api.get("bruno", "/api/notifications/unread_count/").json() == {"count": 3}
    assert api.post("bruno", f"/api/notifications/{mine[0]}/mark_read/").json() == {"marked": 1}
    assert {n["id"] for n in api.get("bruno", "/api/notifications/unread/").json()} == set(mine[1:])
    assert api.get("bruno", "/api/notifications/unread_count/").json() == {"count": 2}

    for other in (anas, diegos):
        response = api.post("bruno", f"/api/notifications/{other}/mark_read/")
        assert response.status_code == 404
    refused = api.post(
        "bruno", "/api/notifications/mark_multiple_read/", json={"notification_ids": [mine[1], diegos]}
    )
    assert refused.status_code == 404 and refused.json()["campo"] == "notification_ids"
    assert api.get("bruno", "/api/notifications/unread_count/").json() == {"count": 2}  # nothing was marked
    empty = api.post("bruno", "/api/notifications/mark_multiple_read/", json={"notification_ids": []})
    assert empty.status_code == 422 and empty.json()["campo"] == "notification_ids"
    wrong = api.post("bruno", "/api/notifications/mark_multiple_read/", json={"notification_ids": ["um"]})
    assert wrong.status_code == 422 and wrong.json()["campo"] == "notification_ids.0"
    assert api.post(
        "bruno", "/api/notifications/mark_multiple_read/", json={"notification_ids": [mine[1]]}
    ).json() == {"marked": 1}
    assert api.post("bruno", "/api/notifications/mark_all_read/").json() == {"marked": 1}
    assert api.get("bruno", "/api/notifications/unread_count/").json() == {"count": 0}
    with session_scope(engine) as session:
        unread = set(session.scalars(select(Notification.title).where(Notification.is_read.is_(False))))
    assert unread == {"Da Ana", "Do Diego", "Geral"}  # the others' are untouched
    assert api.get("diego", "/api/notifications/unread_count/").json() == {"count": 1}
