"""Property-based tests of every route from the OpenAPI schema (schemathesis): no server error, documented status
codes and content types, responses matching their schemas, invalid requests refused - as an operator of BEG with
the demo data, tasks, notifications, invoices and a report in place."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.openapi import from_asgi

from routines.api.app import create_app
from routines.database.engine import session_scope
from routines.notifications.service import notify
from routines_tests.api.conftest import issue_tokens


@pytest.fixture
def seeded(engine, people, invoices, api_settings, tmp_path, monkeypatch):
    from routines.companies.models import User

    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    tokens = issue_tokens(engine, people)
    with session_scope(engine) as session:
        for index in range(3):
            notify(
                session,
                kind="info",
                title=f"Aviso {index}",
                message="x",
                user=session.get(User, people["bruno"]),
            )
    app = create_app(api_settings)
    app.state.limiter.limit = (
        10**9
    )  # schemathesis sends bad tokens on purpose; this test is not about the limit
    return app, tokens


def test_routes_follow_their_schema(seeded):
    """Every operation of /api/openapi.json, 25 generated requests each (positive and negative)."""
    app, tokens = seeded
    schema = from_asgi("/api/openapi.json", app)
    headers = {"Authorization": f"Bearer {tokens['bruno']}"}
    checks = [not_a_server_error, status_code_conformance, content_type_conformance,
              response_schema_conformance, negative_data_rejection]  # fmt: skip
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 29

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case):
            case.call_and_validate(headers=headers, checks=checks)

        run()
