"""The overview's pure summary: which streams are down or in dead air from their latest events,
agents by state, the queue's oldest job age."""

from __future__ import annotations

from central.monitoring.overview import (
    DEAD_AIR,
    DOWN,
    Facts,
    QueueFacts,
    SourceEvents,
    source_condition,
    summarise,
)
from central.monitoring.state import Seen

NOW_MS = 1_800_000_000_000


def test_a_source_is_down_until_its_stream_comes_up_again() -> None:
    """stream_down after stream_up is down; a later stream_up or a stop ends it."""
    assert source_condition({"stream_up": 1, "stream_down": 2}) == DOWN
    assert source_condition({"stream_down": 2, "stream_up": 3}) is None
    assert source_condition({"stream_down": 2, "source_stopped": 3}) is None
    assert source_condition({}) is None


def test_dead_air_lasts_until_its_end_or_the_audio_stops() -> None:
    """dead_air without a later dead_air_end (or end of the source) is dead air now."""
    assert source_condition({"stream_up": 1, "dead_air": 5}) == DEAD_AIR
    assert source_condition({"stream_up": 1, "dead_air": 5, "dead_air_end": 6}) is None
    assert source_condition({"stream_up": 1, "dead_air": 5, "source_ended": 7}) is None
    # the agent closes dead air as the stream goes down: down wins
    assert source_condition({"dead_air": 5, "dead_air_end": 6, "stream_down": 6}) == DOWN


def _facts(**changes: object) -> Facts:
    base = {
        "now_ms": NOW_MS,
        "stations": 3,
        "stations_monitored": 2,
        "agents": [
            None,
            Seen("online", NOW_MS - 10_000, heartbeat_s=60.0),
            Seen("online", NOW_MS - 600_000, heartbeat_s=60.0),
            Seen("offline", NOW_MS - 1000),
        ],
        "sources": [
            SourceEvents("joy-fm", "pi-01", "main", {"stream_down": NOW_MS - 90_000}),
            SourceEvents("peace-fm", "pi-02", "main", {"stream_up": 1, "dead_air": NOW_MS - 5000}),
            SourceEvents("peace-fm", "pi-02", "aux", {"stream_up": 1}),
        ],
        "plays_today": 7,
        "royalties_today_minor": {"GHS": 1234},
        "quarantined": 5,
        "quarantined_recent": 2,
        "queue": QueueFacts(False, 4, NOW_MS - 42_000, 1),
    }
    return Facts(**{**base, **changes})  # type: ignore[arg-type]


def test_the_summary_counts_agents_streams_and_the_queue() -> None:
    """Every number of the overview from one set of facts."""
    found = summarise(_facts())
    assert found["agents"] == {"online": 1, "offline": 1, "stale": 1, "never_seen": 1}
    assert (found["streams_down"], found["streams_dead_air"]) == (1, 1)
    assert [(c["station"], c["condition"], c["for_s"]) for c in found["stream_conditions"]] == [
        ("joy-fm", DOWN, 90),
        ("peace-fm", DEAD_AIR, 5),
    ]
    assert found["royalties_today"] == [{"currency": "GHS", "amount_minor": 1234}]
    assert found["queue"] == {
        "inline": False, "available": True, "error": None, "depth": 4, "failed": 1,
        "oldest_job_age_s": 42,
    }  # fmt: skip
    assert found["last_verify"] is None


def test_an_unreadable_queue_says_why() -> None:
    """Redis down: the overview still renders, the queue part says it is unavailable."""
    found = summarise(_facts(queue=QueueFacts(False, error="redis unavailable: refused")))
    assert found["queue"]["available"] is False
    assert found["queue"]["depth"] is None


def test_the_embedded_queue_reads_as_inline_and_empty() -> None:
    """Under the embedded defaults the queue runs jobs as they are enqueued: depth 0, inline."""
    from central.embedded.inline import inline_queue
    from central.monitoring.overview import queue_facts

    found = queue_facts(inline_queue())
    assert (found.inline, found.depth, found.error) == (True, 0, None)


def test_the_overview_reads_sqlite_too(app) -> None:
    """The embedded database (SQLite) answers every query of the overview and the track chart."""
    from central.embedded.inline import inline_queue
    from central.extensions import db, utc_now
    from central.monitoring.overview import overview
    from central.plays.queries import last_days, plays_per_day
    from tests.integration.central.admin_rows import seed_overview

    with app.app_context():
        seeded = seed_overview(db.session)
        db.session.commit()
        found = overview(db.session, inline_queue(), utc_now())
        series = plays_per_day(db.session, last_days(seeded.now_ms, 3), track_id=1)
    assert (found["plays_today"], found["streams_down"], found["quarantined_24h"]) == (3, 1, 2)
    assert found["royalties_today"] == [{"currency": "GHS", "amount_minor": 400}]
    assert sum(d["plays"] for d in series) == 4
