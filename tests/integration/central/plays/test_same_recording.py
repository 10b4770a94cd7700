"""Issue 22: a song and its radio edit (a cut of it) both imported; whichever airs, the station's
airing is one play and one royalty, and the play says which rule chose its track."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import redis
from flask import Flask
from flask.testing import FlaskCliRunner
from rq import SimpleWorker
from sqlalchemy import func, select

from central import queues, worker
from central.catalog.models import Track, TrackNearDuplicate
from central.cli import cli
from central.extensions import db
from central.ingest.models import IngestedBatch
from central.matching.rematch import rematch_stored_batch
from central.monitoring.store import EVENT, record_event
from central.plays.models import Play
from central.royalties.models import RoyaltyAccrual
from central.stations import store as stations
from central.stations.models import Station
from edge_agent.fingerprint import SAMPLE_RATE_HZ
from edge_agent.health import HealthEvent
from tests import synth, transforms
from tests.integration.central.broadcast import DEVICE, START_MS, STATION, ingest, payloads
from tests.integration.central.royalties.conftest import add_card, card_document

pytestmark = pytest.mark.integration

ORIGINAL_S = 70
EDIT_FROM_S, EDIT_TO_S = 10, 50  # the radio edit: the original's seconds 10 to 50
LEAD_S = 5  # quiet before and after the song on air


@pytest.fixture(scope="module")
def original() -> np.ndarray:
    """The original recording (synthesised once for the module)."""
    return transforms.song(221, float(ORIGINAL_S))


def import_tracks(runner: FlaskCliRunner, tmp_path: Path, original: np.ndarray, *ids: str) -> str:
    """`zamio catalog import` of the tracks named (ORIG, EDIT), in that order; its output."""
    rate = SAMPLE_RATE_HZ
    synth.write_wav(tmp_path / "orig.wav", original, rate)
    synth.write_wav(tmp_path / "edit.wav", original[EDIT_FROM_S * rate : EDIT_TO_S * rate], rate)
    paths = {"ORIG": "orig.wav", "EDIT": "edit.wav"}
    tracks = [{"id": i, "path": paths[i]} for i in ids]
    manifest = synth.write_manifest(tmp_path / f"{'-'.join(ids)}.json", tracks)
    result = runner.invoke(cli, ["catalog", "import", str(manifest)])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def station(pg_app: Flask, redis_connection: redis.Redis) -> Iterator[None]:
    """joy-fm with its device and a rate card; jobs use the test app and queue."""
    with pg_app.app_context():
        stations.add_station(db.session, STATION, "Joy FM")
        stations.add_device(db.session, DEVICE, STATION)
        add_card(db.session, card_document())
    worker.use_app(pg_app, queues.pipeline_queue(redis_connection))
    yield
    worker.use_app(None)


@pytest.fixture
def catalogue(
    station: None, pg_runner: FlaskCliRunner, original: np.ndarray, tmp_path: Path
) -> str:
    """Original and edit imported together, in that order; the import's output."""
    return import_tracks(pg_runner, tmp_path, original, "ORIG", "EDIT")


def air(app: Flask, connection: redis.Redis, audio: np.ndarray) -> None:
    """The station plays `audio` from a file source that then ends; run the whole pipeline."""
    quiet = np.zeros(LEAD_S * SAMPLE_RATE_HZ, np.float32)
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
    SimpleWorker([queue], connection=connection).work(burst=True)


def plays_and_royalties(app: Flask) -> tuple[list[tuple[str, str | None, bool]], int]:
    """(track, chosen_by, closed) of each play in order; how many accruals were made."""
    with app.app_context():
        rows = db.session.execute(
            select(Track.external_id, Play.chosen_by, Play.closed_at)
            .join(Track, Track.id == Play.track_id)
            .order_by(Play.start_ms)
        ).all()
        accruals = db.session.scalar(select(func.count()).select_from(RoyaltyAccrual))
    return [(t, c, closed is not None) for t, c, closed in rows], accruals


def test_import_records_the_edit_as_a_near_duplicate(pg_app: Flask, catalogue: str) -> None:
    """The edit is registered with its note, and the link is stored for play building."""
    assert "EDIT: " in catalogue and "near-duplicate of ORIG" in catalogue
    with pg_app.app_context():
        links = db.session.execute(
            select(TrackNearDuplicate.track_id, TrackNearDuplicate.other_track_id)
        ).all()
        ids = dict(db.session.execute(select(Track.external_id, Track.id)).all())
    assert links == [(ids["EDIT"], ids["ORIG"])]


def test_the_original_aired_is_one_play_and_one_royalty(
    pg_app: Flask, catalogue: str, redis_connection: redis.Redis, original: np.ndarray
) -> None:
    """The original on air (its edit matching inside it): one closed play of the original,
    chosen as the longest span over the edit, and one royalty, not two."""
    air(pg_app, redis_connection, original)
    plays, accruals = plays_and_royalties(pg_app)
    assert plays == [("ORIG", "longest_span over track EDIT", True)]
    assert accruals == 1


def test_the_edit_aired_is_one_play_of_the_edit(
    pg_app: Flask, catalogue: str, redis_connection: redis.Redis, original: np.ndarray
) -> None:
    """The edit on air (the original matching the same seconds): one play of the edit, which
    covered all of its track, and one royalty."""
    rate = SAMPLE_RATE_HZ
    air(pg_app, redis_connection, original[EDIT_FROM_S * rate : EDIT_TO_S * rate])
    plays, accruals = plays_and_royalties(pg_app)
    assert plays == [("EDIT", "most_coverage over track ORIG", True)]
    assert accruals == 1


def test_an_edit_registered_after_the_airing_adds_no_play(
    pg_app: Flask,
    station: None,
    pg_runner: FlaskCliRunner,
    redis_connection: redis.Redis,
    original: np.ndarray,
    tmp_path: Path,
) -> None:
    """The edit aired when only the original was registered, and the original's play was paid;
    the edit imported since and searched for in the stored batches (as `zamio rematch` does)
    would now win that airing, but the closed play stands for it: still one play, one royalty."""
    import_tracks(pg_runner, tmp_path, original, "ORIG")
    rate = SAMPLE_RATE_HZ
    air(pg_app, redis_connection, original[EDIT_FROM_S * rate : EDIT_TO_S * rate])
    assert plays_and_royalties(pg_app) == ([("ORIG", "only_candidate", True)], 1)
    import_tracks(pg_runner, tmp_path, original, "EDIT")
    queue = queues.pipeline_queue(redis_connection)
    with pg_app.app_context():
        edit_id = db.session.scalar(select(Track.id).where(Track.external_id == "EDIT"))
        found = sum(
            rematch_stored_batch(db.session, pk, [edit_id])[0]
            for pk in db.session.scalars(select(IngestedBatch.id))
        )
        db.session.commit()
        station_id = db.session.scalar(select(Station.id))
    assert found > 0  # the edit is heard in the original's airing
    queues.enqueue_update_plays(queue, station_id)
    SimpleWorker([queue], connection=redis_connection).work(burst=True)
    assert plays_and_royalties(pg_app) == ([("ORIG", "only_candidate", True)], 1)
