"""Benchmark: latency (p50, p99) and requests/s of `GET /api/notifications/unread_count/` and
`GET /api/tasks/summary/` with 10,000 tasks and 100,000 notifications in the business database, under 20
concurrent keep-alive clients on loopback, against a bare FastAPI route returning a constant, measured in the
same run with the same uvicorn settings (one real uvicorn process each, no access log).

The data: 20 users of one company; tasks and notifications spread evenly (500 tasks, 5,000 notifications of the
measured user, a third of them unread). The query plans of the two routes are printed (they must use indexes).
Run: .venv/bin/python benchmarks/api.py [--seconds N] [--clients N] [--database postgresql|sqlite|both]
PostgreSQL: ROUTINES_TEST_POSTGRES_URL's server; a uniquely named database is created and dropped.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from routines.api.tokens import issue_token
from routines.database import migrate
from routines.database.engine import get_engine, session_scope

TASKS, NOTIFICATIONS, USERS = 10_000, 100_000, 20
STATUSES = ("pending", "processing", "completed", "failed", "cancelled")
BARE_APP = """
from fastapi import FastAPI

app = FastAPI()


@app.get("/constant/")
def constant():
    return {"count": 42}
"""


def seed(url: str) -> str:
    """The data set; returns an API token of the measured user."""
    engine = get_engine(url)
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    naive = engine.dialect.name == "sqlite"
    at = (lambda d: d.replace(tzinfo=None)) if naive else (lambda d: d)
    with engine.begin() as connection:
        connection.execute(text("insert into companies (code, name, active, created_at) values ('BENCH', 'Bench', true, :n)"), {"n": at(now)})  # fmt: skip
        company = connection.execute(text("select id from companies where code = 'BENCH'")).scalar_one()
        connection.execute(
            text("insert into users (company_id, name, email, role, active, created_at) values (:c, :n, :e, 'operator', true, :t)"),
            [{"c": company, "n": f"Pessoa {i}", "e": f"pessoa{i}@bench.com.br", "t": at(now)} for i in range(USERS)],
        )  # fmt: skip
        users = list(connection.execute(text("select id from users order by id")).scalars())
        connection.execute(
            text("insert into export_tasks (task_type, status, progress, payload, user_id, company_id, priority, attempts, "
                 "run_cancel_requested, created_at, file_name, file_key) values ('invoices_month', :s, 0, '{}', :u, :c, 0, 1, "
                 "false, :t, :f, :f)"),
            [{"s": STATUSES[i % 5], "u": users[i % USERS], "c": company, "t": at(now - timedelta(minutes=i)),
              "f": f"f{i}.xlsx" if i % 5 == 2 else None} for i in range(TASKS)],
        )  # fmt: skip
        connection.execute(
            text("insert into notifications (user_id, company_id, kind, title, message, is_read, created_at) "
                 "values (:u, :c, 'info', 'Aviso', 'Mensagem', :r, :t)"),
            [{"u": users[i % USERS], "c": company, "r": (i // USERS) % 3 != 0, "t": at(now - timedelta(seconds=i))}
             for i in range(NOTIFICATIONS)],
        )  # fmt: skip
        if engine.dialect.name == "sqlite":
            connection.execute(text("analyze"))
    if (
        engine.dialect.name == "postgresql"
    ):  # what autovacuum does to a table in use: statistics, visibility map
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("vacuum analyze notifications"))
            connection.execute(text("vacuum analyze export_tasks"))
    with session_scope(engine) as session:
        return issue_token(session, users[0]).token, users[0]


def plans(url: str, user_id: int) -> None:
    engine = get_engine(url)
    queries = {
        "unread_count": "select count(*) from notifications where user_id = :u and is_read = false",
        "tasks summary": "select status, count(*) from export_tasks where user_id = :u group by status",
    }
    explain = "explain query plan " if engine.dialect.name == "sqlite" else "explain "
    with engine.connect() as connection:
        for name, sql in queries.items():
            rows = connection.execute(text(explain + sql), {"u": user_id}).all()
            plan = " | ".join(str(row[-1]) for row in rows)
            print(f"  plan of {name}: {plan}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def uvicorn_process(target: list[str], env: dict[str, str]):
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", *target, "--host", "127.0.0.1", "--port", str(port),
               "--no-access-log", "--log-level", "warning"]  # fmt: skip
    process = subprocess.Popen(command, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"uvicorn did not start: {' '.join(command)}") from None
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(30)


def load(port: int, path: str, headers: dict[str, str], clients: int, seconds: float) -> dict[str, float]:
    """`clients` threads, each with one keep-alive connection, requesting `path` back to back for `seconds`
    (after a short warm-up); every answer must be 200."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    start_at = time.monotonic() + 0.5
    stop_at = start_at + seconds
    errors = []

    def client(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            began = time.monotonic()
            if began >= stop_at:
                break
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            body = response.read()
            ended = time.monotonic()
            if response.status != 200:
                errors.append((response.status, body[:200]))
                break
            if began >= start_at:
                latencies[index].append(ended - began)
        connection.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"{path}: {errors[0]}")
    every = sorted(x for per_client in latencies for x in per_client)
    return {
        "requests": len(every),
        "rps": len(every) / seconds,
        "p50_ms": statistics.median(every) * 1000,
        "p99_ms": every[int(len(every) * 0.99) - 1] * 1000,
    }


def run(url: str, label: str, args) -> None:
    migrate.upgrade(url)
    token, user_id = seed(url)
    print(f"{label}: {TASKS:,} tasks, {NOTIFICATIONS:,} notifications, {USERS} users")
    plans(url, user_id)
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "bare_app.py").write_text(BARE_APP)
        env = {**os.environ, "ROUTINES_DATABASE_URL": url, "ROUTINES_HOME": folder}
        with (
            uvicorn_process(["--factory", "routines.api.app:app_from_env"], env) as api_port,
            uvicorn_process(["--app-dir", folder, "bare_app:app"], env) as bare_port,
        ):
            auth = {"Authorization": f"Bearer {token}"}
            unread = json.loads(
                _get(api_port, "/api/notifications/unread_count/", auth)
            )  # the answer is right before it is timed
            assert unread == {"count": NOTIFICATIONS // USERS // 3 + 1}, unread
            results = {}
            for name, port, path, headers in (
                ("bare constant route", bare_port, "/constant/", {}),
                ("unread_count", api_port, "/api/notifications/unread_count/", auth),
                ("tasks summary", api_port, "/api/tasks/summary/", auth),
                ("bare constant route (again)", bare_port, "/constant/", {}),
            ):
                results[name] = load(port, path, headers, args.clients, args.seconds)
    baseline = statistics.mean(
        [results["bare constant route"]["rps"], results["bare constant route (again)"]["rps"]]
    )
    base_p50 = statistics.mean(
        [results["bare constant route"]["p50_ms"], results["bare constant route (again)"]["p50_ms"]]
    )
    for name, r in results.items():
        print(
            f"  {name:28} {r['rps']:8.0f} req/s  p50 {r['p50_ms']:7.2f} ms  p99 {r['p99_ms']:7.2f} ms  "
            f"({r['requests']} requests; {r['rps'] / baseline:.2f}x the bare route's req/s, p50 {r['p50_ms'] / base_p50:.2f}x)"
        )


def _get(port: int, path: str, headers: dict[str, str]) -> bytes:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", path, headers=headers)
    body = connection.getresponse().read()
    connection.close()
    return body


@contextmanager
def postgres_database():
    admin_url = make_url(
        os.environ.get("ROUTINES_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
    )
    admin = create_engine(admin_url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    database = f"bench_api_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'create database "{database}"'))
    try:
        yield admin_url.set(database=database).render_as_string(hide_password=False)
    finally:
        get_engine(admin_url.set(database=database).render_as_string(hide_password=False)).dispose()
        with admin.connect() as connection:
            connection.execute(text(f'drop database if exists "{database}" with (force)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--database", choices=("postgresql", "sqlite", "both"), default="both")
    args = parser.parse_args()
    print(
        f"{args.clients} concurrent clients, {args.seconds:g} s per route, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}"
    )
    if args.database in ("postgresql", "both"):
        with postgres_database() as url:
            run(url, "PostgreSQL", args)
    if args.database in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as folder:
            run(f"sqlite:///{folder}/bench.db", "SQLite", args)


if __name__ == "__main__":
    main()
