"""`routines alerts routes add|list|enable|disable`: routes kept in the business database, webhook URLs never."""

from __future__ import annotations

import pytest

from routines.alerts.service import configured_routes
from routines.cli import main
from routines.database.engine import get_engine, session_scope


def _routes(db_url):
    with session_scope(get_engine(db_url)) as session:
        return [(route.name, route.channel, route.target, route.groups, route.quiet_minutes)
                for route, _company in configured_routes(session)]  # fmt: skip


def test_routes_from_the_command_line(db_url, capsys, monkeypatch):
    monkeypatch.setenv("ROUTINES_DATABASE_URL", db_url)
    assert main(["alerts", "routes", "list"]) == 0
    assert "no alert routes" in capsys.readouterr().out
    assert main(["alerts", "routes", "add", "mercado", "--channel", "slack",
                 "--target", "ROUTINES_ALERT_SLACK_MARKET_URL", "--group", "market", "--quiet-minutes", "60"]) == 0  # fmt: skip
    assert main(["alerts", "routes", "add", "financeiro", "--channel", "email",
                 "--target", "fin@beg.com.br,ops@beg.com.br", "--owner", "team:financeiro"]) == 0  # fmt: skip
    capsys.readouterr()
    assert _routes(db_url) == [
        ("mercado", "slack", "ROUTINES_ALERT_SLACK_MARKET_URL", ("market",), 60),
        ("financeiro", "email", "fin@beg.com.br,ops@beg.com.br", (), 30),
    ]
    assert main(["alerts", "routes", "list"]) == 0
    listing = capsys.readouterr().out
    assert "mercado\tslack\tROUTINES_ALERT_SLACK_MARKET_URL\tgroups market\tquiet 60 min\tactive" in listing

    # a webhook URL is a secret: refused, named; a second route of one name too
    assert (
        main(
            [
                "alerts",
                "routes",
                "add",
                "x",
                "--channel",
                "teams",
                "--target",
                "https://x.webhook.office.com/a",
            ]
        )
        == 2
    )
    assert "NAME of the env var holding the webhook URL" in capsys.readouterr().err
    assert main(["alerts", "routes", "add", "mercado", "--channel", "email", "--target", "a@b.com.br"]) == 2
    assert "alert route 'mercado' already exists" in capsys.readouterr().err

    assert main(["alerts", "routes", "disable", "mercado"]) == 0
    assert [name for name, *_ in _routes(db_url)] == ["financeiro"]
    assert main(["alerts", "routes", "enable", "mercado"]) == 0
    assert [name for name, *_ in _routes(db_url)] == ["mercado", "financeiro"]
    assert main(["alerts", "routes", "disable", "nenhuma"]) == 2
    assert "alert route 'nenhuma' not found" in capsys.readouterr().err


@pytest.mark.parametrize("minutes", ["-1", "abc"])
def test_bad_quiet_window_is_refused(minutes, db_url, capsys, monkeypatch):
    monkeypatch.setenv("ROUTINES_DATABASE_URL", db_url)
    with pytest.raises(SystemExit):
        main(["alerts", "routes", "add", "r", "--channel", "email", "--target", "a@b.com.br",
              "--quiet-minutes", minutes])  # fmt: skip
    assert "--quiet-minutes" in capsys.readouterr().err
