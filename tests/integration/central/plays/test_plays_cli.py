"""`zamio plays` on real PostgreSQL: a station's play log in a range, one line per play or JSON."""

from __future__ import annotations

import json

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from central.cli import cli
from central.extensions import db, utc_now
from central.royalties.models import RoyaltyAccrual
from central.stations.store import find_station
from tests.integration.central.rows import (
    MINUTE_MS,
    T0_MS,
    add_play,
    add_station,
    add_track,
)

pytestmark = pytest.mark.integration

RANGE = ["--since", "2026-09-01T00:00Z", "--until", str(T0_MS + 60 * MINUTE_MS)]


@pytest.fixture
def log(pg_app: Flask) -> None:
    """joy-fm: A closed at T0_MS (accrued GHS 0.30, posted), B (no artist) closed at +10 min
    (no accrual), A open at +60 min (the range's end); peace-fm: A at +5 min."""
    with pg_app.app_context():
        joy, peace = add_station(db.session, "joy-fm"), add_station(db.session, "peace-fm")
        a, b = add_track(db.session, "A"), add_track(db.session, "B", artist=None)
        paid = add_play(db.session, joy, a, T0_MS)
        db.session.add(
            RoyaltyAccrual(
                play_id=paid.id,
                amount_minor=30,
                currency="GHS",
                explanation_json="{}",
                state="posted",
                batch_id="test",
            )
        )
        add_play(db.session, joy, b, T0_MS + 10 * MINUTE_MS, duration_ms=3_723_000)
        add_play(db.session, joy, a, T0_MS + 60 * MINUTE_MS, closed=False)
        add_play(db.session, peace, a, T0_MS + 5 * MINUTE_MS)
        db.session.commit()


def test_one_line_per_play(pg_runner: FlaskCliRunner, log) -> None:
    """A header, then start, end, duration, track id, title, artist, confidence, status and
    royalty (- without an accrual) in aligned columns, oldest first; the play starting at
    --until is left out, and so are other stations'."""
    result = pg_runner.invoke(cli, ["plays", "--station", "joy-fm", *RANGE])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "start                 end                    on air  track  title    artist  conf"
        "  status  royalty",
        "2026-09-01T00:00:00Z  2026-09-01T00:03:00Z  0:03:00  A      Title A  Artist  0.88"
        "  closed  GHS 0.30",
        "2026-09-01T00:10:00Z  2026-09-01T01:12:03Z  1:02:03  B      Title B  -       0.88"
        "  closed  -",
    ]
    assert "2 plays at joy-fm from 2026-09-01T00:00:00.000Z until" in result.stderr


def test_json_and_track_filter(pg_runner: FlaskCliRunner, log) -> None:
    """--json prints the API's play records; --track keeps one track's plays."""
    until = str(T0_MS + 61 * MINUTE_MS)
    args = ["plays", "--station", "joy-fm", "--since", str(T0_MS), "--until", until]
    result = pg_runner.invoke(cli, [*args, "--track", "A", "--json"])
    assert result.exit_code == 0, result.output
    plays = json.loads(result.stdout)
    assert [(p["track"]["external_id"], p["status"]) for p in plays] == [
        ("A", "closed"),
        ("A", "open"),
    ]
    assert plays[0]["start"] == "2026-09-01T00:00:00.000Z" and plays[0]["duration_ms"] == 180_000
    assert plays[0]["royalty"] == {"amount_minor": 30, "currency": "GHS", "state": "posted"}
    assert plays[1]["royalty"] is None


def test_default_is_the_last_day(pg_app: Flask, pg_runner: FlaskCliRunner, log) -> None:
    """Without --since/--until only plays of the last 24 h are shown."""
    assert pg_runner.invoke(cli, ["plays", "--station", "joy-fm"]).stdout == ""
    with pg_app.app_context():
        station = find_station(db.session, "joy-fm")
        now_ms = int(utc_now().timestamp() * 1000)
        add_play(db.session, station, add_track(db.session, "C"), now_ms - 2 * MINUTE_MS)
        db.session.commit()
    result = pg_runner.invoke(cli, ["plays", "--station", "joy-fm"])
    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.splitlines()
    assert header.startswith("start ") and [row.split()[3] for row in rows] == ["C"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--station", "nope"], "no station nope"),
        (["--station", "joy-fm", "--since", "last tuesday"], "since: 'last tuesday' is no time"),
        (["--station", "joy-fm", "--since", "60d"], "at most 31 days per query"),
        (["--station", "joy-fm", "--since", "1h", "--until", "2h"], "is after until"),
        (["--station", "joy-fm", "--track", "x" * 300], "track: an external id"),
    ],
)
def test_bad_arguments_are_one_line_errors(
    pg_runner: FlaskCliRunner, log, args: list[str], message: str
) -> None:
    """An unknown station or a bad time is an error message and exit code 2 or 1, no traceback."""
    result = pg_runner.invoke(cli, ["plays", *args])
    assert result.exit_code in (1, 2)
    assert message in result.output
    assert "Traceback" not in result.output
