"""The producers wired here: the daily plays digest (one message per user, not per play;
once per day), health incidents (a device offline, a stream down or silent longer than the
setting: once per incident, to the station's users and the admins), and uploads settling
(registered, held for review, decided)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import fakeredis
import pytest
from flask import Flask
from rq import Queue
from sqlalchemy import select

from central.auth import users
from central.catalog.analysis import analyse_samples
from central.catalog.review import approve_review, reject_review
from central.catalog.upload_job import settle
from central.catalog.upload_models import TrackReview
from central.extensions import db
from central.monitoring.models import DeviceEvent, DeviceStatus
from central.notifications import digest, health_watch
from central.notifications.models import Notification
from central.royalties.models import RightsShare
from central.stations.store import find_station
from central.times import ms_of
from edge_agent.fingerprint import FINGERPRINT_VERSION, SAMPLE_RATE_HZ
from tests import transforms
from tests.integration.central.rows import add_play, add_station, add_track
from tests.integration.edge_agent.conftest import require_tool
from tests.integration.notifications.conftest import add_people
from tests.unit.central.catalog.uploading import AMA, KASA, fields, song_file, submit

pytestmark = pytest.mark.integration
DAY = date(2026, 12, 3)
DAY_MS = ms_of(datetime(2026, 12, 3, tzinfo=UTC))
HOUR_MS = 3_600_000


def _share(track_id: int, party: str, pool: str = "master") -> RightsShare:
    """A whole share of a track's pool to `party`."""
    return RightsShare(track_id=track_id, pool=pool, work_code=f"W{track_id}{pool[0]}",
                       party=party, role="performer", share_bp=10_000)  # fmt: skip


def _inbox(event: str) -> list[Notification]:
    """Every notification of `event`, by user then id."""
    query = select(Notification).where(Notification.event == event)
    return list(db.session.scalars(query.order_by(Notification.user_id, Notification.id)))


def test_the_digest_is_one_message_per_user_once_a_day(any_app: Flask, people) -> None:
    """Plays of the artist's two tracks (one also the label's, through two pools) on the day:
    the artist gets one digest counting each play once, the label one of its track's; plays of
    other days are left out; running it again tells nobody twice."""
    with any_app.app_context():
        joy, peace = find_station(db.session, "joy-fm"), find_station(db.session, "peace-fm")
        a, b = add_track(db.session, "A"), add_track(db.session, "B")
        db.session.add_all([_share(a.id, "artist:ama:earnings"),
                            _share(b.id, "artist:ama:earnings"),
                            _share(b.id, "artist:ama:earnings", "composition"),
                            _share(b.id, "label:adomi:earnings")])  # fmt: skip
        for n in range(3):
            add_play(db.session, joy, a, DAY_MS + n * HOUR_MS)
        add_play(db.session, peace, b, DAY_MS + 5 * HOUR_MS)
        add_play(db.session, joy, b, DAY_MS - HOUR_MS)  # the day before
        add_play(db.session, joy, b, DAY_MS + 24 * HOUR_MS)  # the day after
        db.session.commit()
        assert digest.send_digest(db.session, DAY) == 2
        assert digest.send_digest(db.session, DAY) == 0
        assert digest.send_digest(db.session, DAY, force=True) == 0
        artist, label = _inbox("plays.digest")
        assert artist.user_id == people["artist"] and label.user_id == people["rights_holder"]
        assert artist.subject == "4 plays of your tracks on 2026-12-03"
        assert "on 2 stations" in artist.body and "Title A (A)" in artist.body
        assert label.subject == "1 play of your tracks on 2026-12-03"
        assert artist.dedupe_key == "plays.digest:2026-12-03"


def test_the_digest_waits_for_the_days_plays_to_close() -> None:
    """The day digested is the last one whose plays have closed (close wait after midnight)."""
    assert digest.due_day(datetime(2026, 12, 4, 1, 0, tzinfo=UTC), 7200) == date(2026, 12, 2)
    assert digest.due_day(datetime(2026, 12, 4, 2, 0, tzinfo=UTC), 7200) == DAY


def test_incidents_are_told_once_to_the_station_and_the_admins(any_app: Flask, people) -> None:
    """A device offline 20 min and a stream down 30 min: the station's user and the admin are
    told of each once, however often the watch runs; a fresh outage (5 min) waits; another
    station's staff hear nothing."""
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    with any_app.app_context():
        station = add_station(db.session, "adom-fm", devices=("pi-09",))
        joy = find_station(db.session, "joy-fm")
        box = add_station(db.session, "box", devices=("pi-01", "pi-02"))
        for device in box.devices:
            device.station_id = joy.id
        db.session.flush()
        offline, fresh = box.devices
        db.session.add_all([
            DeviceStatus(device_id=offline.id, state="offline", offline_reason="goodbye",
                         offline_at=now - timedelta(minutes=15),
                         last_seen_at=now - timedelta(minutes=20), received_at=now),
            DeviceStatus(device_id=fresh.id, state="offline", offline_reason="lost",
                         offline_at=now - timedelta(minutes=5),
                         last_seen_at=now - timedelta(minutes=5), received_at=now),
            DeviceEvent(device_id=fresh.id, station_id=joy.id, kind="stream_down",
                        source_id="main", at_ms=ms_of(now) - 30 * 60_000, detail_json="{}"),
            DeviceStatus(device_id=station.devices[0].id, state="online",
                         last_seen_at=now, received_at=now, sent_ms=ms_of(now), heartbeat_s=60),
        ])  # fmt: skip
        db.session.commit()
        assert health_watch.notify_incidents(db.session, now, 10) == 4
        assert health_watch.notify_incidents(db.session, now + timedelta(minutes=1), 10) == 0
        told = {(n.event, n.user_id) for n in db.session.scalars(select(Notification))}
        assert told == {(e, u) for e in ("device.offline", "stream.down")
                        for u in (people["station"], people["admin"])}  # fmt: skip
        [down] = _inbox("stream.down")[:1]
        assert down.subject == "joy-fm: stream main down for 30 min"
        assert down.link == "/stations/joy-fm/health"
        later = now + timedelta(minutes=6)  # the fresh device is now 11 min offline
        assert health_watch.notify_incidents(db.session, later, 10) == 2


def _settle(app: Flask, tmp_path: Path, name: str, samples, upload_fields, party: str) -> str:
    """Submit an upload as user:1 (its job left waiting) and settle it from `samples` as the
    job would after decoding (no ffmpeg needed); its state."""
    waiting = Queue("waiting", connection=fakeredis.FakeRedis())
    upload_id = submit(app, song_file(tmp_path, name, samples), upload_fields,
                       frozenset({party}), waiting)  # fmt: skip
    with app.app_context():
        return settle(db.session, upload_id, analyse_samples(samples), frozenset({party}),
                      FINGERPRINT_VERSION)  # fmt: skip


def test_an_upload_settling_tells_its_uploader(app: Flask, tmp_path: Path) -> None:
    """Registered: the uploader hears so; another's cut of it is held: its uploader and the
    admins hear so; rejected on review: the uploader hears that too (once each)."""
    with app.app_context():
        uploader = users.add_user(db.session, "first@artists.test", "artist", None, (), (AMA,))
        db.session.commit()
        assert uploader.id == 1  # the uploads below are made as user:1
    ids = add_people(app)
    song = transforms.song(91, 60.0)
    first = _settle(app, tmp_path, "a.wav", song, fields("Nkwa", "GH-A01-26-00001", AMA), AMA)
    cut = song[10 * SAMPLE_RATE_HZ : 50 * SAMPLE_RATE_HZ]
    second = _settle(app, tmp_path, "cut.wav", cut, fields("Cut", "GH-A01-26-00002", KASA), KASA)
    assert (first, second) == ("registered", "review")
    with app.app_context():
        [registered] = _inbox("upload.registered")
        assert registered.user_id == 1 and registered.subject == "Nkwa is registered"
        assert "registered as track" in registered.body
        held = _inbox("upload.review")
        assert [(n.user_id, n.subject) for n in held] == [
            (1, "Cut waits for a review"), (ids["admin"], "Review: Cut")]  # fmt: skip
        review_id = db.session.scalar(select(TrackReview.id))
        reject_review(db.session, review_id, f"user:{ids['admin']}", "not licensed")
        subjects = [n.subject for n in _inbox("upload.review") if n.user_id == 1]
        assert subjects == ["Cut waits for a review", "Cut was rejected"]


def test_an_approved_review_tells_the_uploader_it_is_registered(app: Flask, tmp_path: Path) -> None:
    """Approving a held upload (decoded again: needs ffmpeg) tells its uploader it is
    registered."""
    require_tool("ffprobe")
    with app.app_context():
        users.add_user(db.session, "first@artists.test", "artist", None, (), (AMA,))
        db.session.commit()
    ids = add_people(app)
    song = transforms.song(92, 60.0)
    submit(app, song_file(tmp_path, "a.wav", song), fields("Nkwa", "GH-A01-26-00001", AMA),
           frozenset({AMA}))  # fmt: skip
    cut = song_file(tmp_path, "cut.wav", song[10 * SAMPLE_RATE_HZ : 50 * SAMPLE_RATE_HZ])
    submit(app, cut, fields("Cut", "GH-A01-26-00002", KASA), frozenset({KASA}))
    with app.app_context():
        review_id = db.session.scalar(select(TrackReview.id))
        approve_review(db.session, review_id, f"user:{ids['admin']}", "licensed")
        subjects = [n.subject for n in _inbox("upload.registered")]
        assert subjects == ["Nkwa is registered", "Cut is registered"]
