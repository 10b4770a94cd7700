"""Uploads on PostgreSQL with jobs on Redis (RQ): queued, worked, registered once however often
the job runs, held for review, refused without a trace, and paid: a registered upload aired
through the pipeline credits the uploader's earnings."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import redis
from flask import Flask
from rq import SimpleWorker
from sqlalchemy import select, update

from central import queues, worker
from central.catalog.models import Track, TrackNearDuplicate
from central.catalog.review import approve_review, reject_review
from central.catalog.upload_job import run_upload, sweep_uploads
from central.catalog.upload_models import TrackReview, TrackUpload
from central.catalog.uploads import upload_status
from central.errors import UploadError
from central.extensions import db
from central.ledger.queries import balance
from central.monitoring.store import EVENT, record_event
from central.stations import store as stations
from edge_agent.fingerprint import FINGERPRINT_VERSION, SAMPLE_RATE_HZ
from edge_agent.health import HealthEvent
from tests import transforms
from tests.integration.central.broadcast import DEVICE, START_MS, STATION, ingest, payloads
from tests.integration.central.royalties.conftest import add_card, card_document
from tests.unit.central.catalog.uploading import (
    AMA,
    KASA,
    corrupt_wav,
    counts,
    fields,
    song_file,
    stored_files,
    submit,
    upload_row,
)

pytestmark = pytest.mark.integration

ISRC = "GH-A01-26-00001"


@pytest.fixture
def rq(pg_app: Flask, redis_connection: redis.Redis) -> Iterator[redis.Redis]:
    """Jobs of the test app on the tests' Redis db."""
    worker.use_app(pg_app, queues.pipeline_queue(redis_connection))
    yield redis_connection
    worker.use_app(None)


def work(connection: redis.Redis) -> None:
    """Run every queued job, in this process."""
    SimpleWorker([queues.pipeline_queue(connection)], connection=connection).work(burst=True)


def submit_rq(app: Flask, connection: redis.Redis, path: Path, upload_fields, parties) -> int:
    """submit_upload with the job on Redis; the upload's id."""
    return submit(app, path, upload_fields, parties, queues.pipeline_queue(connection))


def test_an_upload_is_queued_then_worked_once(
    pg_app: Flask, rq: redis.Redis, tmp_path: Path
) -> None:
    """Queued with its deterministic job id; a worker registers it; enqueued and worked again,
    nothing changes."""
    path = song_file(tmp_path, "a.flac", transforms.song(71, 40.0))
    upload_id = submit_rq(pg_app, rq, path, fields("Nkwa", ISRC, AMA), frozenset({AMA}))
    queue = queues.pipeline_queue(rq)
    assert queue.job_ids == [f"process_upload-{upload_id}"]
    assert (upload_row(pg_app, upload_id).state, counts(pg_app)) == ("queued", (0, 0))
    work(rq)
    first = upload_row(pg_app, upload_id)
    assert (first.state, first.progress_percent) == ("registered", 100)
    queues.enqueue_process_upload(queue, upload_id)
    work(rq)
    again = upload_row(pg_app, upload_id)
    assert (again.state, again.updated_at, again.track_id) == (
        "registered", first.updated_at, first.track_id)  # fmt: skip
    assert counts(pg_app) == (1, 1)


def test_two_runs_at_once_register_once(pg_app: Flask, rq: redis.Redis, tmp_path: Path) -> None:
    """Two workers running the same upload at the same moment: the row lock lets one settle
    it; the other finds it settled. One track, one set of shares."""
    path = song_file(tmp_path, "a.wav", transforms.song(72, 40.0))
    upload_id = submit_rq(pg_app, rq, path, fields("Two", ISRC, AMA), frozenset({AMA}))
    states: list[str] = []

    def run() -> None:
        with pg_app.app_context():
            states.append(run_upload(db.session, upload_id, FINGERPRINT_VERSION))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert states == ["registered", "registered"]
    assert counts(pg_app) == (1, 1)


def test_two_parties_uploading_one_recording_at_once_cannot_both_register(
    pg_app: Flask, rq: redis.Redis, tmp_path: Path
) -> None:
    """Ama's song and Kasa's cut of it, worked by two workers at the same moment: the
    registration lock makes one see the other's track: one registered, one held for review."""
    song = transforms.song(77, 60.0)
    first = submit_rq(pg_app, rq, song_file(tmp_path, "a.wav", song), fields("A", ISRC, AMA),
                      frozenset({AMA}))  # fmt: skip
    cut = song_file(tmp_path, "cut.flac", song[5 * SAMPLE_RATE_HZ : 50 * SAMPLE_RATE_HZ])
    second = submit_rq(pg_app, rq, cut, fields("B", "GH-A01-26-00002", KASA), frozenset({KASA}))
    states: dict[int, str] = {}
    barrier = threading.Barrier(2)

    def run(upload_id: int) -> None:
        with pg_app.app_context():
            barrier.wait()
            states[upload_id] = run_upload(db.session, upload_id, FINGERPRINT_VERSION)

    threads = [threading.Thread(target=run, args=(i,)) for i in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(states.values()) == ["registered", "review"]
    assert counts(pg_app) == (1, 1)


def test_review_on_postgres(pg_app: Flask, rq: redis.Redis, tmp_path: Path) -> None:
    """Kasa's cut of Ama's song is held; approved, it is registered and linked; another
    upload of it is then Kasa's own recording (failed), and Ama's is rejected on review."""
    song = transforms.song(73, 60.0)
    submit_rq(pg_app, rq, song_file(tmp_path, "a.wav", song), fields("Orig", ISRC, AMA),
              frozenset({AMA}))  # fmt: skip
    cut = song_file(tmp_path, "cut.wav", song[10 * SAMPLE_RATE_HZ : 50 * SAMPLE_RATE_HZ])
    held = submit_rq(pg_app, rq, cut, fields("Cut", "GH-A01-26-00002", KASA), frozenset({KASA}))
    work(rq)
    assert upload_row(pg_app, held).state == "review"
    with pg_app.app_context():
        review_id = db.session.scalar(select(TrackReview.id))
        upload = approve_review(db.session, review_id, "user:9", "licensed")
        assert upload.state == "registered"
        assert len(db.session.scalars(select(TrackNearDuplicate)).all()) == 1
    again = submit_rq(pg_app, rq, cut, fields("Cut 2", "GH-A01-26-00003", KASA), frozenset({KASA}))
    third = song_file(tmp_path, "third.wav", song[: 45 * SAMPLE_RATE_HZ] * 0.8)
    other = submit_rq(pg_app, rq, third, fields("Mine", "GH-A01-26-00004", "label:x:earnings"),
                      frozenset({"label:x:earnings"}))  # fmt: skip
    work(rq)
    assert upload_row(pg_app, again).error == "already registered as cut"
    assert upload_row(pg_app, other).state == "review"
    with pg_app.app_context():
        review = db.session.scalar(select(TrackReview).where(TrackReview.upload_id == other))
        assert review.matched_track_id in set(db.session.scalars(select(Track.id)))
        assert reject_review(db.session, review.id, "user:9").state == "rejected"
        assert upload_status(db.session, other, frozenset({AMA})) is None
    assert counts(pg_app) == (2, 2) and len(stored_files(pg_app)) == 2


def test_bad_uploads_leave_nothing_on_postgres(
    pg_app: Flask, rq: redis.Redis, tmp_path: Path
) -> None:
    """A corrupt WAV fails in the worker with the decoder's reason; an empty and a text file
    are refused at submission: no track, no shares, no file, no row for the refused."""
    bad = submit_rq(pg_app, rq, corrupt_wav(tmp_path, 8), fields("B", ISRC, AMA), frozenset({AMA}))
    empty = tmp_path / "e.wav"
    empty.write_bytes(b"")
    text = tmp_path / "t.flac"
    text.write_text("hello")
    for path, problem in ((empty, "empty"), (text, "not audio")):
        with pytest.raises(UploadError, match=problem):
            submit_rq(pg_app, rq, path, fields("C", ISRC, AMA), frozenset({AMA}))
    work(rq)
    row = upload_row(pg_app, bad)
    assert row.state == "failed" and row.error.startswith("corrupt or undecodable")
    with pg_app.app_context():
        assert db.session.scalars(select(TrackUpload.id)).all() == [bad]
    assert counts(pg_app) == (0, 0) and stored_files(pg_app) == []


def test_the_sweep_enqueues_an_upload_whose_job_was_lost(
    pg_app: Flask, rq: redis.Redis, tmp_path: Path
) -> None:
    """Redis lost the job (flushed): the upload, still queued and stale, is enqueued again by
    sweep_uploads, once, and then registered; a fresh queued upload is left to its job."""
    path = song_file(tmp_path, "a.wav", transforms.song(74, 20.0))
    lost = submit_rq(pg_app, rq, path, fields("Lost", ISRC, AMA), frozenset({AMA}))
    rq.flushdb()
    fresh = submit_rq(pg_app, rq, song_file(tmp_path, "b.wav", transforms.song(75, 20.0)),
                      fields("Fresh", "GH-A01-26-00002", AMA), frozenset({AMA}))  # fmt: skip
    with pg_app.app_context():
        stale = datetime.now(UTC) - timedelta(hours=1)
        db.session.execute(update(TrackUpload).where(TrackUpload.id == lost).values(
            updated_at=stale))  # fmt: skip
        db.session.commit()
    assert sweep_uploads() == 1
    assert sweep_uploads() == 0  # its job is queued now
    work(rq)
    assert upload_row(pg_app, lost).state == "registered"
    assert upload_row(pg_app, fresh).state == "registered"


def air(app: Flask, connection: redis.Redis, audio: np.ndarray) -> None:
    """joy-fm plays `audio` from a file source that then ends; the whole pipeline runs."""
    quiet = np.zeros(5 * SAMPLE_RATE_HZ, np.float32)
    encoded = payloads(np.concatenate([quiet, audio, quiet]), START_MS)
    at_ms = START_MS + 10**6
    event = HealthEvent("source_ended", "fm", at_ms, {"seq_last": len(encoded) - 1})
    topic = f"stations/{STATION}/devices/{DEVICE}/events"
    with app.app_context():
        assert record_event(db.session, topic, event.to_json(DEVICE), at_ms).kind == EVENT
        db.session.commit()
    queue = queues.pipeline_queue(connection)
    for pk in ingest(app, encoded, at_ms):
        queues.enqueue_match(queue, pk)
    work(connection)


def test_a_registered_upload_on_air_pays_the_uploader(
    pg_app: Flask, rq: redis.Redis, tmp_path: Path
) -> None:
    """Ama's upload, 60/40 with Kasa, registered by the worker, aired once at joy-fm: one
    closed play, and both earnings accounts credited 60/40 of the master pool."""
    with pg_app.app_context():
        stations.add_station(db.session, STATION, "Joy FM")
        stations.add_device(db.session, DEVICE, STATION)
        add_card(db.session, card_document())
    song = transforms.song(76, 50.0)
    upload_fields = fields("Paid", ISRC, AMA, KASA)
    upload_fields["shares"]["master"]["shares"][0]["share_bp"] = 6000
    upload_fields["shares"]["master"]["shares"][1]["share_bp"] = 4000
    submit_rq(pg_app, rq, song_file(tmp_path, "a.wav", song), upload_fields, frozenset({AMA}))
    work(rq)
    air(pg_app, rq, song)
    with pg_app.app_context():
        ama = balance(db.session, AMA).balance_minor
        kasa = balance(db.session, KASA).balance_minor
    assert ama > 0 and kasa > 0
    assert abs(ama * 4 - kasa * 6) <= 10, (ama, kasa)
