"""Retention of the file store and of read notifications, on SQLite and PostgreSQL: the dry run changes nothing
and prints exactly the list the real run removes; every rule follows its environment variable."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from routines.cli import main
from routines.companies.demo import seed_demo as seed_companies
from routines.database.engine import session_scope
from routines.housekeeping.settings import RetentionRules
from routines.invoices.demo import seed_demo as seed_invoices
from routines.invoices.models import ClientOperator, InvoiceProcess
from routines.notifications.models import Notification

NOW = datetime.now(UTC)


def _file(root, key: str, days_old: float, size: int = 100) -> str:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    moment = (NOW - timedelta(days=days_old)).timestamp()
    os.utime(path, (moment, moment))
    return key


def _process(session, status: str, key: str, month: date) -> None:
    link = session.execute(select(ClientOperator.client_id, ClientOperator.operator_id).limit(1)).one()
    session.add(
        InvoiceProcess(
            billing_month=month,
            client_id=link.client_id,
            operator_id=link.operator_id,
            status=status,
            file_key=key,
            download_attempts=1,
        )
    )
    session.flush()


@pytest.fixture
def store(engine, tmp_path):
    root = tmp_path / "files"
    keys = {
        "market_old": _file(root, "market/b3/2021/06/25/COTAHIST_D25062021.ZIP", 1900),
        "invoice_final_old": _file(root, "invoices/2020/01/01/VIVO-cliente1-processo1.pdf", 2000, 5000),
        "invoice_open_old": _file(root, "invoices/2020/02/01/VIVO-cliente1-processo2.pdf", 2000),
        "invoice_orphan_old": _file(root, "invoices/2019/12/01/orphan.pdf", 1900, 700),
        "invoice_recent": _file(root, "invoices/2026/10/01/VIVO-cliente1-processo3.pdf", 10),
        "report_old": _file(root, "reports/2025/01/02/relatorio.xlsx", 400, 300),
        "report_recent": _file(root, "reports/2026/08/01/relatorio.xlsx", 100),
        "task_old": _file(root, "task_files/2026/09/invoices_month/17_abcdef12.xlsx", 40, 200),
        "task_recent": _file(root, "task_files/2026/11/invoices_month/18_abcdef13.xlsx", 10),
        "backup_outside_areas": _file(root, "backups/routines-x-20200101T000000000Z.sqlite3", 2000),
    }
    with session_scope(engine) as session:
        seed_companies(session)
        seed_invoices(session)
        _process(session, "UPLOAD_REALIZADO", keys["invoice_final_old"], date(2020, 1, 1))
        _process(session, "AGUARDANDO_APROVACAO", keys["invoice_open_old"], date(2020, 2, 1))
    return root, keys


@pytest.fixture
def notifications(engine):
    rows = {
        "read_old": Notification(
            kind="info", title="lida antiga", message="m", is_read=True, created_at=NOW - timedelta(days=91)
        ),
        "unread_old": Notification(
            kind="info",
            title="não lida antiga",
            message="m",
            is_read=False,
            created_at=NOW - timedelta(days=400),
        ),
        "read_recent": Notification(
            kind="info", title="lida recente", message="m", is_read=True, created_at=NOW - timedelta(days=89)
        ),
    }
    with session_scope(engine) as session:
        session.add_all(rows.values())
        session.flush()
        return {name: row.id for name, row in rows.items()}


def _retention(capsys, db_url, root, *extra) -> list[str]:
    argv = [
        "housekeeping",
        "retention",
        "--only",
        "files,notifications",
        "--url",
        db_url,
        "--file-store",
        str(root),
    ]
    assert main(argv + list(extra)) == 0
    return [
        line for line in capsys.readouterr().out.splitlines() if line.startswith(("file\t", "notification\t"))
    ]


def test_dry_run_lists_exactly_what_the_real_run_removes(store, notifications, engine, db_url, capsys):
    root, keys = store
    expected_files = {keys[name] for name in ("invoice_final_old", "invoice_orphan_old", "report_old")}
    before = sorted(path for path in root.rglob("*") if path.is_file())

    dry = _retention(capsys, db_url, root, "--dry-run")
    assert {line.split("\t")[1] for line in dry if line.startswith("file")} == expected_files
    assert [line.split("\t")[1] for line in dry if line.startswith("notification")] == [
        str(notifications["read_old"])
    ]
    sizes = {line.split("\t")[1]: int(line.split("\t")[2]) for line in dry if line.startswith("file")}
    assert sizes[keys["invoice_final_old"]] == 5000 and sizes[keys["invoice_orphan_old"]] == 700
    assert sorted(path for path in root.rglob("*") if path.is_file()) == before
    assert _retention(capsys, db_url, root, "--dry-run") == dry  # a dry run changed nothing

    real = _retention(capsys, db_url, root)
    assert real == dry
    for name, key in keys.items():
        assert (root / key).exists() == (key not in expected_files), name
    assert not (root / "reports/2025").exists()  # folders left empty are removed too
    assert (root / keys["task_old"]).exists()  # task files belong to the exports cleanup (it marks the tasks)
    with session_scope(engine) as session:
        left = set(session.scalars(select(Notification.id)))
    assert left == {notifications["unread_old"], notifications["read_recent"]}
    assert _retention(capsys, db_url, root) == []


def test_rules_follow_the_environment(store, notifications, db_url, capsys, monkeypatch):
    root, keys = store
    monkeypatch.setenv("ROUTINES_RETENTION_MARKET_DAYS", "1825")
    monkeypatch.setenv("ROUTINES_RETENTION_INVOICES_DAYS", "keep")
    monkeypatch.setenv("ROUTINES_RETENTION_REPORTS_DAYS", "30")
    monkeypatch.setenv("ROUTINES_RETENTION_NOTIFICATIONS_DAYS", "keep")
    listed = {line.split("\t")[1] for line in _retention(capsys, db_url, root, "--dry-run")}
    assert listed == {
        keys["market_old"],
        keys["report_old"],
        keys["report_recent"],
    }
    monkeypatch.setenv("ROUTINES_RETENTION_REPORTS_DAYS", "0")
    argv = ["housekeeping", "retention", "--only", "files", "--url", db_url, "--file-store", str(root)]
    assert main(argv) == 2
    assert "ROUTINES_RETENTION_REPORTS_DAYS=0" in capsys.readouterr().err


def test_defaults():
    rules = RetentionRules.from_env()
    assert (rules.runs_days, rules.failed_runs_days, rules.read_notifications_days) == (90, 365, 90)
    assert dict(rules.area_days) == {"market": None, "invoices": 1825, "reports": 365}
