"""Property-based requests against the OpenAPI document (schemathesis): every operation, with
generated parameters and bodies, never answers 5xx, answers only statuses and content types the
document declares, and every body matches its schema."""

from __future__ import annotations

import dataclasses

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from central.api import SPEC_PATH, throttle
from central.extensions import db
from tests.integration.central.api.conftest import TOKEN
from tests.integration.central.rows import T0_MS, add_play, add_station, add_track

pytestmark = pytest.mark.integration


def _not_a_server_error(ctx, response, case) -> None:  # noqa: ANN001 - schemathesis' signature
    """No 5xx, whatever is sent."""
    assert response.status_code < 500, (case.method, case.path, response.text[:300])


@pytest.fixture
def fuzzed_app(pg_app: Flask) -> Flask:
    """pg_app with the bootstrap admin token, no throttling in the way, and a play to find."""
    pg_app.config["ZAMIO"] = dataclasses.replace(
        pg_app.config["ZAMIO"],
        api_token=TOKEN,
        api_rate_limit="1000000 per minute",
        auth_failure_rate_limit="1000000 per minute",
        login_rate_limit="1000000 per minute",
    )
    throttle.init_app(pg_app)
    with pg_app.app_context():
        station = add_station(db.session, "joy-fm", devices=("pi-01",))
        add_play(db.session, station, add_track(db.session, "A"), T0_MS)
        db.session.commit()
    return pg_app


@pytest.fixture
def api_schema(fuzzed_app: Flask):  # noqa: ANN201 - a schemathesis schema
    """The app's own OpenAPI document, called in process."""
    return schemathesis.openapi.from_wsgi(SPEC_PATH, fuzzed_app)


CHECKS = [
    _not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_every_operation_keeps_its_contract(api_schema) -> None:  # noqa: ANN001
    """Generated requests as the bootstrap admin to each operation: no 5xx; statuses, content
    types and bodies as documented."""
    tried = []
    for result in api_schema.get_all_operations():
        operation = result.ok()
        tried.append(f"{operation.method.upper()} {operation.path}")

        @given(case=operation.as_strategy())
        @settings(
            max_examples=12,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case) -> None:  # noqa: ANN001 - a schemathesis case
            case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, checks=CHECKS)

        run()
    assert "GET /api/v1/plays/{play_id}" in tried and len(tried) >= 15
