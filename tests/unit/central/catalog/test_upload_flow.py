"""Uploads on the embedded defaults (SQLite, inline jobs): registered with their shares and
found on air; a recording registered already is refused or held for review; bad files leave
nothing behind; the job is idempotent."""

from __future__ import annotations

import json
from pathlib import Path

import fakeredis
import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from rq import Queue
from sqlalchemy import select

from central import create_app
from central.catalog.models import Track, TrackNearDuplicate
from central.catalog.store import register_track
from central.catalog.upload_job import run_upload
from central.catalog.upload_models import TrackReview, TrackUpload
from central.catalog.uploads import upload_status
from central.cli import cli
from central.errors import FingerprintVersionError, UploadError
from central.extensions import db
from central.royalties.store import track_shares
from edge_agent.decode import decode_file
from edge_agent.fingerprint import FINGERPRINT_VERSION, REFERENCE, SAMPLE_RATE_HZ, fingerprint
from tests import synth, transforms
from tests.conftest import disposed
from tests.unit.central.catalog.uploading import (
    AMA,
    KASA,
    corrupt_wav,
    counts,
    fields,
    seeded_song,
    song_file,
    stored_files,
    submit,
    upload_row,
)

ISRC = "GH-A01-26-00001"


def test_an_upload_is_registered_with_its_shares(app: Flask, tmp_path: Path) -> None:
    """A FLAC upload is decoded and fingerprinted exactly as an import would be, registered
    under its title's slug with its shares (so royalties pay them), and kept."""
    path = seeded_song(tmp_path, 31, suffix=".flac")
    upload_id = submit(app, path, fields("Ɔdɔ Nkwa", ISRC, AMA), frozenset({AMA}))
    with app.app_context():
        status = upload_status(db.session, upload_id, frozenset({AMA}))
        assert status is not None
        assert (status.state, status.progress_percent, status.error) == ("registered", 100, None)
        assert status.track_external_id == "odo-nkwa"
        assert status.job_id == f"process_upload-{upload_id}"
        track = db.session.get(Track, status.track_id)
        assert (track.title, track.isrc, track.duration_ms) == ("Ɔdɔ Nkwa", "GHA012600001", 45000)
        shares = track_shares(db.session, track.id)
        assert [(x.party, x.share_bp) for x in shares["master"].lines] == [(AMA, 10_000)]
        stored = track.fingerprints[0]
    expected = fingerprint(decode_file(path), REFERENCE)
    assert stored.hashes == expected.hashes.astype("<u4").tobytes()
    assert len(stored_files(app)) == 1 and stored_files(app)[0].endswith(".flac")


def test_a_registered_upload_is_found_on_air_by_playlog(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    """The uploaded song, aired between talk and unknown music, is the one play `zamio playlog`
    finds, at the right time."""
    song = transforms.song(32, 40.0)
    upload_id = submit(app, song_file(tmp_path, "up.wav", song), fields("Up", ISRC, AMA),
                       frozenset({AMA}))  # fmt: skip
    assert upload_row(app, upload_id).state == "registered"
    talk, unknown = transforms.speech(8.0, 3), transforms.song(999, 35.0)
    radio = song_file(tmp_path, "radio.wav", np.concatenate([talk, song, unknown]))
    result = runner.invoke(cli, ["playlog", str(radio), "--json"])
    assert result.exit_code == 0, result.output
    plays = json.loads(result.stdout)
    assert [p["track_id"] for p in plays] == ["up"]
    assert plays[0]["start_s"] == pytest.approx(8.0, abs=2.0)
    assert plays[0]["end_s"] == pytest.approx(48.0, abs=2.0)


def test_another_partys_recording_is_held_for_review(app: Flask, tmp_path: Path) -> None:
    """A 35 s cut of a song registered to Ama, uploaded by Kasa, is registered as nothing: it
    waits for review with the span it shares; the very same file too. Ama cannot see Kasa's
    upload."""
    song = transforms.song(33, 60.0)
    submit(app, song_file(tmp_path, "a.wav", song), fields("Orig", ISRC, AMA), frozenset({AMA}))
    cut = song_file(tmp_path, "cut.wav", song[10 * SAMPLE_RATE_HZ : 45 * SAMPLE_RATE_HZ])
    cut_id = submit(app, cut, fields("Mine", "GH-A01-26-00002", KASA), frozenset({KASA}))
    copy = tmp_path / "copy.wav"
    copy.write_bytes((tmp_path / "a.wav").read_bytes())
    same_id = submit(app, copy, fields("Also", "GH-A01-26-00003", KASA), frozenset({KASA}))
    assert counts(app) == (1, 1)
    with app.app_context():
        reviews = {r.upload_id: r for r in db.session.scalars(select(TrackReview))}
        orig = db.session.scalar(select(Track.id).where(Track.external_id == "orig"))
        assert upload_status(db.session, cut_id, frozenset({AMA})) is None
        status = upload_status(db.session, cut_id, frozenset({KASA}))
        assert (status.state, status.review_id) == ("review", reviews[cut_id].id)
    cut_review = reviews[cut_id]
    assert (cut_review.matched_track_id, cut_review.reason, cut_review.state) == (
        orig, "same_recording", "pending")  # fmt: skip
    assert cut_review.shared_start_ms < 2000 and 33_000 <= cut_review.shared_ms <= 35_500
    assert (reviews[same_id].reason, reviews[same_id].shared_ms) == ("same_audio", 60_000)
    assert len(stored_files(app)) == 3  # kept for the decision


def test_the_owners_own_recording_again_fails(app: Flask, tmp_path: Path) -> None:
    """Ama uploading her registered song again (a cut of it) fails, naming the track; the file
    is deleted and nothing is added."""
    song = transforms.song(34, 60.0)
    submit(app, song_file(tmp_path, "a.wav", song), fields("Orig", ISRC, AMA), frozenset({AMA}))
    cut = song_file(tmp_path, "cut.wav", song[: 40 * SAMPLE_RATE_HZ])
    again = submit(app, cut, fields("Again", "GH-A01-26-00002", AMA), frozenset({AMA}))
    row = upload_row(app, again)
    assert (row.state, row.error, row.file_path) == ("failed", "already registered as orig", None)
    assert counts(app) == (1, 1) and len(stored_files(app)) == 1


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda d: corrupt_wav(d, 5), "corrupt or undecodable"),
        (lambda d: song_file(d, "short.wav", transforms.song(35, 2.0)), "too short: 2.00 s"),
        (lambda d: synth.silent_wav(d / "silent.wav"), "silent: RMS -inf dBFS"),
        (lambda d: song_file(d, "tone.wav", np.sin(np.arange(8000 * 30) * 0.3) * 0.5),
         "too_few_landmarks"),
        (lambda d: song_file(d, "long.wav", np.full(8000 * 60 * 21, 0.1, np.float32)),
         "too long: 1260 s, at most 1200 s"),
    ],
)  # fmt: skip
def test_unfit_audio_fails_and_leaves_nothing(
    app: Flask, tmp_path: Path, make, reason: str
) -> None:
    """Corrupt, too short, silent, tonal and over-long files end failed with the decoder's
    reason (no server path in it); no track, no shares, no file is left."""
    upload_id = submit(app, make(tmp_path), fields("Bad", ISRC, AMA), frozenset({AMA}))
    row = upload_row(app, upload_id)
    assert row.state == "failed" and reason in row.error, row.error
    assert str(tmp_path) not in row.error and row.file_path is None
    assert counts(app) == (0, 0) and stored_files(app) == []


def written(path: Path, data: bytes) -> Path:
    """`path`, holding `data`."""
    path.write_bytes(data)
    return path


@pytest.fixture
def small_app(tmp_path: Path):
    """An app that takes uploads of at most 50,000 bytes."""
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'z.db'}", "TESTING": True,
                      "UPLOAD_BYTES_MAX": 50_000})  # fmt: skip
    yield app
    disposed(app)


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda d: written(d / "empty.wav", b""), "file: empty"),
        (lambda d: seeded_song(d, 36, 10.0), "file: too large: over 50000 bytes"),
        (lambda d: written(d / "n.mp3", b"not audio at all"), "not audio"),
        (lambda d: synth.corrupt_file(d / "r.ogg", seed=21), "not audio"),
    ],
)
def test_empty_huge_and_non_audio_are_refused_at_once(
    small_app: Flask, tmp_path: Path, make, problem: str
) -> None:
    """An empty file, one over ZAMIO_UPLOAD_BYTES_MAX and one that is no audio container are
    refused before anything is recorded or kept."""
    with pytest.raises(UploadError, match=problem):
        submit(small_app, make(tmp_path), fields("X", ISRC, AMA), frozenset({AMA}))
    with small_app.app_context():
        assert db.session.scalars(select(TrackUpload)).all() == []
    assert stored_files(small_app) == []


def test_bad_metadata_is_refused_before_the_file_is_read(app: Flask, tmp_path: Path) -> None:
    """Shares that do not pay the uploader, and an external id already taken, are refused
    with every reason; nothing is kept."""
    path = seeded_song(tmp_path, 37, 10.0)
    with pytest.raises(UploadError, match="none of them pays you"):
        submit(app, path, fields("X", ISRC, AMA), frozenset({KASA}))
    submit(app, path, fields("X", ISRC, AMA, external_id="x-1"), frozenset({AMA}))
    other = seeded_song(tmp_path, 38, 10.0)
    with pytest.raises(UploadError) as raised:
        submit(app, other, fields("", ISRC, AMA, external_id="x-1"), frozenset({AMA}))
    assert raised.value.problems == ["title: required", "external_id: x-1 is already registered"]
    assert len(stored_files(app)) == 1


def test_an_operator_uploads_on_behalf_of_the_shares_parties(app: Flask, tmp_path: Path) -> None:
    """With no parties (an admin), the upload is the shares' parties': Ama can see it."""
    upload_id = submit(app, seeded_song(tmp_path, 39, 10.0), fields("X", ISRC, AMA), None)
    with app.app_context():
        assert upload_status(db.session, upload_id, frozenset({AMA})).state == "registered"
        assert upload_status(db.session, upload_id, None) is not None


def test_the_job_run_twice_has_no_second_effect(app: Flask, tmp_path: Path) -> None:
    """Running process_upload again on a registered, a held and a failed upload changes
    nothing: no second track, review or state change."""
    song = transforms.song(40, 50.0)
    done = submit(app, song_file(tmp_path, "a.wav", song), fields("A", ISRC, AMA),
                  frozenset({AMA}))  # fmt: skip
    held = submit(app, song_file(tmp_path, "b.flac", song), fields("B", ISRC, KASA),
                  frozenset({KASA}))  # fmt: skip
    failed = submit(app, corrupt_wav(tmp_path, 6), fields("C", ISRC, AMA), frozenset({AMA}))
    before = [upload_row(app, i) for i in (done, held, failed)]
    with app.app_context():
        states = [run_upload(db.session, i, FINGERPRINT_VERSION) for i in (done, held, failed)]
        assert states == ["registered", "review", "failed"]
        assert len(db.session.scalars(select(TrackReview)).all()) == 1
    after = [upload_row(app, i) for i in (done, held, failed)]
    assert [r.updated_at for r in after] == [r.updated_at for r in before]
    assert counts(app) == (1, 1)


def test_an_upload_left_mid_way_is_finished_once(app: Flask, tmp_path: Path) -> None:
    """An upload queued on Redis (here an in-memory one no worker reads) waits as queued; one
    whose run died mid-way (left fingerprinting) is finished by the next run, and a further
    run registers nothing more."""
    queue = Queue("zamio", connection=fakeredis.FakeRedis())
    upload_id = submit(app, seeded_song(tmp_path, 42, 10.0), fields("A", ISRC, AMA),
                       frozenset({AMA}), queue)  # fmt: skip
    assert upload_row(app, upload_id).state == "queued"
    assert queue.job_ids == [f"process_upload-{upload_id}"]
    with app.app_context():
        db.session.get(TrackUpload, upload_id).state = "fingerprinting"
        db.session.commit()
        assert run_upload(db.session, upload_id, FINGERPRINT_VERSION) == "registered"
        assert run_upload(db.session, upload_id, FINGERPRINT_VERSION) == "registered"
    assert counts(app) == (1, 1)
    with app.app_context():
        assert db.session.scalars(select(TrackNearDuplicate)).all() == []


def test_a_catalogue_of_another_fingerprint_version_keeps_the_upload(
    app: Flask, tmp_path: Path
) -> None:
    """When the catalogue holds tracks fingerprinted only with another version (the operator's
    to fix), the job fails but the upload does not: it waits, file kept, to be run again."""
    with app.app_context():
        register_track(
            db.session, external_id="old", title="Old", artist=None, isrc=None,
            duration_ms=10_000, content_hash="0" * 16,
            fingerprints=fingerprint(transforms.song(43, 10.0), REFERENCE),
            fingerprint_version=FINGERPRINT_VERSION + 1,
        )  # fmt: skip
        db.session.commit()
    upload_id = submit(app, seeded_song(tmp_path, 44, 10.0), fields("A", ISRC, AMA),
                       frozenset({AMA}))  # fmt: skip
    row = upload_row(app, upload_id)
    assert (row.state, row.error) == ("checking", None)
    assert row.file_path is not None and Path(row.file_path).is_file()
    with app.app_context(), pytest.raises(FingerprintVersionError):
        run_upload(db.session, upload_id, FINGERPRINT_VERSION)
