"""Which stations are scanned, their scan devices and password files, and their last match."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest
from flask import Flask

from central.errors import StationError
from central.extensions import db
from central.scan import links
from central.scan.links import MATCH_LOOKBACK_MS, Target
from central.stations import credentials, store
from tests.integration.central import rows

URL = "http://radio.example/live.mp3"
NOW_MS = 1_788_220_800_000  # 2026-09-01T00:00:00Z


@pytest.fixture
def session(app: Flask):
    """A session of the SQLite app, in its app context."""
    with app.app_context():
        yield db.session


def test_boxless_stations_with_a_stream_url_are_scanned(session) -> None:
    """Scanned: a stream URL and no active device but its scan device (a revoked box does not
    count). Not scanned: a station with a box, or without a stream URL."""
    for code in ("boxless", "boxed", "revoked-box", "scanned-before"):
        store.add_station(session, code, code.title(), URL)
    store.add_station(session, "no-url", "No URL")
    store.add_device(session, "pi-1", "boxed")
    store.add_device(session, "pi-2", "revoked-box")
    store.revoke_device(session, "pi-2")
    store.add_device(session, "scan-scanned-before", "scanned-before")
    targets, problems = links.scan_targets(session)
    assert [t.station_code for t in targets] == ["boxless", "revoked-box", "scanned-before"]
    assert targets[0] == Target("boxless", URL, "scan-boxless")
    assert problems == []


def test_forced_stations_are_scanned_box_or_not(session) -> None:
    """--station scans exactly the stations given, even with a box; unknown ones and ones
    without a URL are reported."""
    store.add_station(session, "boxed", "Boxed", URL)
    store.add_station(session, "other", "Other", URL)
    store.add_station(session, "no-url", "No URL")
    store.add_device(session, "pi-1", "boxed")
    targets, problems = links.scan_targets(session, ["boxed", "no-url", "ghost"])
    assert [t.station_code for t in targets] == ["boxed"]
    assert problems == ["station no-url: no stream URL", "station ghost: no such station"]


def test_a_revoked_or_foreign_scan_device_is_not_used(session) -> None:
    """A revoked scan device is not brought back, and a `scan-X` device of another station is
    not borrowed: both are reported instead."""
    for code in ("revoked", "thief", "victim"):
        store.add_station(session, code, code.title(), URL if code != "thief" else None)
    store.add_device(session, "scan-revoked", "revoked")
    store.revoke_device(session, "scan-revoked")
    store.add_device(session, "scan-victim", "thief")
    targets, problems = links.scan_targets(session)
    assert targets == []
    assert problems == [
        "station revoked: device scan-revoked is revoked",
        "station victim: device scan-victim belongs to station thief",
    ]


def test_the_scan_device_is_created_with_a_private_password_file(
    session, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """First use creates the device; its password (mode 0600) matches the stored hash; the
    operator is told to rewrite the broker files; a second call changes nothing."""
    store.add_station(session, "joy", "Joy", URL)
    target = Target("joy", URL, "scan-joy")
    with caplog.at_level(logging.WARNING):
        path = links.ensure_password_file(session, target, tmp_path)
    assert path == tmp_path / "scan-joy.password"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    device = store.find_device(session, "scan-joy")
    assert device is not None and device.station.code == "joy" and device.active
    assert credentials.verify(path.read_text().strip(), device.password_hash)
    assert "zamio device broker-files" in caplog.text
    stored_hash = device.password_hash
    links.ensure_password_file(session, target, tmp_path)
    assert store.find_device(session, "scan-joy").password_hash == stored_hash


def test_a_lost_password_file_rotates_the_password(
    session, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Without its file, the existing device gets a new password (committed), the old one no
    longer verifies, and a warning says the broker files must be regenerated."""
    store.add_station(session, "joy", "Joy", URL)
    old = store.add_device(session, "scan-joy", "joy").password
    session.commit()
    with caplog.at_level(logging.WARNING):
        path = links.ensure_password_file(session, Target("joy", URL, "scan-joy"), tmp_path)
    session.expire_all()  # read back what was committed
    stored = store.find_device(session, "scan-joy").password_hash
    assert credentials.verify(path.read_text().strip(), stored)
    assert not credentials.verify(old, stored)
    assert "new password" in caplog.text and "broker-files" in caplog.text


def test_reset_device_password_refuses_an_unknown_device(session) -> None:
    """Rotating the password of a device that does not exist is an error, not a new device."""
    with pytest.raises(StationError, match="no device ghost"):
        store.reset_device_password(session, "ghost")


def test_last_match_is_the_newest_detection_else_the_newest_play(session) -> None:
    """A recent detection gives the last match; without one, the end of the newest play; a
    station never matched has none."""
    track = rows.add_track(session, "T1")
    recent = store.add_station(session, "recent", "Recent", URL)
    old = store.add_station(session, "old", "Old", URL)
    store.add_station(session, "never", "Never", URL)
    store.add_device(session, "pi-1", "recent")
    rows.add_play(session, recent, track, NOW_MS - 600_000, 200_000)
    rows.add_detection(session, recent, track, NOW_MS - 300_000)
    rows.add_detection(session, recent, track, NOW_MS - 200_000)
    rows.add_play(session, old, track, NOW_MS - 3 * MATCH_LOOKBACK_MS, 1)
    rows.add_play(session, old, track, NOW_MS - 2 * MATCH_LOOKBACK_MS, 5)
    session.flush()
    matches = links.last_matches(session, ["recent", "old", "never", "ghost"], NOW_MS)
    assert matches == {"recent": NOW_MS - 200_000, "old": NOW_MS - 2 * MATCH_LOOKBACK_MS + 5}
