"""In-memory reference index: one sorted uint64 array of (hash << 32 | posting) entries.

Memory is 8 bytes per reference hash plus a small segment table; the entries are sorted in
place, so building needs about twice the final size at its peak.
A posting packs a segment number (high 18 bits) and a frame within the segment (low 14 bits);
tracks longer than one segment (16384 frames, 8.7 min) simply use several segments, so no track
length limit exists. The index is built once per process and answers queries with binary search,
so a query never loads the catalogue.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np

from edge_agent.fingerprint import FINGERPRINT_VERSION, Fingerprints

SEGMENT_FRAME_BITS = 14
SEGMENT_FRAMES = 1 << SEGMENT_FRAME_BITS
SEGMENT_COUNT_MAX = 1 << (32 - SEGMENT_FRAME_BITS)


@dataclass(frozen=True)
class TrackRef:
    """What the index knows about a registered track."""

    track_id: int  # database id
    external_id: str
    title: str
    duration_frames: int = 0  # last reference anchor + 1; build_index fills it in


@dataclass(frozen=True)
class MatchIndex:
    """Sorted reference hashes and where each occurs."""

    fingerprint_version: int
    entries: np.ndarray  # uint64, sorted: hash << 32 | posting (segment << 14 | frame in segment)
    segment_tracks: np.ndarray  # int32, segment -> index into `tracks`
    segment_first_frames: np.ndarray  # int64, segment -> first frame of the track it covers
    tracks: tuple[TrackRef, ...]

    def __len__(self) -> int:
        return int(self.entries.shape[0])

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays."""
        return int(
            self.entries.nbytes + self.segment_tracks.nbytes + self.segment_first_frames.nbytes
        )

    @property
    def hashes(self) -> np.ndarray:
        """The sorted hashes (a copy: for inspection, not for the query path)."""
        return (self.entries >> np.uint64(32)).astype(np.uint32)

    @property
    def postings(self) -> np.ndarray:
        """The postings in hash order (a copy)."""
        return (self.entries & np.uint64(0xFFFFFFFF)).astype(np.uint32)


def build_index(
    entries: Iterable[tuple[TrackRef, Fingerprints]],
    fingerprint_version: int = FINGERPRINT_VERSION,
) -> MatchIndex:
    """Index reference fingerprints; one pass over `entries`, then one sort."""
    tracks: list[TrackRef] = []
    parts: list[np.ndarray] = []
    seg_tracks: list[int] = []
    seg_firsts: list[int] = []
    for ref, prints in entries:
        track_index = len(tracks)
        if len(prints) and not ref.duration_frames:
            ref = replace(ref, duration_frames=int(prints.anchor_frames.max()) + 1)
        tracks.append(ref)
        frames = prints.anchor_frames.astype(np.int64)
        seg_of_frame = frames >> SEGMENT_FRAME_BITS
        segments = int(seg_of_frame.max()) + 1 if len(frames) else 0
        base = len(seg_tracks)
        if base + segments > SEGMENT_COUNT_MAX:
            raise ValueError(f"index full: more than {SEGMENT_COUNT_MAX} segments")
        seg_tracks += [track_index] * segments
        seg_firsts += [s * SEGMENT_FRAMES for s in range(segments)]
        postings = ((seg_of_frame + base) << SEGMENT_FRAME_BITS) | (frames & (SEGMENT_FRAMES - 1))
        parts.append(
            (prints.hashes.astype(np.uint64) << np.uint64(32)) | postings.astype(np.uint64)
        )
    entries = np.concatenate(parts) if parts else np.zeros(0, np.uint64)
    del parts
    entries.sort()  # in place: equal hashes end up ordered by posting, deterministically
    return MatchIndex(
        fingerprint_version=fingerprint_version,
        entries=entries,
        segment_tracks=np.array(seg_tracks, dtype=np.int32),
        segment_first_frames=np.array(seg_firsts, dtype=np.int64),
        tracks=tuple(tracks),
    )


def decode_postings(index: MatchIndex, postings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Postings (or whole entries: the low 32 bits) to (track index, frame in the track)."""
    low = (postings & 0xFFFFFFFF).astype(np.int64)
    segment = low >> SEGMENT_FRAME_BITS
    frame = low & (SEGMENT_FRAMES - 1)
    return index.segment_tracks[segment], index.segment_first_frames[segment] + frame
