"""The live feed: the poller's fragment brings each new play once, newest first, resumes from
the cursor in its URL, and is scoped (an artist never sees another party's plays, nor any
detections; station staff their stations' only); the page keeps a bounded number of rows."""

from __future__ import annotations

import html
import re

import pytest
from flask import Flask

from central.console import live
from central.extensions import db
from central.royalties.models import RightsShare
from central.stations import store as stations
from central.times import now_ms
from tests.integration.central.rows import MINUTE_MS, T0_MS, add_detection, add_play, add_track

pytestmark = pytest.mark.integration

AMA = "artist:ama:earnings"  # the console fixture's artist
POLLER = re.compile(r'id="live-poller" hx-get="([^"]+)" hx-trigger="every (\d+)s"')
PLAY_ROW = re.compile(r'<tr id="play-(\d+)"')
DETECTION_ROW = re.compile(r'<tr id="detection-(\d+)"')


@pytest.fixture
def world(pg_app: Flask, console_people) -> dict:
    """joy-fm and peace-fm (a device each), Ama's track A and Kofi's track K."""
    with pg_app.app_context():
        stations.add_device(db.session, "pi-01", "joy-fm")
        stations.add_device(db.session, "pi-02", "peace-fm")
        a, k = add_track(db.session, "A"), add_track(db.session, "K")
        for track, party in ((a, AMA), (k, "artist:kofi:earnings")):
            db.session.add(RightsShare(track_id=track.id, pool="master", party=party,
                                       work_code="GHA012600001", role="performer",
                                       share_bp=10000))  # fmt: skip
        db.session.commit()
    return {}


def plays(pg_app: Flask, *specs: tuple[str, str, int], base_ms: int = T0_MS) -> list[int]:
    """Plays stored now of (station code, track external id, minute after base_ms): ids."""
    from central.catalog.models import Track

    with pg_app.app_context():
        ids = []
        for code, track_id, minute in specs:
            station = stations.find_station(db.session, code)
            track = db.session.query(Track).filter_by(external_id=track_id).one()
            ids.append(add_play(db.session, station, track, base_ms + minute * MINUTE_MS).id)
        db.session.commit()
    return ids


def detections(pg_app: Flask, *specs: tuple[str, str, int]) -> list[int]:
    """Detections stored now, like plays()."""
    from central.catalog.models import Track

    with pg_app.app_context():
        ids = []
        for code, track_id, minute in specs:
            station = stations.find_station(db.session, code)
            track = db.session.query(Track).filter_by(external_id=track_id).one()
            ids.append(add_detection(db.session, station, track, T0_MS + minute * MINUTE_MS).id)
        db.session.commit()
    return ids


def poll(client, url: str) -> tuple[str, list[int], list[int], str]:
    """One poll: the fragment, its play ids and detection ids in order, and the next URL."""
    response = client.get(url, headers={"HX-Request": "true"})
    assert response.status_code == 200, response.text
    found = POLLER.search(response.text)
    assert found is not None and "<html" not in response.text
    ids = [int(i) for i in PLAY_ROW.findall(response.text)]
    seen = [int(i) for i in DETECTION_ROW.findall(response.text)]
    return response.text, ids, seen, html.unescape(found.group(1))


def opened(client) -> str:
    """The poller URL of a freshly opened /live page (polling every second)."""
    page = client.get("/live")
    assert page.status_code == 200
    found = POLLER.search(page.text)
    assert found is not None and found.group(2) == "1"
    return html.unescape(found.group(1))


def test_new_plays_come_once_newest_first_and_resume(pg_app: Flask, console_client, world):
    """An admin's poller gets each play stored since the last poll once, highest id on top,
    then nothing; its next URL resumes after them, also from another client."""
    admin = console_client("admin")
    url = opened(admin)
    first = plays(pg_app, ("joy-fm", "A", 0), ("peace-fm", "K", 1), ("joy-fm", "K", 2))
    fragment, ids, _, url = poll(admin, url)
    assert ids == first[::-1] and 'hx-swap-oob="afterbegin:#live-plays-rows"' in fragment
    _, ids, _, same = poll(admin, url)
    assert ids == [] and same == url
    later = plays(pg_app, ("peace-fm", "A", 9))
    _, ids, _, url = poll(console_client("auditor"), url)
    assert ids == later
    assert poll(admin, url)[1] == []


def test_detections_are_in_the_staffs_feed(pg_app: Flask, console_client, world) -> None:
    """Admins get every new detection; joy-fm's staff joy-fm's only, plays and detections."""
    admin, desk = console_client("admin"), console_client("station")
    admin_url, desk_url = opened(admin), opened(desk)
    joy = detections(pg_app, ("joy-fm", "A", 0))
    peace = detections(pg_app, ("peace-fm", "K", 0))
    at_joy, _ = plays(pg_app, ("joy-fm", "K", 0), ("peace-fm", "A", 0))
    assert poll(admin, admin_url)[2] == peace + joy
    _, ids, seen, _ = poll(desk, desk_url)
    assert ids == [at_joy] and seen == joy


def test_an_artist_sees_plays_of_their_tracks_only(pg_app: Flask, console_client, world):
    """Ama's feed shows plays of her track A and never Kofi's, and no detections at all."""
    ama = console_client("artist")
    page = ama.get("/live")
    assert "live-detections" not in page.text
    url = opened(ama)
    mine, _, also_mine = plays(pg_app, ("joy-fm", "A", 0), ("joy-fm", "K", 1), ("peace-fm", "A", 2))
    detections(pg_app, ("joy-fm", "A", 0), ("joy-fm", "K", 1))
    fragment, ids, seen, url = poll(ama, url)
    assert ids == [also_mine, mine] and seen == [] and "Title K" not in fragment
    plays(pg_app, ("joy-fm", "K", 5))
    assert poll(ama, url)[1] == []
    assert console_client("rights_holder").get("/live").status_code == 200


def test_the_page_keeps_at_most_keep_rows(pg_app: Flask, console_client, world, monkeypatch):
    """The page opens with the latest plays in scope; past KEEP rows, the fragment draws the
    table again with the latest KEEP, newest first, and counts from there."""
    monkeypatch.setattr(live, "KEEP", 3)
    recent = now_ms() - 30 * MINUTE_MS
    old = plays(pg_app, ("joy-fm", "A", 0), ("joy-fm", "A", 5), base_ms=recent)
    admin = console_client("admin")
    page = admin.get("/live").text
    assert [int(i) for i in PLAY_ROW.findall(page)] == old[::-1]
    url = opened(admin)
    new = plays(pg_app, ("joy-fm", "A", 10), ("joy-fm", "A", 15), base_ms=recent)
    fragment, ids, _, url = poll(admin, url)
    assert 'hx-swap-oob="innerHTML:#live-plays-rows"' in fragment
    assert ids == [*new[::-1], old[-1]] and "shown_play=3" in url
    last = plays(pg_app, ("joy-fm", "A", 20), base_ms=recent)
    fragment, ids, _, url = poll(admin, url)
    assert ids == [*last, *new[::-1]] and "innerHTML" in fragment


@pytest.mark.parametrize(
    "query",
    ["after_play=x", "after_play=5&held_play=9", "after_play=5&shown_play=-1",
     "after_play=99999999999", "after=1&held=a.b"],
)  # fmt: skip
def test_a_malformed_cursor_is_400(console_client, world, query: str) -> None:
    """A cursor the page did not make is refused with 400, never a 500."""
    assert console_client("admin").get(f"/live/feed?{query}").status_code == 400


def test_signed_out_polls_are_sent_to_the_login(pg_app: Flask, world) -> None:
    """A poll without a session gets 401 and an HX-Redirect to the login page."""
    response = pg_app.test_client().get("/live/feed?after_play=0", headers={"HX-Request": "1"})
    assert response.status_code == 401 and response.headers["HX-Redirect"].startswith("/login")


def test_a_play_committed_late_comes_with_a_later_poll(pg_app: Flask, console_client, world):
    """A play whose transaction commits after a later play's was shown still comes, once: its
    id rides in the poller's URL until it does."""
    from sqlalchemy.orm import Session

    from central.catalog.models import Track

    admin = console_client("admin")
    url = opened(admin)
    with pg_app.app_context(), Session(db.engine) as slow:
        joy = stations.find_station(slow, "joy-fm")
        track = slow.query(Track).filter_by(external_id="A").one()
        late = add_play(slow, joy, track, T0_MS).id
        early = plays(pg_app, ("joy-fm", "A", 30))
        _, ids, _, url = poll(admin, url)
        assert ids == early and f"held_play={late}" in url
        slow.commit()
    _, ids, _, url = poll(admin, url)
    assert ids == [late] and "held_play=&" in url
    assert poll(admin, url)[1] == []
