"""Registering a track through the console's form on PostgreSQL, the job on Redis: the form
makes the same track_upload row as the API, the progress fragment polls until the worker has
registered it, a form without its CSRF token is refused, and another party's upload is 404."""

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
from central.catalog.upload_models import TrackUpload
from central.extensions import db
from tests import transforms
from tests.integration.central.catalog.test_upload_postgres import work
from tests.unit.central.catalog.uploading import song_file

pytestmark = pytest.mark.integration

AMA = "artist:ama:earnings"
HX = {"HX-Request": "true"}


@pytest.fixture
def queued(pg_app: Flask, redis_url: str, redis_connection: redis.Redis, tmp_path: Path
           ) -> Iterator[Flask]:  # fmt: skip
    """pg_app with upload jobs on the tests' Redis and files kept under tmp_path."""
    settings = pg_app.config["ZAMIO"]
    pg_app.config["ZAMIO"] = dataclasses.replace(
        settings, redis_url=redis_url, uploads_dir=str(tmp_path / "uploads")
    )
    worker.use_app(pg_app)
    yield pg_app
    worker.use_app(None)


def song(tmp_path: Path, seed: int = 91) -> tuple:
    """A 20 s WAV song as a form's file field."""
    path = song_file(tmp_path, f"{seed}.wav", transforms.song(seed, 20.0))
    return (path.open("rb"), path.name)


def uploads(app: Flask) -> list[TrackUpload]:
    """Every track_upload row."""
    with app.app_context():
        found = list(db.session.scalars(select(TrackUpload).order_by(TrackUpload.id)))
        db.session.expunge_all()
        return found


def test_an_upload_by_form_is_queued_polled_and_registered(
    queued: Flask, console_client, redis_connection: redis.Redis, tmp_path: Path
) -> None:
    """The form (with its token) makes a queued track_upload row of Ama's and goes to its
    progress page; the fragment polls while queued and stops once the worker registered it;
    the track is then on her list, and the upload in the audit log as done via the console."""
    client = console_client("artist")
    form = client.get("/tracks")
    assert form.status_code == 200 and 'enctype="multipart/form-data"' in form.text
    data = {"file": song(tmp_path), "title": "Nkwa", "artist": "Ama", "isrc": "GH-A01-26-00007"}
    response = client.form("/tracks", data)
    assert response.status_code == 303, response.text
    (row,) = uploads(queued)
    assert response.headers["Location"] == f"/tracks/uploads/{row.id}"
    assert (row.state, row.title, row.isrc, row.parties_json) == (
        "queued", "Nkwa", "GHA012600007", f'["{AMA}"]'
    )  # fmt: skip
    assert row.submitted_by.startswith("user:")
    page = client.get(f"/tracks/uploads/{row.id}")
    assert page.status_code == 200 and "<h1>" in page.text
    fragment = client.get(f"/tracks/uploads/{row.id}", headers=HX)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert 'data-state="queued"' in fragment.text and 'hx-trigger="every 2s"' in fragment.text
    work(redis_connection)
    done = client.get(f"/tracks/uploads/{row.id}", headers=HX)
    assert 'data-state="registered"' in done.text and "hx-trigger" not in done.text
    assert "Registered as <strong>nkwa</strong>" in done.text
    listed = client.get("/tracks")
    assert "Nkwa" in listed.text and "GHA012600007" in listed.text
    assert f'href="/tracks/uploads/{row.id}"' in listed.text
    with queued.app_context():
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "track.upload"))
        assert [e.via for e in events] == ["console"]


def test_a_form_without_its_csrf_token_is_refused(
    queued: Flask, console_client, tmp_path: Path
) -> None:
    """No token, or a made-up one: 400 and no upload kept."""
    client = console_client("artist")
    data = {"title": "Nkwa", "isrc": "GH-A01-26-00007"}
    assert client.post("/tracks", data={**data, "file": song(tmp_path)}).status_code == 400
    forged = {**data, "file": song(tmp_path), "csrf_token": "x" * 40}
    assert client.post("/tracks", data=forged).status_code == 400
    assert uploads(queued) == []


def test_a_refused_upload_shows_every_reason(queued: Flask, console_client, tmp_path: Path) -> None:
    """No ISRC, ISWC or shares; a file that is no audio; shares that pay someone else: 400
    with the form again and the reasons, nothing kept."""
    client = console_client("artist")
    none = client.form("/tracks", {"file": song(tmp_path), "title": "Nkwa"})
    assert none.status_code == 400 and "give an ISRC or an ISWC" in none.text
    text = (tmp_path / "notes.txt").open("wb+")
    text.write(b"just words, no audio at all")
    text.seek(0)
    noise = client.form("/tracks", {"file": (text, "notes.txt"), "title": "Nkwa",
                                    "isrc": "GH-A01-26-00007"})  # fmt: skip
    assert noise.status_code == 400 and "not audio" in noise.text
    other = ('{"master": {"isrc": "GH-A01-26-00007", "shares": [{"party": "label:x:earnings",'
             ' "role": "label", "share_bp": 10000}]}}')  # fmt: skip
    theirs = client.form("/tracks", {"file": song(tmp_path), "title": "Nkwa", "shares": other})
    assert theirs.status_code == 400 and "none of them pays you" in theirs.text
    assert 'value="Nkwa"' in theirs.text and "label:x:earnings" in theirs.text
    assert uploads(queued) == []


def test_another_partys_upload_is_404(queued: Flask, console_client, tmp_path: Path) -> None:
    """Ama's upload's progress is hers: 404 to the label's user, 403 to station staff."""
    ama = console_client("artist")
    ama.form("/tracks", {"file": song(tmp_path), "title": "Nkwa", "isrc": "GH-A01-26-00007"})
    (row,) = uploads(queued)
    label = console_client("rights_holder")
    assert label.get(f"/tracks/uploads/{row.id}").status_code == 404
    assert f'href="/tracks/uploads/{row.id}"' not in label.get("/tracks").text
    assert f'href="/tracks/uploads/{row.id}"' in ama.get("/tracks").text
    assert console_client("station").get(f"/tracks/uploads/{row.id}").status_code == 403
