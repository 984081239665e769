"""Fixtures of the API tests: the real app (TestClient) on a migrated SQLite or PostgreSQL business database,
the demo people with one API token each, and helpers to run an export task through the exports service."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from routines.api.app import ApiSettings, create_app
from routines.api.tokens import issue_token
from routines.database.engine import session_scope
from routines.exports import service as exports
from routines.exports.config import ExportsConfig
from routines_tests.exports.conftest import T0, invoices, people, store  # noqa: F401 - shared fixtures

CHROMIUM = "/usr/bin/chromium"
PEOPLE = ("ana", "bruno", "carla", "diego", "elisa")  # BEG admin, operator, viewer; ACME admin, operator


@dataclass
class Api:
    client: TestClient
    tokens: dict[str, str]
    people: dict[str, int]

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def get(self, who: str, path: str, **kwargs):
        return self.client.get(path, headers=self.headers(who), **kwargs)

    def post(self, who: str, path: str, **kwargs):
        return self.client.post(path, headers=self.headers(who), **kwargs)

    def patch(self, who: str, path: str, **kwargs):
        return self.client.patch(path, headers=self.headers(who), **kwargs)

    def delete(self, who: str, path: str, **kwargs):
        return self.client.delete(path, headers=self.headers(who), **kwargs)


def issue_tokens(engine, ids) -> dict[str, str]:
    with session_scope(engine) as session:
        return {who: issue_token(session, ids[who]).token for who in PEOPLE}


@pytest.fixture
def api_settings(db_url, file_store_root) -> ApiSettings:
    return ApiSettings(database_url=db_url, file_store_root=file_store_root, auth_failures=5, auth_window=60)


@pytest.fixture
def api(engine, people, api_settings) -> Api:  # noqa: F811 - `people` is the shared fixture
    with TestClient(create_app(api_settings)) as client:
        yield Api(client, issue_tokens(engine, people), people)


def run_task(engine, store, task_id: int, run_id: str = "run-1"):  # noqa: F811
    """What the sensor and the job do for one pending task, through the exports service (no Dagster)."""
    with session_scope(engine) as session:
        plans = exports.request_pending(session, T0, ExportsConfig(progress_interval=0))
    (plan,) = [p for p in plans if p.task_id == task_id]
    return exports.execute_task(
        engine, store, task_id, run_id=run_id, run_key=plan.run_key, slots=2,
        config=ExportsConfig(progress_interval=0),
    )  # fmt: skip


@pytest.fixture
def live_api(engine, people, api_settings):  # noqa: F811 - `people` is the shared fixture
    """The app served by a real uvicorn server on a free loopback port (in a thread of the test process)."""
    import socket
    import threading
    import time

    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(api_settings), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", issue_tokens(engine, people)
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def browser():
    """Debian's Chromium driven by Playwright (it cannot download its own browser here). Missing: skipped, except
    with CI=true (`.ci/run` installs it), where the test fails."""
    import os

    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} is missing: apt-get install -y chromium"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message} (CI=true: the browser tests are required)", pytrace=False)
        pytest.skip(message)

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()
