"""HashBatch: one window of a source's fingerprints, and its versioned compact binary encoding.

Pure: stdlib, numpy and xxhash only; no I/O, no clock.

Wire format, version 2. All integers little-endian. Offsets in bytes.

    offset size type  field
    0      3    bytes magic                b"ZHB"
    3      1    u8    wire_version         2
    4      4    u32   payload_bytes        length of the whole payload, magic to checksum
    8      16   bytes batch_id             see make_batch_id
    24     8    u64   seq                  grows by one per window of a source
    32     8    u64   first_frame          absolute frame of the window start in the source stream
    40     8    i64   window_start_ms      UTC ms of first_frame (edge clock, corrected)
    48     4    u32   window_frames        32 ms frames the window covers, 1..WINDOW_FRAMES_MAX
    52     4    u32   hash_count           0..HASHES_PER_BATCH_MAX
    56     4    i32   clock_offset_ms      correction the edge applied to its clock (NTP offset)
    60     2    u16   fingerprint_version  edge_agent.fingerprint.FINGERPRINT_VERSION
    62     1    u8    clock_sync_state     0 unknown, 1 unsynced, 2 synced
    63     1    u8    hash_bytes           3 or 4: bytes per hash in the hashes column
    64     1    u8    device_id_bytes      1..64, then that many bytes of UTF-8
    ..     1    u8    source_id_bytes      1..64, then that many bytes of UTF-8
    ..     v    LEB128 anchor deltas       hash_count varints (below)
    ..     h*n  u24/32 hashes              hash_count hashes of hash_bytes each
    end-8  8    u64   checksum             xxh64 (seed 0) of every byte before it

Fingerprints are sorted by (anchor_frame, hash), so the wire form of a set is unique. Anchor
frames are delta-encoded: the first relative to first_frame, each next relative to the previous
anchor; at ~1 hash per frame nearly every delta is 0..127 and takes one byte. A LEB128 varint
carries 7 bits per byte, low bits first, the high bit set on every byte but the last; at most 5
bytes, canonical (no trailing 0x00 continuation byte). Anchors must lie in
[first_frame, first_frame + window_frames), and first_frame + window_frames <= 2**32 because
anchor frames are uint32. Columns (all deltas, then all hashes) rather than rows, so the hashes
decode with a few whole-array numpy operations. Hashes are 3 bytes each when every hash of the
batch is below 2**24 (fingerprint version 2 uses 21 bits), else 4; the encoder picks the
smaller. Size: 74 + len(device_id) + len(source_id) bytes of overhead plus about 4 bytes per
hash (3 + 1 delta).
Version 1 differed only in having no hash_bytes field (always 4); no agent sends it any more.

Worked example (the golden vector in tests/unit/test_batch.py): device "pi-01", source
"fm-101.5", seq 7, fingerprint version 1, first_frame 640, window_frames 320, window_start_ms
1_700_000_020_480, synced, clock offset -12 ms, and four fingerprints given as
(anchor_frame, hash): (900, 0x1), (640, 0xDD566), (641, 0x1FFFFF), (640, 0x12345).

    5a 48 42                  magic "ZHB"
    02                        wire version 2
    68 00 00 00               payload_bytes 104
    f9 86 e7 56 99 d2 d3 ed   batch_id = make_batch_id("pi-01", "fm-101.5", 7)
    af 7b 11 32 ce 89 6c d0
    07 00 00 00 00 00 00 00   seq 7
    80 02 00 00 00 00 00 00   first_frame 640
    00 b8 e5 cf 8b 01 00 00   window_start_ms 1_700_000_020_480
    40 01 00 00               window_frames 320
    04 00 00 00               hash_count 4
    f4 ff ff ff               clock_offset_ms -12
    01 00                     fingerprint_version 1
    02                        clock_sync_state synced
    03                        hash_bytes 3 (every hash < 2**24)
    05 70 69 2d 30 31         device_id "pi-01"
    08 66 6d 2d 31 30 31 2e   source_id "fm-101.5"
    35
    00 00 01 83 02            deltas 0, 0, 1, 259: anchors 640, 640, 641, 900 (259 = 0x83 0x02)
    45 23 01  66 d5 0d  ff ff 1f  01 00 00   hashes 0x12345 0xDD566 0x1FFFFF 0x1
    f0 6c 0d 25 c5 39 71 54   xxh64 of the 96 bytes before: 0x547139C5250D6CF0

Batch ids: make_batch_id is the xxh3-128 digest (canonical, big-endian bytes) of
b"zamio.batch_id.v1" + u8 len + device_id + u8 len + source_id + u64 LE seq. Deterministic rather
than uuid4, so a batch rebuilt after a crash, before it reached the spool, gets the same id and
central stores it once. This relies on seq never repeating for a
source: the agent persists it. Ids are predictable, so central must scope idempotency by the
device it authenticated (device_id from the topic/credentials, then batch_id), never by batch_id
alone.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import xxhash

from edge_agent.errors import (
    BadMagicError,
    BatchEncodeError,
    BatchLimitError,
    ChecksumMismatchError,
    MalformedBatchError,
    OversizedBatchError,
    TrailingBytesError,
    TruncatedBatchError,
    UnknownWireVersionError,
)

if TYPE_CHECKING:
    from edge_agent.fingerprint import Fingerprints

MAGIC = b"ZHB"
WIRE_VERSION = 2
HASH_BYTES = (3, 4)  # the widths the hashes column may use
FRAME_MS = 32  # must equal edge_agent.fingerprint.FRAME_MS (a test checks)
WINDOW_FRAMES = 320  # 10.24 s per batch
WINDOW_FRAMES_MAX = 2048  # 65.5 s
HASHES_PER_BATCH_MAX = 16384  # ~8 per frame at WINDOW_FRAMES_MAX; QUERY yields ~1 per frame
ID_BYTES_MAX = 64  # device_id and source_id, UTF-8
BATCH_ID_BYTES = 16
VARINT_BYTES_MAX = 5
PAYLOAD_BYTES_MAX = 128 * 1024  # > 74 + 2 * 64 + HASHES_PER_BATCH_MAX * (4 + 2-byte delta)
ANCHOR_FRAME_LIMIT = 1 << 32  # anchor frames are uint32: first_frame + window_frames <= this

_HEADER = struct.Struct("<3sBI16sQQqIIiHBB")  # up to hash_bytes
_CHECKSUM = struct.Struct("<Q")
_U8 = struct.Struct("<B")
_HEADER_BYTES = _HEADER.size  # 64
_DECLARED = struct.Struct("<I")  # payload_bytes, after magic and version
_DECLARED_END = len(MAGIC) + 1 + _DECLARED.size
_PAYLOAD_BYTES_MIN = _HEADER_BYTES + 2 + _CHECKSUM.size  # header, two id lengths, checksum


class ClockSyncState(enum.IntEnum):
    """How far window_start_ms can be trusted."""

    UNKNOWN = 0
    UNSYNCED = 1
    SYNCED = 2


@dataclass(frozen=True, eq=False)
class HashBatch:
    """One window of one source's fingerprints, as the edge sends it."""

    batch_id: bytes
    device_id: str
    source_id: str
    seq: int
    fingerprint_version: int
    window_start_ms: int
    window_frames: int
    clock_sync_state: ClockSyncState
    clock_offset_ms: int
    first_frame: int
    hashes: np.ndarray  # uint32
    anchor_frames: np.ndarray  # uint32, absolute frame index in the source stream

    def __len__(self) -> int:
        return int(self.hashes.shape[0])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HashBatch):
            return NotImplemented
        return (
            self._scalars() == other._scalars()
            and np.array_equal(self.hashes, other.hashes)
            and np.array_equal(self.anchor_frames, other.anchor_frames)
        )

    __hash__ = None  # type: ignore[assignment]

    def _scalars(self) -> tuple:
        return (
            self.batch_id,
            self.device_id,
            self.source_id,
            self.seq,
            self.fingerprint_version,
            self.window_start_ms,
            self.window_frames,
            int(self.clock_sync_state),
            self.clock_offset_ms,
            self.first_frame,
        )


@dataclass(frozen=True)
class BatchSource:
    """What every batch of one stream shares: who sent it, which fingerprint, when it started."""

    device_id: str
    source_id: str
    fingerprint_version: int
    stream_start_ms: int  # UTC ms of frame 0 of the stream
    clock_sync_state: ClockSyncState = ClockSyncState.UNKNOWN
    clock_offset_ms: int = 0


def make_batch_id(device_id: str, source_id: str, seq: int) -> bytes:
    """Deterministic 16-byte id: the same (device, source, seq) always gets the same id."""
    device = device_id.encode("utf-8")
    source = source_id.encode("utf-8")
    key = b"zamio.batch_id.v1" + _U8.pack(len(device)) + device + _U8.pack(len(source)) + source
    return xxhash.xxh3_128(key + struct.pack("<Q", seq)).digest()


# ---------------------------------------------------------------------------------------------
# Encoding


def encode_batch(batch: HashBatch) -> bytes:
    """The wire bytes of `batch` (fingerprints sorted by anchor frame, then hash)."""
    device, source = _check_batch(batch)
    anchors = np.asarray(batch.anchor_frames, dtype=np.int64)
    hashes = np.asarray(batch.hashes, dtype=np.uint32)
    order = np.lexsort((hashes, anchors))
    anchors, hashes = anchors[order], hashes[order]
    deltas = np.diff(anchors, prepend=batch.first_frame)
    hash_bytes = 3 if len(hashes) == 0 or int(hashes.max()) < 1 << 24 else 4
    body = b"".join(
        [
            _U8.pack(len(device)),
            device,
            _U8.pack(len(source)),
            source,
            encode_varints(deltas.astype(np.uint64)),
            _hash_column(hashes, hash_bytes),
        ]
    )
    payload_bytes = _HEADER_BYTES + len(body) + _CHECKSUM.size
    head = _HEADER.pack(
        MAGIC,
        WIRE_VERSION,
        payload_bytes,
        batch.batch_id,
        batch.seq,
        batch.first_frame,
        batch.window_start_ms,
        batch.window_frames,
        len(hashes),
        batch.clock_offset_ms,
        batch.fingerprint_version,
        int(batch.clock_sync_state),
        hash_bytes,
    )
    unsealed = head + body
    return unsealed + _CHECKSUM.pack(xxhash.xxh64_intdigest(unsealed))


def _check_batch(batch: HashBatch) -> tuple[bytes, bytes]:
    """Raise BatchEncodeError unless every field fits the wire format; return the id bytes."""
    problems = _scalar_problems(batch) + _array_problems(batch)
    device = batch.device_id.encode("utf-8")
    source = batch.source_id.encode("utf-8")
    for name, raw in (("device_id", device), ("source_id", source)):
        if not 1 <= len(raw) <= ID_BYTES_MAX:
            problems.append(f"{name} must be 1..{ID_BYTES_MAX} bytes of UTF-8, got {len(raw)}")
    if problems:
        raise BatchEncodeError("; ".join(problems))
    return device, source


def _scalar_problems(batch: HashBatch) -> list[str]:
    """Scalar fields out of their wire range."""
    ranges = (
        ("seq", batch.seq, 0, 2**64 - 1),
        ("first_frame", batch.first_frame, 0, ANCHOR_FRAME_LIMIT - 1),
        ("window_start_ms", batch.window_start_ms, -(2**63), 2**63 - 1),
        ("window_frames", batch.window_frames, 1, WINDOW_FRAMES_MAX),
        ("clock_offset_ms", batch.clock_offset_ms, -(2**31), 2**31 - 1),
        ("fingerprint_version", batch.fingerprint_version, 0, 2**16 - 1),
    )
    problems = [f"{n} {v} outside {lo}..{hi}" for n, v, lo, hi in ranges if not lo <= v <= hi]
    if not isinstance(batch.batch_id, bytes) or len(batch.batch_id) != BATCH_ID_BYTES:
        problems.append(f"batch_id must be {BATCH_ID_BYTES} bytes")
    if batch.clock_sync_state not in set(ClockSyncState):
        problems.append(f"clock_sync_state {batch.clock_sync_state!r} unknown")
    if not problems and batch.first_frame + batch.window_frames > ANCHOR_FRAME_LIMIT:
        problems.append("first_frame + window_frames overflows uint32 anchor frames")
    return problems


def _array_problems(batch: HashBatch) -> list[str]:
    """Arrays that disagree, overflow or fall outside the window."""
    hashes, anchors = np.asarray(batch.hashes), np.asarray(batch.anchor_frames)
    if hashes.ndim != 1 or anchors.shape != hashes.shape:
        return [f"hashes {hashes.shape} and anchor_frames {anchors.shape} must be equal 1-D"]
    if len(hashes) > HASHES_PER_BATCH_MAX:
        return [f"{len(hashes)} hashes > HASHES_PER_BATCH_MAX {HASHES_PER_BATCH_MAX}"]
    if len(hashes) == 0:
        return []
    problems = []
    if hashes.dtype.kind not in "ui" or hashes.min() < 0 or int(hashes.max()) > 0xFFFFFFFF:
        problems.append("hashes must be uint32")
    window_end = batch.first_frame + batch.window_frames
    if anchors.dtype.kind not in "ui":
        problems.append("anchor_frames must be integers")
    elif int(anchors.min()) < batch.first_frame or int(anchors.max()) >= window_end:
        problems.append(f"anchor_frames outside the window {batch.first_frame}..{window_end - 1}")
    return problems


def _hash_column(hashes: np.ndarray, hash_bytes: int) -> bytes:
    """The hashes as little-endian integers of hash_bytes bytes each."""
    as_bytes = hashes.astype("<u4").view(np.uint8).reshape(-1, 4)
    return as_bytes[:, :hash_bytes].tobytes()


def _read_hash_column(payload: bytes, at: int, count: int, hash_bytes: int) -> np.ndarray:
    """uint32 hashes from a column of little-endian hash_bytes-byte integers."""
    if hash_bytes == 4:
        return np.frombuffer(payload, "<u4", count, at).astype(np.uint32)
    column = np.frombuffer(payload, np.uint8, count * hash_bytes, at).reshape(count, hash_bytes)
    wide = np.zeros((count, 4), np.uint8)
    wide[:, :hash_bytes] = column
    return wide.view("<u4").reshape(-1).astype(np.uint32, copy=False)


def encode_varints(values: np.ndarray) -> bytes:
    """LEB128: 7 bits per byte, low bits first, high bit set on all but the last byte."""
    values = np.asarray(values, dtype=np.uint64)
    assert values.size == 0 or int(values.max()) < 1 << (7 * VARINT_BYTES_MAX)
    lengths = np.ones(len(values), dtype=np.int64)
    for k in range(1, VARINT_BYTES_MAX):
        lengths += values >= np.uint64(1 << (7 * k))
    starts = np.cumsum(lengths) - lengths
    out = np.zeros(int(lengths.sum()), dtype=np.uint8)
    for k in range(VARINT_BYTES_MAX):
        has = lengths > k
        low7 = (values[has] >> np.uint64(7 * k)) & np.uint64(0x7F)
        more = (lengths[has] > k + 1).astype(np.uint64) << np.uint64(7)
        out[starts[has] + k] = (low7 | more).astype(np.uint8)
    return out.tobytes()


# ---------------------------------------------------------------------------------------------
# Decoding


def decode_batch(payload: bytes, payload_bytes_max: int = PAYLOAD_BYTES_MAX) -> HashBatch:
    """Parse and verify wire bytes; raise a BatchDecodeError subclass saying what is wrong."""
    payload = bytes(payload)
    _check_envelope(payload, payload_bytes_max)
    fields = _HEADER.unpack_from(payload)
    (_, _, _, batch_id, seq, first_frame, window_start_ms, window_frames, hash_count) = fields[:9]
    clock_offset_ms, fingerprint_version, clock_sync_state, hash_bytes = fields[9:]
    _check_header(window_frames, first_frame, hash_count, clock_sync_state, hash_bytes)
    device_id, offset = _read_id(payload, _HEADER_BYTES, "device_id")
    source_id, offset = _read_id(payload, offset, "source_id")
    hashes_at = len(payload) - _CHECKSUM.size - hash_bytes * hash_count
    if hashes_at < offset:
        raise MalformedBatchError(f"{hash_count} hashes do not fit in {len(payload)} bytes")
    deltas = decode_varints(np.frombuffer(payload, np.uint8, hashes_at - offset, offset))
    if len(deltas) != hash_count:
        raise MalformedBatchError(f"{len(deltas)} anchor deltas for {hash_count} hashes")
    hashes = _read_hash_column(payload, hashes_at, hash_count, hash_bytes)
    anchors = _anchors_from_deltas(deltas, hashes, first_frame, window_frames)
    hashes.flags.writeable = False
    return HashBatch(
        batch_id=batch_id,
        device_id=device_id,
        source_id=source_id,
        seq=seq,
        fingerprint_version=fingerprint_version,
        window_start_ms=window_start_ms,
        window_frames=window_frames,
        clock_sync_state=ClockSyncState(clock_sync_state),
        clock_offset_ms=clock_offset_ms,
        first_frame=first_frame,
        hashes=hashes,
        anchor_frames=anchors,
    )


def _check_envelope(payload: bytes, payload_bytes_max: int) -> None:
    """Size, magic, version, declared length and checksum, in that order."""
    if len(payload) > payload_bytes_max:
        raise OversizedBatchError(f"{len(payload)} bytes > payload_bytes_max {payload_bytes_max}")
    if payload[: len(MAGIC)] != MAGIC:
        if MAGIC.startswith(payload):
            raise TruncatedBatchError(f"only {len(payload)} bytes")
        raise BadMagicError(f"starts with {payload[:3]!r}, not {MAGIC!r}")
    if len(payload) < len(MAGIC) + 1:
        raise TruncatedBatchError(f"only {len(payload)} bytes")
    if payload[3] != WIRE_VERSION:
        raise UnknownWireVersionError(f"wire version {payload[3]}, this code reads {WIRE_VERSION}")
    if len(payload) < _DECLARED_END:
        raise TruncatedBatchError(f"only {len(payload)} bytes")
    (declared,) = _DECLARED.unpack_from(payload, len(MAGIC) + 1)
    if len(payload) < declared:
        raise TruncatedBatchError(f"{len(payload)} bytes, header says {declared}")
    if len(payload) > declared:
        raise TrailingBytesError(f"{len(payload) - declared} bytes after the declared {declared}")
    if len(payload) < _PAYLOAD_BYTES_MIN:
        raise MalformedBatchError(f"{len(payload)} bytes < the smallest batch {_PAYLOAD_BYTES_MIN}")
    (checksum,) = _CHECKSUM.unpack_from(payload, len(payload) - _CHECKSUM.size)
    if checksum != xxhash.xxh64_intdigest(payload[: -_CHECKSUM.size]):
        raise ChecksumMismatchError(f"checksum {checksum:#018x} does not match the payload")


def _check_header(
    window_frames: int, first_frame: int, hash_count: int, sync: int, hash_bytes: int
) -> None:
    """Header values within limits and consistent."""
    if hash_bytes not in HASH_BYTES:
        raise MalformedBatchError(f"hash_bytes {hash_bytes}, must be one of {HASH_BYTES}")
    if hash_count > HASHES_PER_BATCH_MAX:
        raise BatchLimitError(f"{hash_count} hashes > HASHES_PER_BATCH_MAX {HASHES_PER_BATCH_MAX}")
    if window_frames > WINDOW_FRAMES_MAX:
        raise BatchLimitError(f"window_frames {window_frames} > WINDOW_FRAMES_MAX")
    if window_frames == 0:
        raise MalformedBatchError("window_frames is 0")
    if first_frame + window_frames > ANCHOR_FRAME_LIMIT:
        raise MalformedBatchError("first_frame + window_frames overflows uint32 anchor frames")
    if sync not in set(ClockSyncState):
        raise MalformedBatchError(f"clock_sync_state {sync} unknown")


def _read_id(payload: bytes, offset: int, name: str) -> tuple[str, int]:
    """A u8-length-prefixed UTF-8 string at `offset`; returns it and the offset after it."""
    if offset >= len(payload) - _CHECKSUM.size:
        raise MalformedBatchError(f"{name} runs past the end")
    size = payload[offset]
    if size > ID_BYTES_MAX:
        raise BatchLimitError(f"{name} is {size} bytes > ID_BYTES_MAX {ID_BYTES_MAX}")
    if size == 0:
        raise MalformedBatchError(f"{name} is empty")
    end = offset + 1 + size
    if end > len(payload) - _CHECKSUM.size:
        raise MalformedBatchError(f"{name} runs past the end")
    try:
        text = payload[offset + 1 : end].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedBatchError(f"{name} is not UTF-8: {exc}") from None
    return text, end


def decode_varints(data: np.ndarray) -> np.ndarray:
    """Every LEB128 varint in `data` (uint8), as uint64; raise MalformedBatchError if invalid."""
    ends = np.flatnonzero(data < 0x80)
    if len(data) and (len(ends) == 0 or ends[-1] != len(data) - 1):
        raise MalformedBatchError("last anchor delta is cut short")
    starts = np.concatenate([[0], ends[:-1] + 1]).astype(np.int64)
    lengths = ends - starts + 1
    if len(lengths) and int(lengths.max()) > VARINT_BYTES_MAX:
        raise MalformedBatchError(f"anchor delta longer than {VARINT_BYTES_MAX} bytes")
    if np.any((lengths > 1) & (data[ends] == 0)):
        raise MalformedBatchError("anchor delta not in canonical (shortest) form")
    values = np.zeros(len(ends), dtype=np.uint64)
    for k in range(VARINT_BYTES_MAX):
        has = lengths > k
        low7 = (data[starts[has] + k] & 0x7F).astype(np.uint64)
        values[has] |= low7 << np.uint64(7 * k)
    return values


def _anchors_from_deltas(
    deltas: np.ndarray, hashes: np.ndarray, first_frame: int, window_frames: int
) -> np.ndarray:
    """Absolute anchor frames; checks they stay in the window and (anchor, hash) never falls."""
    if len(deltas) == 0:
        return np.zeros(0, np.uint32)
    if int(deltas.max()) >= window_frames:
        raise MalformedBatchError(f"anchor delta {int(deltas.max())} leaves the window")
    offsets = np.cumsum(deltas.astype(np.int64))
    if int(offsets[-1]) >= window_frames:
        raise MalformedBatchError(f"anchor frame {first_frame + int(offsets[-1])} past the window")
    same_anchor = deltas[1:] == 0
    if np.any(same_anchor & (hashes[1:] < hashes[:-1])):
        raise MalformedBatchError("hashes of one anchor frame are not in ascending order")
    anchors = (offsets + first_frame).astype(np.uint32)
    anchors.flags.writeable = False
    return anchors


# ---------------------------------------------------------------------------------------------
# Windows


def batches_from_fingerprints(
    fingerprints: Fingerprints,
    window_frames: int = WINDOW_FRAMES,
    *,
    source: BatchSource,
    frame_end: int,
    frame_start: int = 0,
    seq_first: int = 0,
) -> list[HashBatch]:
    """Split a stream's fingerprints into consecutive windows covering [frame_start, frame_end).

    Each hash goes to the window holding its anchor frame; every window is emitted, empty ones
    too (they tell central the source was heard and quiet); the last may be shorter.
    """
    assert 1 <= window_frames <= WINDOW_FRAMES_MAX
    assert 0 <= frame_start <= frame_end <= ANCHOR_FRAME_LIMIT
    anchors = np.asarray(fingerprints.anchor_frames, dtype=np.int64)
    hashes = np.asarray(fingerprints.hashes, dtype=np.uint32)
    if len(anchors) and (anchors.min() < frame_start or anchors.max() >= frame_end):
        raise ValueError(f"anchor frames outside {frame_start}..{frame_end - 1}")
    order = np.lexsort((hashes, anchors))
    anchors, hashes = anchors[order], hashes[order]
    starts = list(range(frame_start, frame_end, window_frames))
    bounds = np.searchsorted(anchors, starts + [frame_end], "left")
    return [
        _window_batch(
            source,
            seq_first + i,
            start,
            min(window_frames, frame_end - start),
            hashes[bounds[i] : bounds[i + 1]],
            anchors[bounds[i] : bounds[i + 1]],
        )
        for i, start in enumerate(starts)
    ]


def _window_batch(
    source: BatchSource,
    seq: int,
    first_frame: int,
    window_frames: int,
    hashes: np.ndarray,
    anchors: np.ndarray,
) -> HashBatch:
    """One window's batch; raises ValueError if the window holds too many hashes."""
    if len(hashes) > HASHES_PER_BATCH_MAX:
        raise ValueError(f"window at frame {first_frame}: {len(hashes)} > HASHES_PER_BATCH_MAX")
    return HashBatch(
        batch_id=make_batch_id(source.device_id, source.source_id, seq),
        device_id=source.device_id,
        source_id=source.source_id,
        seq=seq,
        fingerprint_version=source.fingerprint_version,
        window_start_ms=source.stream_start_ms + first_frame * FRAME_MS,
        window_frames=window_frames,
        clock_sync_state=source.clock_sync_state,
        clock_offset_ms=source.clock_offset_ms,
        first_frame=first_frame,
        hashes=hashes.astype(np.uint32),
        anchor_frames=anchors.astype(np.uint32),
    )
