"""Admin over the platform through the API: a station registered once (idempotent, audited,
409 for a code in use), rate cards and a ledger check an auditor may read."""

from __future__ import annotations

import pytest
from flask import Flask

from central.auth.models import AuditEvent
from central.extensions import db

pytestmark = pytest.mark.integration


def test_an_admin_registers_a_station(pg_app: Flask, people, call) -> None:
    """POST /stations: 201 and the station; the same key again replays; a used code is 409;
    the station's staff-to-be cannot do it (403)."""
    admin = people["admin"]
    body = {"code": "adom-fm", "name": "Adom FM", "stream_url": "https://u:secret@s.test/a"}
    made = call("POST", "/api/v1/stations", admin, json=body, headers={"Idempotency-Key": "k1"})
    assert made.status_code == 201, made.json
    assert made.json["code"] == "adom-fm" and "secret" not in made.json["stream_url"]
    again = call("POST", "/api/v1/stations", admin, json=body, headers={"Idempotency-Key": "k1"})
    assert again.status_code == 201 and again.json == made.json
    assert call("POST", "/api/v1/stations", admin, json=body).status_code == 409
    assert call("POST", "/api/v1/stations", people["station"], json=body).status_code == 403
    bad = call("POST", "/api/v1/stations", admin, json={"code": "no spaces", "name": "x"})
    assert bad.status_code == 400
    with pg_app.app_context():
        event = db.session.query(AuditEvent).filter_by(action="station.add").one()
        assert "secret" not in event.changes_json


def test_an_auditor_reads_rate_cards_and_checks_the_ledger(people, call) -> None:
    """GET /ratecards and /ledger/verify for an auditor: 200, the ledger ok; an artist: 403."""
    assert call("GET", "/api/v1/ratecards", people["auditor"]).json == {"ratecards": []}
    report = call("GET", "/api/v1/ledger/verify", people["auditor"]).json
    assert report["ok"] is True and report["problems"] == []
    assert call("GET", "/api/v1/ledger/verify", people["artist"]).status_code == 403
