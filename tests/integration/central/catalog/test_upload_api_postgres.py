"""/api/v1/tracks, /jobs and /reviews on PostgreSQL with the job on Redis: a 202 that is
queued until a worker runs it, the job polled to its end, tracks paged by cursor, a review
decided through the API, and the audit log holding each write."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask
from sqlalchemy import select

from central import worker
from central.auth.models import AuditEvent
from central.auth.roles import ARTIST, RIGHTS_HOLDER
from central.extensions import db
from edge_agent.fingerprint import SAMPLE_RATE_HZ
from tests import transforms
from tests.integration.central.catalog.test_upload_postgres import work
from tests.unit.central.catalog.test_upload_api import (
    ADMIN_TOKEN,
    WRITE,
    auth,
    form,
    token_of,
    upload,
)
from tests.unit.central.catalog.uploading import AMA, KASA, song_file

pytestmark = pytest.mark.integration


@pytest.fixture
def api(pg_app: Flask, redis_url: str, redis_connection: redis.Redis) -> Iterator[Flask]:
    """pg_app with the admin token and its jobs on the tests' Redis."""
    settings = pg_app.config["ZAMIO"]
    pg_app.config["ZAMIO"] = dataclasses.replace(settings, api_token=ADMIN_TOKEN,
                                                 redis_url=redis_url)  # fmt: skip
    worker.use_app(pg_app)
    yield pg_app
    worker.use_app(None)


def test_an_upload_is_queued_polled_and_registered(
    api: Flask, redis_connection: redis.Redis, tmp_path: Path
) -> None:
    """The POST answers 202 at once with the job queued; polling shows queued until a worker
    runs it, then registered with the track; the upload is in the audit log."""
    ama = token_of(api, "ama@example.com", ARTIST, WRITE, parties=[AMA])
    client = api.test_client()
    path = song_file(tmp_path, "a.wav", transforms.song(91, 30.0))
    response = upload(client, ama, form(path, "Nkwa", AMA), **{"Idempotency-Key": "u-1"})
    assert response.status_code == 202
    assert (response.json["state"], response.json["progress_percent"]) == ("queued", 0)
    location = response.headers["Location"]
    assert client.get(location, headers=auth(ama)).json["state"] == "queued"
    work(redis_connection)
    done = client.get(location, headers=auth(ama)).json
    assert (done["state"], done["track_external_id"]) == ("registered", "nkwa")
    track = client.get(f"/api/v1/tracks/{done['track_id']}", headers=auth(ama))
    assert track.status_code == 200 and track.json["duration_ms"] == 30_000
    with api.app_context():
        actions = db.session.scalars(select(AuditEvent.action)).all()
    assert "track.upload" in actions


def test_tracks_page_by_cursor_within_the_callers_parties(
    api: Flask, redis_connection: redis.Redis, tmp_path: Path
) -> None:
    """Three of Ama's uploads and one of Kasa's: Ama pages through her three, two at a time;
    a forged cursor is a 400 problem; the admin sees all four."""
    ama = token_of(api, "ama@example.com", ARTIST, WRITE, parties=[AMA])
    kasa = token_of(api, "kasa@example.com", RIGHTS_HOLDER, WRITE, parties=[KASA])
    client = api.test_client()
    for n, (token, party) in enumerate([(ama, AMA), (kasa, KASA), (ama, AMA), (ama, AMA)]):
        path = song_file(tmp_path, f"{n}.wav", transforms.song(92 + n, 12.0))
        isrc = f"GH-A01-26-0000{n}"
        assert upload(client, token, form(path, f"Song {n}", party, isrc)).status_code == 202
    work(redis_connection)
    first = client.get("/api/v1/tracks?limit=2", headers=auth(ama)).json
    assert [t["external_id"] for t in first["tracks"]] == ["song-0", "song-2"]
    rest = client.get(f"/api/v1/tracks?limit=2&cursor={first['next_cursor']}", headers=auth(ama))
    assert [t["external_id"] for t in rest.json["tracks"]] == ["song-3"]
    assert rest.json["next_cursor"] is None
    forged = client.get("/api/v1/tracks?cursor=zzz", headers=auth(ama))
    assert forged.status_code == 400 and "cursor" in forged.json["detail"]
    every = client.get("/api/v1/tracks", headers=auth(ADMIN_TOKEN)).json["tracks"]
    assert len(every) == 4


def test_a_review_decided_through_the_api_on_postgres(
    api: Flask, redis_connection: redis.Redis, tmp_path: Path
) -> None:
    """Kasa's cut of Ama's song is held by the worker; the admin approves it (idempotently:
    the same key replays the decision); the approval is audited."""
    ama = token_of(api, "ama@example.com", ARTIST, WRITE, parties=[AMA])
    kasa = token_of(api, "kasa@example.com", RIGHTS_HOLDER, WRITE, parties=[KASA])
    client = api.test_client()
    song = transforms.song(97, 60.0)
    upload(client, ama, form(song_file(tmp_path, "a.wav", song), "Orig", AMA))
    cut = song_file(tmp_path, "cut.wav", song[10 * SAMPLE_RATE_HZ : 50 * SAMPLE_RATE_HZ])
    held = upload(client, kasa, form(cut, "Cut", KASA, "GH-A01-26-00002")).json
    work(redis_connection)
    assert client.get(f"/api/v1/jobs/{held['id']}", headers=auth(kasa)).json["state"] == "review"
    review_id = client.get("/api/v1/reviews", headers=auth(ADMIN_TOKEN)).json["reviews"][0]["id"]
    headers = auth(ADMIN_TOKEN, **{"Idempotency-Key": "approve-1"})
    path = f"/api/v1/reviews/{review_id}/approve"
    approved = client.post(path, json={"note": "ok"}, headers=headers)
    replayed = client.post(path, json={"note": "ok"}, headers=headers)
    assert approved.status_code == replayed.status_code == 200
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert approved.json["state"] == "registered"
    with api.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "review.approve"))
        assert (event.actor, event.object_id) == ("bootstrap", str(review_id))
