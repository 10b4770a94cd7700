"""/api/v1/tracks, /jobs and /reviews on the embedded defaults (SQLite, the job inline): an
artist uploads and sees only her tracks and jobs, another party's upload of her recording
waits for an admin, bad uploads are problems, keys make a POST safe to repeat, and every
view refuses the roles and scopes it does not name."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from central import create_app
from central.auth import tokens, users
from central.auth.roles import ARTIST, AUDITOR, RIGHTS_HOLDER, STATION
from central.cli import cli
from central.extensions import db, utc_now
from central.stations import store as stations
from edge_agent.fingerprint import SAMPLE_RATE_HZ
from tests import transforms
from tests.conftest import disposed
from tests.unit.central.catalog.uploading import AMA, KASA, song_file, stored_files

ADMIN_TOKEN = "zamio-upload-test-admin-token-0123456789abcdef"
WRITE = ["catalog:read", "catalog:write"]


def token_of(app: Flask, email: str, role: str, scopes: list[str], **links: Any) -> str:
    """A token of a new user of `role` (parties or stations as given)."""
    with app.app_context():
        if role == STATION:
            stations.add_station(db.session, "joy-fm", "Joy FM")
        user = users.add_user(db.session, email, role, None, links.get("stations", ()),
                              links.get("parties", ()))  # fmt: skip
        _, token = tokens.create_token(db.session, user, "t", scopes, None, utc_now())
        db.session.commit()
    return token


@pytest.fixture
def api(app: Flask) -> Flask:
    """The SQLite app with ADMIN_TOKEN as its bootstrap admin token."""
    app.config["ZAMIO"] = dataclasses.replace(app.config["ZAMIO"], api_token=ADMIN_TOKEN)
    return app


@pytest.fixture
def ama(api: Flask) -> str:
    """Ama, an artist paid as AMA, may read and upload."""
    return token_of(api, "ama@example.com", ARTIST, WRITE, parties=[AMA])


@pytest.fixture
def kasa(api: Flask) -> str:
    """Kasa Records, a rights holder paid as KASA, may read and upload."""
    return token_of(api, "kasa@example.com", RIGHTS_HOLDER, WRITE, parties=[KASA])


def auth(token: str, **headers: str) -> dict[str, str]:
    """Headers with the bearer token."""
    return {"Authorization": f"Bearer {token}", **headers}


def form(path: Path | None, title: str, party: str, isrc: str = "GH-A01-26-00001", **extra):
    """A multipart upload form: the file, a title and a master pool wholly `party`'s."""
    shares = {"master": {"isrc": isrc, "shares": [
        {"party": party, "role": "performer", "share_bp": 10_000}]}}  # fmt: skip
    data: dict[str, Any] = {"title": title, "shares": json.dumps(shares), **extra}
    if path is not None:
        data["file"] = FileStorage(io.BytesIO(path.read_bytes()), path.name)
    return data


def upload(client: FlaskClient, token: str, data: dict[str, Any], **headers: str):
    """POST /api/v1/tracks, the multipart body encoded in memory (the test client's own
    encoder leaves a temporary file open for bodies over 500 kB)."""
    boundary, body = encode_multipart(data)
    return client.post("/api/v1/tracks", data=body, headers=auth(token, **headers),
                       content_type=f"multipart/form-data; boundary={boundary}")  # fmt: skip


def test_an_artist_uploads_and_sees_only_her_own(
    api: Flask, ama: str, kasa: str, tmp_path: Path
) -> None:
    """Ama's upload is accepted (202, the job's Location) and registered; she lists it with
    its shares; Kasa sees neither the track nor the job (404, as if absent)."""
    client = api.test_client()
    path = song_file(tmp_path, "a.wav", transforms.song(81, 40.0))
    response = upload(client, ama, form(path, "Nkwa", AMA, artist="Ama"))
    assert response.status_code == 202, response.json
    job = response.json
    assert response.headers["Location"] == f"/api/v1/jobs/{job['id']}"
    assert (job["kind"], job["state"], job["track_external_id"]) == (
        "track_upload", "registered", "nkwa")  # fmt: skip
    assert job["submitted_by"].startswith("user:")
    polled = client.get(response.headers["Location"], headers=auth(ama)).json
    assert polled["state"] == "registered" and polled["progress_percent"] == 100
    listed = client.get("/api/v1/tracks", headers=auth(ama)).json
    assert [t["external_id"] for t in listed["tracks"]] == ["nkwa"]
    track = listed["tracks"][0]
    assert track["shares"]["master"]["shares"] == [
        {"party": AMA, "role": "performer", "share_bp": 10_000}
    ]
    one = client.get(f"/api/v1/tracks/{track['id']}", headers=auth(ama))
    assert one.status_code == 200 and one.json == track
    assert client.get("/api/v1/tracks", headers=auth(kasa)).json["tracks"] == []
    assert client.get(f"/api/v1/tracks/{track['id']}", headers=auth(kasa)).status_code == 404
    assert client.get(f"/api/v1/jobs/{job['id']}", headers=auth(kasa)).status_code == 404
    every = client.get("/api/v1/tracks", headers=auth(ADMIN_TOKEN)).json["tracks"]
    assert [t["id"] for t in every] == [track["id"]]


def test_an_api_upload_is_found_on_air_by_playlog(api: Flask, ama: str, tmp_path: Path) -> None:
    """A song uploaded through POST /api/v1/tracks is, once registered, the one play
    `zamio playlog` finds in a broadcast of talk, that song and unregistered music."""
    song = transforms.song(83, 40.0)
    response = upload(
        api.test_client(), ama, form(song_file(tmp_path, "s.wav", song), "Aired", AMA)
    )
    assert response.status_code == 202 and response.json["state"] == "registered", response.json
    talk, unknown = transforms.speech(8.0, 4), transforms.song(998, 35.0)
    radio = song_file(tmp_path, "radio.wav", np.concatenate([talk, song, unknown]))
    result = api.test_cli_runner().invoke(cli, ["playlog", str(radio), "--json"])
    assert result.exit_code == 0, result.output
    plays = json.loads(result.stdout)
    assert [p["track_id"] for p in plays] == ["aired"]
    assert abs(plays[0]["start_s"] - 8.0) <= 2.0


def test_a_claim_on_anothers_recording_waits_for_an_admin(
    api: Flask, ama: str, kasa: str, tmp_path: Path
) -> None:
    """Kasa's cut of Ama's song is held: the admin lists it, approves it once (409 after), and
    Kasa's track is registered; a third party's claim is held, rejected, its file deleted."""
    client = api.test_client()
    song = transforms.song(82, 60.0)
    upload(client, ama, form(song_file(tmp_path, "a.wav", song), "Orig", AMA))
    cut = song_file(tmp_path, "cut.wav", song[: 40 * SAMPLE_RATE_HZ])
    held = upload(client, kasa, form(cut, "Cut", KASA, "GH-A01-26-00002")).json
    assert (held["state"], held["track_id"]) == ("review", None)
    page = client.get("/api/v1/reviews", headers=auth(ADMIN_TOKEN)).json
    assert [(r["upload_id"], r["matched_external_id"], r["reason"]) for r in page["reviews"]] == [
        (held["id"], "orig", "same_recording")
    ]
    review_id = page["reviews"][0]["id"]
    path = f"/api/v1/reviews/{review_id}/approve"
    done = client.post(path, json={"note": "licensed"}, headers=auth(ADMIN_TOKEN))
    assert done.status_code == 200 and done.json["state"] == "registered"
    again = client.post(path, json={}, headers=auth(ADMIN_TOKEN))
    assert again.status_code == 409 and "already approved" in again.json["detail"]
    assert client.post("/api/v1/reviews/99/reject", json={},
                       headers=auth(ADMIN_TOKEN)).status_code == 404  # fmt: skip
    other = song_file(tmp_path, "other.wav", song[5 * SAMPLE_RATE_HZ : 50 * SAMPLE_RATE_HZ])
    third = token_of(api, "x@example.com", RIGHTS_HOLDER, WRITE, parties=["label:x:earnings"])
    second = upload(client, third, form(other, "Other", "label:x:earnings", "GH-A01-26-00003")).json
    assert second["state"] == "review"
    rid = client.get("/api/v1/reviews", headers=auth(ADMIN_TOKEN)).json["reviews"][0]["id"]
    rejected = client.post(f"/api/v1/reviews/{rid}/reject", json={"note": "not yours"},
                           headers=auth(ADMIN_TOKEN))  # fmt: skip
    assert rejected.json["state"] == "rejected"
    assert rejected.json["error"] == "rejected by review: not yours"
    assert len(stored_files(api)) == 2
    decided = client.get("/api/v1/reviews?state=approved", headers=auth(ADMIN_TOKEN)).json
    assert [r["decided_by"] for r in decided["reviews"]] == ["bootstrap"]


def test_bad_uploads_are_problems(api: Flask, kasa: str, tmp_path: Path) -> None:
    """Shares that do not pay the uploader, shares that are not JSON, no file and a file that
    is no audio are 400 problems with the reason; nothing is kept."""
    client = api.test_client()
    path = song_file(tmp_path, "a.wav", transforms.song(83, 10.0))
    refused = upload(client, kasa, form(path, "X", AMA))
    assert refused.status_code == 400
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert "none of them pays you" in refused.json["detail"]
    bad_json = form(path, "X", KASA) | {"shares": "{nope"}
    assert "shares: not JSON" in upload(client, kasa, bad_json).json["detail"]
    no_file = upload(client, kasa, form(None, "X", KASA))
    assert no_file.status_code == 400 and "file" in no_file.json["errors"]["form_and_files"]
    text = tmp_path / "t.wav"
    text.write_text("words, not sound")
    assert "not audio" in upload(client, kasa, form(text, "X", KASA)).json["detail"]
    assert stored_files(api) == []


def test_an_upload_over_the_limit_is_413(tmp_path: Path) -> None:
    """A body over ZAMIO_UPLOAD_BYTES_MAX and its form is refused before it is read."""
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'z.db'}", "TESTING": True,
                      "UPLOAD_BYTES_MAX": 100_000, "API_TOKEN": ADMIN_TOKEN})  # fmt: skip
    try:
        path = song_file(tmp_path, "a.wav", transforms.song(84, 20.0))  # 320 kB
        response = upload(app.test_client(), ADMIN_TOKEN, form(path, "X", KASA))
        assert response.status_code == 413 and "ZAMIO_UPLOAD_BYTES_MAX" in response.json["detail"]
        assert stored_files(app) == []
    finally:
        disposed(app)


def test_an_idempotency_key_makes_the_upload_safe_to_repeat(
    api: Flask, ama: str, tmp_path: Path
) -> None:
    """The same key and file: the first job again, replayed, one upload; the same key with
    another file: 409."""
    client = api.test_client()
    path = song_file(tmp_path, "a.wav", transforms.song(85, 20.0))
    data = form(path, "Once", AMA)
    first = upload(client, ama, data, **{"Idempotency-Key": "k1"})
    data = form(path, "Once", AMA)  # a new stream of the same bytes
    again = upload(client, ama, data, **{"Idempotency-Key": "k1"})
    assert again.status_code == 202 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json["id"] == first.json["id"]
    other = song_file(tmp_path, "b.wav", transforms.song(86, 20.0))
    clash = upload(client, ama, form(other, "Once", AMA), **{"Idempotency-Key": "k1"})
    assert clash.status_code == 409
    assert len(stored_files(api)) == 1


def test_roles_and_scopes_are_enforced(api: Flask, ama: str, tmp_path: Path) -> None:
    """Station staff cannot reach tracks (403); a read-only token cannot upload (403); an
    auditor reads every track but cannot upload; only admins see reviews."""
    client = api.test_client()
    staff = token_of(api, "s@example.com", STATION, ["stations:read"], stations=["joy-fm"])
    reader = token_of(api, "r@example.com", ARTIST, ["catalog:read"], parties=[AMA])
    auditor = token_of(api, "a@example.com", AUDITOR, ["catalog:read"])
    path = song_file(tmp_path, "a.wav", transforms.song(87, 10.0))
    assert client.get("/api/v1/tracks", headers=auth(staff)).status_code == 403
    assert upload(client, reader, form(path, "X", AMA)).status_code == 403
    assert upload(client, auditor, form(path, "X", AMA)).status_code == 403
    assert client.get("/api/v1/tracks", headers=auth(auditor)).status_code == 200
    assert client.get("/api/v1/reviews", headers=auth(ama)).status_code == 403
    assert client.get("/api/v1/tracks").status_code == 401
    spec = client.get("/api/v1/openapi.json").json
    post = spec["paths"]["/api/v1/tracks"]["post"]
    assert post["x-zamio-policy"]["scope"] == "catalog:write"
    assert any(p["name"] == "Idempotency-Key" for p in post["parameters"])
    assert "multipart/form-data" in post["requestBody"]["content"]


def test_every_upload_route_declares_its_policy(api: Flask) -> None:
    """Each route of the tracks blueprint names its roles and scope (none is left open)."""
    from central.auth.policy import policy_of

    rules = [r for r in api.url_map.iter_rules() if r.endpoint.startswith("tracks.")]
    assert len(rules) == 7
    for rule in rules:
        declared = policy_of(api.view_functions[rule.endpoint])
        assert declared is not None and not declared.public and declared.scope, rule.rule
