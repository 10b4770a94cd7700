"""GET /api/v1/stations/<code>/plays and /detections, /plays/<id>: ranges, filters, pages, and
a clear 400 for every hostile parameter."""

from __future__ import annotations

import pytest
from flask import Flask

from central.extensions import db, utc_now
from central.plays.models import Play
from central.stations.models import Station
from tests.integration.central.rows import MINUTE_MS, T0_MS, add_detection, add_track

pytestmark = pytest.mark.integration

DAY_MS = 86_400_000
PLAYS = "/api/v1/stations/joy-fm/plays"


def minutes(response) -> list[int]:
    """Start of each play in the response, in minutes after T0_MS."""
    assert response.status_code == 200, response.json
    return [(p["start_ms"] - T0_MS) // MINUTE_MS for p in response.json["plays"]]


def test_range_in_epoch_ms_or_iso(get, log) -> None:
    """since is included and until excluded, given as epoch ms or ISO-8601 alike."""
    by_ms = get(PLAYS, since=T0_MS + 10 * MINUTE_MS, until=T0_MS + 40 * MINUTE_MS)
    by_iso = get(PLAYS, since="2026-09-01T00:10:00Z", until="2026-09-01T00:40:00.000+00:00")
    assert minutes(by_ms) == minutes(by_iso) == [10, 20, 30]
    assert by_ms.json["since"] == "2026-09-01T00:10:00.000Z"
    assert by_ms.json["until_ms"] == T0_MS + 40 * MINUTE_MS


def test_default_range_is_the_last_day(get, log, api_app: Flask) -> None:
    """Without since/until the plays of the last 24 h come back, not older ones."""
    assert minutes(get(PLAYS)) == []
    with api_app.app_context():
        play = db.session.get(Play, log[0])
        play.start_ms = int(utc_now().timestamp() * 1000) - MINUTE_MS
        play.end_ms = play.start_ms + 1000
        db.session.commit()
    response = get(PLAYS)
    assert [p["id"] for p in response.json["plays"]] == [log[0]]
    assert response.json["until_ms"] - response.json["since_ms"] == DAY_MS


def test_filters_and_order(get, log) -> None:
    """track, status and order narrow and sort the log."""
    day = {"since": T0_MS, "until": T0_MS + DAY_MS}
    assert minutes(get(PLAYS, track="B", **day)) == [10, 30, 50, 70, 90]
    assert minutes(get(PLAYS, status="open", **day)) == [100]
    assert len(minutes(get(PLAYS, status="closed", **day))) == 10
    assert minutes(get(PLAYS, order="desc", limit=3, **day)) == [100, 90, 80]
    play = get(PLAYS, status="open", **day).json["plays"][0]
    assert play["status"] == "open" and play["track"]["title"] == "Title A"


def test_pages_follow_next_cursor_to_the_end(get, log) -> None:
    """limit=4 and next_cursor give all eleven plays once, in order, then a null cursor."""
    day = {"since": T0_MS, "until": T0_MS + DAY_MS}
    seen, cursor = [], None
    for _ in range(10):
        params = {"limit": 4, **day} | ({"cursor": cursor} if cursor else {})
        response = get(PLAYS, **params)
        seen += minutes(response)
        cursor = response.json["next_cursor"]
        if cursor is None:
            break
    assert seen == list(range(0, 110, 10))


def test_one_play_by_id(get, log) -> None:
    """/plays/<id> is the play's record."""
    response = get(f"/api/v1/plays/{log[100]}")
    assert response.status_code == 200
    assert response.json["id"] == log[100] and response.json["status"] == "open"
    assert response.json["start"] == "2026-09-01T01:40:00.000Z"


def test_detections_newest_first(get, log, api_app: Flask) -> None:
    """/detections lists the range's detections newest first, at most limit."""
    with api_app.app_context():
        station = db.session.scalar(db.select(Station).where(Station.code == "joy-fm"))
        track = add_track(db.session, "C")
        for n in range(5):
            add_detection(db.session, station, track, T0_MS + n * 10_000)
        db.session.commit()
    response = get(
        "/api/v1/stations/joy-fm/detections", since=T0_MS, until=T0_MS + MINUTE_MS, limit=2
    )
    assert response.status_code == 200, response.json
    assert [d["start_ms"] - T0_MS for d in response.json["detections"]] == [40_000, 30_000]
    assert response.json["detections"][0]["track"]["external_id"] == "C"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"since": "yesterday-ish"}, "since: 'yesterday-ish' is no time"),
        ({"until": "2026-13-01T00:00Z"}, "until:"),
        ({"since": "\x002026-09-01T00:00Z"}, "since:"),
        ({"since": "9" * 300}, "since: Length must be between"),
        ({"since": "99999999999999999999"}, "outside 1970-01-01..9999-12-31"),
        ({"since": T0_MS + 1, "until": T0_MS}, "is after until"),
        ({"since": T0_MS, "until": T0_MS + 32 * DAY_MS}, "at most 31 days per query"),
        ({"since": "40d"}, "at most 31 days"),
        ({"limit": 0}, "limit: Must be greater than or equal to 1"),
        ({"limit": 1001}, "limit: Must be greater than or equal to 1"),
        ({"limit": "ten"}, "limit: "),
        ({"limit": "-5"}, "limit: "),
        ({"limit": "٣"}, "limit: "),
        ({"cursor": "garbage!"}, "cursor: not a cursor this API gave out"),
        ({"cursor": "OTk5OTk5OTk5OTk5OTk5OTk6MQ"}, "cursor: not a cursor"),
        ({"status": "maybe"}, "status: one of open, closed"),
        ({"order": "sideways"}, "order: one of asc, desc"),
        ({"track": ""}, "track: an external id"),
        ({"track": "a\x00b"}, "track: an external id"),
        ({"sinse": T0_MS}, "sinse: Unknown field"),
        ({"since": [T0_MS, T0_MS]}, "since: given 2 times"),
    ],
)
def test_hostile_parameters_get_a_clear_400(get, log, params: dict, message: str) -> None:
    """Each bad parameter is a 400 JSON error naming it, never a 500."""
    response = get(PLAYS, **params)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert message in response.json["detail"], response.json


@pytest.mark.parametrize(
    "params", [{"since": "soon"}, {"limit": 1001}, {"cursor": "x"}, {"until": "0"}]
)
def test_hostile_detection_parameters_get_a_400(get, log, params: dict) -> None:
    """The detections endpoint checks its parameters as strictly: 400, or 400 for a cursor it
    does not take."""
    response = get("/api/v1/stations/joy-fm/detections", **params)
    assert response.status_code == 400 and response.json["detail"]
