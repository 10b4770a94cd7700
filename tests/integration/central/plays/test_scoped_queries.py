"""Plays scoped by party and station, on PostgreSQL and SQLite: a party sees the plays of the
tracks it has a share of and nothing else, a station's staff their station's, filters and cursor
pages work inside the scope, and a play outside it is not found."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from central.catalog.models import Track
from central.extensions import db
from central.plays import queries
from central.royalties.models import RightsShare
from tests.integration.central.rows import MINUTE_MS, T0_MS, add_play, add_station, add_track

pytestmark = pytest.mark.integration

AMA, KOFI, LABEL = "artist:ama:earnings", "artist:kofi:earnings", "label:adomi:earnings"
DAY = queries.time_range(T0_MS, T0_MS + 86_400_000)


@pytest.fixture(params=["postgresql", "sqlite"])
def session(request: pytest.FixtureRequest) -> Iterator[Session]:
    """A session on PostgreSQL (pg_app) or on SQLite (app)."""
    app: Flask = request.getfixturevalue("pg_app" if request.param == "postgresql" else "app")
    with app.app_context():
        yield db.session


def share(session: Session, track: Track, party: str, pool: str = "master") -> None:
    """A rights share of `party` in the track's pool."""
    session.add(RightsShare(track_id=track.id, pool=pool, work_code="GHA012600001", party=party,
                            role="performer", share_bp=5000))  # fmt: skip
    session.flush()


@pytest.fixture
def catalogue(session: Session) -> dict:
    """Tracks A (Ama's, with the label), B (Kofi's) and C (nobody's); stations joy and peace;
    every track played at both stations, a minute apart."""
    joy, peace = add_station(session, "joy-fm"), add_station(session, "peace-fm")
    tracks = {name: add_track(session, name) for name in "ABC"}
    share(session, tracks["A"], AMA)
    share(session, tracks["A"], LABEL)
    share(session, tracks["B"], KOFI)
    plays = {}
    for n, (name, station) in enumerate(
        (name, station) for name in "ABC" for station in (joy, peace)
    ):
        plays[(name, station.code)] = add_play(
            session, station, tracks[name], T0_MS + n * MINUTE_MS
        )
    session.commit()
    return {"joy": joy, "peace": peace, "plays": plays}


def seen(page: queries.PlayPage) -> list[tuple[str, str]]:
    """(track, station) of each play of a page."""
    return [(p["track"]["external_id"], p["station"]) for p in page.plays]


def test_a_party_sees_only_the_plays_of_its_tracks(session: Session, catalogue: dict) -> None:
    """Ama sees A's plays, Kofi B's, nobody sees C's but the see-all scope; an empty scope
    sees nothing."""
    assert seen(queries.plays(session, DAY, parties=frozenset({AMA}))) == [
        ("A", "joy-fm"), ("A", "peace-fm")
    ]  # fmt: skip
    assert seen(queries.plays(session, DAY, parties=frozenset({KOFI}))) == [
        ("B", "joy-fm"), ("B", "peace-fm")
    ]  # fmt: skip
    assert len(queries.plays(session, DAY).plays) == 6
    assert queries.plays(session, DAY, parties=frozenset()).plays == []
    assert queries.plays(session, DAY, parties=frozenset({"artist:nobody:earnings"})).plays == []


def test_co_owners_both_see_a_play_once(session: Session, catalogue: dict) -> None:
    """A track with two parties' shares shows once per play to a caller holding both."""
    both = queries.plays(session, DAY, parties=frozenset({AMA, LABEL, KOFI}))
    assert seen(both) == [("A", "joy-fm"), ("A", "peace-fm"), ("B", "joy-fm"), ("B", "peace-fm")]


def test_station_scope_and_filters_narrow_within_the_scope(
    session: Session, catalogue: dict
) -> None:
    """Station staff see their station's plays; the station and track filters and a party
    scope combine with it; a filter naming something outside the scope finds nothing."""
    joy = frozenset({catalogue["joy"].id})
    assert seen(queries.plays(session, DAY, station_ids=joy)) == [
        ("A", "joy-fm"), ("B", "joy-fm"), ("C", "joy-fm")
    ]  # fmt: skip
    ama_at_joy = queries.plays(session, DAY, parties=frozenset({AMA}), station_ids=joy)
    assert seen(ama_at_joy) == [("A", "joy-fm")]
    by_station = queries.play_filter(station_code="peace-fm")
    assert seen(queries.plays(session, DAY, by_station, parties=frozenset({KOFI}))) == [
        ("B", "peace-fm")
    ]
    assert queries.plays(session, DAY, by_station, station_ids=joy).plays == []
    other_track = queries.play_filter("B", order="desc")
    assert queries.plays(session, DAY, other_track, parties=frozenset({AMA})).plays == []
    assert queries.station_plays(session, catalogue["peace"].id, DAY).plays[0]["station"] == (
        "peace-fm"
    )


def test_bad_station_filter_is_refused(session: Session) -> None:
    """A station filter that is no station code is a QueryError, not an empty page."""
    with pytest.raises(queries.QueryError, match="station"):
        queries.play_filter(station_code="joy fm; drop")


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_scoped_pages_neither_repeat_nor_skip(session: Session, order: str) -> None:
    """Following next_cursor through Ama's plays (many at one instant, mixed with other
    parties' plays, and one of hers added after the first page) yields each once, in order."""
    joy = add_station(session, "joy-fm")
    mine, theirs = add_track(session, "A"), add_track(session, "B")
    share(session, mine, AMA)
    share(session, theirs, KOFI)
    stations = [joy] + [add_station(session, f"s{n}") for n in range(4)]
    for n in range(20):
        start_ms = T0_MS + (1 + n // 5) * MINUTE_MS  # five plays start at each minute
        add_play(session, stations[n % 5], mine if n % 2 else theirs, start_ms)
        add_play(session, stations[n % 5], mine if n % 2 == 0 else theirs, start_ms + 1)
    session.commit()
    which, scope = queries.play_filter(order=order), frozenset({AMA})
    first = queries.plays(session, DAY, which, 3, parties=scope)
    ids = [p["id"] for p in first.plays]
    cursor = first.next_cursor
    late_ms = T0_MS if order == "desc" else T0_MS + 10 * MINUTE_MS  # past the pages read
    late = add_play(session, joy, mine, late_ms).id
    session.commit()
    while cursor is not None:
        page = queries.plays(session, DAY, which, 3, cursor, parties=scope)
        ids += [p["id"] for p in page.plays]
        cursor = page.next_cursor
    everything = queries.plays(session, DAY, which, 1000, parties=scope).plays
    assert ids == [p["id"] for p in everything] and len(ids) == 21 and late in ids
    keys = [(p["start_ms"], p["id"]) for p in everything]
    assert keys == sorted(keys, reverse=order == "desc")


def test_find_play_outside_the_scope_is_not_found(session: Session, catalogue: dict) -> None:
    """A play is found by its party or station and by the see-all scope, by nobody else."""
    play = catalogue["plays"][("A", "joy-fm")].id
    assert queries.find_play(session, play)["id"] == play
    assert queries.find_play(session, play, frozenset({LABEL}))["id"] == play
    assert queries.find_play(session, play, frozenset({KOFI})) is None
    assert queries.find_play(session, play, frozenset()) is None
    assert queries.find_play(session, play, None, frozenset({catalogue["joy"].id})) is not None
    assert queries.find_play(session, play, None, frozenset({catalogue["peace"].id})) is None
    assert (
        queries.find_play(session, play, frozenset({AMA}), frozenset({catalogue["peace"].id}))
        is None
    )
