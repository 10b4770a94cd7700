"""The live feed's queries on PostgreSQL: rows stored after a cursor come once, newest first,
scoped to the caller; a row whose transaction commits after a later one's still comes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from central.extensions import db
from central.plays import feed, queries
from central.royalties.models import RightsShare
from tests.integration.central.rows import (
    MINUTE_MS,
    T0_MS,
    add_detection,
    add_play,
    add_station,
    add_track,
)

pytestmark = pytest.mark.integration

AMA = "artist:ama:earnings"


@pytest.fixture
def session(pg_app: Flask) -> Iterator[Session]:
    """The app's session inside an app context."""
    with pg_app.app_context():
        yield db.session


@pytest.fixture
def world(session: Session) -> dict:
    """Stations joy-fm and peace-fm (one device each), Ama's track A and nobody's track B."""
    joy = add_station(session, "joy-fm", devices=("pi-01",))
    peace = add_station(session, "peace-fm", devices=("pi-02",))
    a, b = add_track(session, "A"), add_track(session, "B")
    session.add(RightsShare(track_id=a.id, pool="master", work_code="GHA012600001", party=AMA,
                            role="performer", share_bp=10000))  # fmt: skip
    session.commit()
    return {"joy": joy, "peace": peace, "A": a, "B": b}


def ids(page: queries.FeedPage) -> list[int]:
    """The ids of a feed page's rows."""
    return [row["id"] for row in page.rows]


def test_plays_after_a_cursor_come_once_newest_first(session, world) -> None:
    """Each poll returns only the plays stored since the last, highest id first."""
    cursor = queries.feed_start(session, "plays")
    assert cursor == feed.Cursor(0)
    first = [add_play(session, world["joy"], world["A"], T0_MS + n * MINUTE_MS).id for n in (0, 4)]
    session.commit()
    page = queries.plays_after(session, cursor)
    assert ids(page) == first[::-1]
    assert ids(queries.plays_after(session, page.cursor)) == []
    later = add_play(session, world["peace"], world["B"], T0_MS).id
    session.commit()
    resumed = feed.parse(str(page.cursor.after), feed.held_text(page.cursor))
    assert ids(queries.plays_after(session, resumed)) == [later]


def test_feed_start_sees_nothing_already_stored(session, world) -> None:
    """A feed opened now starts after every stored play and detection."""
    add_play(session, world["joy"], world["A"], T0_MS)
    add_detection(session, world["joy"], world["A"], T0_MS)
    session.commit()
    for kind, after in (("plays", queries.plays_after), ("detections", queries.detections_after)):
        assert ids(after(session, queries.feed_start(session, kind))) == []


def test_the_feed_is_scoped(session, world) -> None:
    """Ama sees plays and detections of her track only; joy-fm's staff only joy-fm's; an empty
    scope nothing; the cursor moves past rows out of scope all the same."""
    plays, detections = (
        queries.feed_start(session, "plays"),
        queries.feed_start(session, "detections"),
    )
    mine = add_play(session, world["peace"], world["A"], T0_MS).id
    add_play(session, world["peace"], world["B"], T0_MS + MINUTE_MS)
    at_joy = add_play(session, world["joy"], world["B"], T0_MS).id
    seen_a = add_detection(session, world["peace"], world["A"], T0_MS).id
    add_detection(session, world["joy"], world["B"], T0_MS + MINUTE_MS)
    session.commit()
    ama = frozenset({AMA})
    page = queries.plays_after(session, plays, parties=ama)
    assert ids(page) == [mine] and page.cursor.after == at_joy
    assert ids(queries.detections_after(session, detections, parties=ama)) == [seen_a]
    joy = frozenset({world["joy"].id})
    assert ids(queries.plays_after(session, plays, station_ids=joy)) == [at_joy]
    assert ids(queries.plays_after(session, plays, parties=frozenset())) == []
    assert [r["track"]["external_id"] for r in queries.detections(
        session, queries.time_range(T0_MS, T0_MS + 3_600_000), 10, parties=ama
    )] == ["A"]  # fmt: skip


def test_a_play_committed_late_still_comes_once(pg_app: Flask, session, world) -> None:
    """Play n is inserted first but committed after play n+1 was shown: the next poll brings it,
    and no later poll brings either again."""
    cursor = queries.feed_start(session, "plays")
    with Session(db.engine) as slow:
        late = add_play(slow, world["joy"], world["A"], T0_MS).id
        early = add_play(session, world["joy"], world["A"], T0_MS + 9 * MINUTE_MS).id
        session.commit()
        page = queries.plays_after(session, cursor)
        assert ids(page) == [early] and late in page.cursor.held
        slow.commit()
    again = queries.plays_after(session, page.cursor)
    assert ids(again) == [late] and again.cursor.held == ()
    assert ids(queries.plays_after(session, again.cursor)) == []
