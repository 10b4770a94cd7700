"""The whole recognition path offline, exactly as agent and server run it, on one recording."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from central.errors import FingerprintVersionError
from central.matching.index import MatchIndex
from central.matching.matcher import Match, match_window
from central.plays.aggregate import Play, build_plays
from central.plays.same_recording import one_stream_play_per_airing, recording_classes
from edge_agent.batch import (
    BatchSource,
    HashBatch,
    batches_from_fingerprints,
    decode_batch,
    encode_batch,
)
from edge_agent.decode import decode_file
from edge_agent.fingerprint import (
    FINGERPRINT_VERSION,
    SAMPLE_RATE_HZ,
    Fingerprints,
    fingerprint_in_chunks,
)


def recording_batches(path: Path, source_id: str = "playlog") -> list[HashBatch]:
    """Decode, fingerprint in 1 s chunks and cut into wire batches, as an agent would."""
    samples = decode_file(path, sample_rate_hz=SAMPLE_RATE_HZ)
    fingerprints, frame_end = fingerprint_in_chunks(samples)
    source = BatchSource(
        device_id="playlog",
        source_id=source_id,
        fingerprint_version=FINGERPRINT_VERSION,
        stream_start_ms=0,
    )
    batches = batches_from_fingerprints(fingerprints, source=source, frame_end=frame_end)
    # Through the wire format and back, so the offline path is the production path.
    return [decode_batch(encode_batch(b)) for b in batches]


def match_batches(index: MatchIndex, batches: Iterable[HashBatch]) -> list[Match]:
    """Per-window matches of a stream's batches; refuses batches of another fingerprint version."""
    matches: list[Match] = []
    for batch in batches:
        if batch.fingerprint_version != index.fingerprint_version:
            raise FingerprintVersionError(
                f"batch {batch.seq}: fingerprint version {batch.fingerprint_version}, "
                f"index has {index.fingerprint_version}"
            )
        matches += match_window(index, Fingerprints(batch.hashes, batch.anchor_frames))
    return matches


def playlog(index: MatchIndex, path: Path, links: Iterable[tuple[int, int]] = ()) -> list[Play]:
    """Plays found in the recording at `path`, one per airing of tracks `links` say are one
    recording (see same_recording.py)."""
    plays = build_plays(match_batches(index, recording_batches(path)))
    return one_stream_play_per_airing(plays, recording_classes(links))


def play_record(play: Play) -> dict[str, object]:
    """A play as the JSON object `zamio playlog --json` prints."""
    return {
        "track_id": play.track.external_id,
        "title": play.track.title,
        "start_s": round(play.start_s, 2),
        "end_s": round(play.end_s, 2),
        "duration_s": round(play.duration_s, 2),
        "confidence": round(play.confidence, 3),
        "speed_ratio": round(play.speed_ratio, 4),
    }
