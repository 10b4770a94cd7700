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


def test_an_admin_sets_a_tracks_shares(pg_app: Flask, people, call) -> None:
    """PUT /tracks/<id>/shares: the shares as set, audited before and after; the same document
    again is the same answer and no second event; a document that does not add up is 400
    naming why; an artist 403."""
    from tests.integration.central.rows import add_track

    with pg_app.app_context():
        track_id = add_track(db.session, "A").id
        db.session.commit()
    document = {"master": {"isrc": "GH-A01-26-00001", "shares": [
        {"party": "artist:ama:earnings", "role": "performer", "share_bp": 6000},
        {"party": "label:adomi:earnings", "role": "label", "share_bp": 4000}]}}  # fmt: skip
    path = f"/api/v1/tracks/{track_id}/shares"
    done = call("PUT", path, people["admin"], json=document)
    assert done.status_code == 200, done.json
    lines = done.json["track"]["shares"]["master"]["shares"]
    assert sorted(line["share_bp"] for line in lines) == [4000, 6000]
    assert call("PUT", path, people["admin"], json=document).json == done.json
    short = {"master": {"isrc": "GH-A01-26-00001", "shares": [
        {"party": "artist:ama:earnings", "role": "performer", "share_bp": 5000}]}}  # fmt: skip
    refused = call("PUT", path, people["admin"], json=short)
    assert refused.status_code == 400 and "not 100 %" in refused.json["detail"]
    assert call("PUT", path, people["artist"], json=document).status_code == 403
    assert (
        call("PUT", "/api/v1/tracks/999999/shares", people["admin"], json=document).status_code
        == 404
    )
    artist_view = call("GET", f"/api/v1/tracks/{track_id}", people["artist"])
    assert artist_view.status_code == 200  # now one of the artist's tracks
    with pg_app.app_context():
        events = db.session.query(AuditEvent).filter_by(action="shares.set").all()
        assert len(events) == 1 and events[0].object_id == str(track_id)
