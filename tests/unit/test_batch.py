"""HashBatch wire format: round trips, the frozen golden bytes, every refusal, and windowing."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent import batch as wire
from edge_agent.batch import (
    ANCHOR_FRAME_LIMIT,
    HASHES_PER_BATCH_MAX,
    ID_BYTES_MAX,
    PAYLOAD_BYTES_MAX,
    WINDOW_FRAMES,
    WINDOW_FRAMES_MAX,
    BatchSource,
    ClockSyncState,
    HashBatch,
    batches_from_fingerprints,
    decode_batch,
    decode_varints,
    encode_batch,
    encode_varints,
    make_batch_id,
)
from edge_agent.batchfile import read_batch_file, write_batch_file
from edge_agent.errors import (
    BadMagicError,
    BatchDecodeError,
    BatchEncodeError,
    BatchFileError,
    BatchLimitError,
    ChecksumMismatchError,
    MalformedBatchError,
    OversizedBatchError,
    TrailingBytesError,
    TruncatedBatchError,
    UnknownWireVersionError,
)
from edge_agent.fingerprint import Fingerprints

GOLDEN_HEX = (
    "5a484202" "68000000" "f986e75699d2d3edaf7b1132ce896cd0" "0700000000000000"
    "8002000000000000" "00b8e5cf8b010000" "40010000" "04000000" "f4ffffff" "0100" "02" "03"
    "05" "70692d3031" "08" "666d2d3130312e35" "0000018302"
    "452301" "66d50d" "ffff1f" "010000" "f06c0d25c5397154"
)  # fmt: skip


def golden_batch() -> HashBatch:
    """The worked example of edge_agent/batch.py's docstring."""
    return HashBatch(
        batch_id=make_batch_id("pi-01", "fm-101.5", 7),
        device_id="pi-01",
        source_id="fm-101.5",
        seq=7,
        fingerprint_version=1,
        window_start_ms=1_700_000_020_480,
        window_frames=320,
        clock_sync_state=ClockSyncState.SYNCED,
        clock_offset_ms=-12,
        first_frame=640,
        hashes=np.array([0x1, 0xDD566, 0x1FFFFF, 0x12345], np.uint32),
        anchor_frames=np.array([900, 640, 641, 640], np.uint32),
    )


def sorted_batch(batch: HashBatch) -> HashBatch:
    """The same batch with its fingerprints in wire order (anchor frame, then hash)."""
    order = np.lexsort((batch.hashes, batch.anchor_frames))
    return _replace(batch, hashes=batch.hashes[order], anchor_frames=batch.anchor_frames[order])


def _replace(batch: HashBatch, **changes: object) -> HashBatch:
    fields = {name: getattr(batch, name) for name in HashBatch.__dataclass_fields__}
    return HashBatch(**{**fields, **changes})


def raw_payload(
    *,
    deltas: bytes = b"",
    hashes: tuple[int, ...] = (),
    hash_count: int | None = None,
    first_frame: int = 0,
    window_frames: int = 320,
    sync: int = 2,
    device: bytes = b"d",
    source: bytes = b"s",
    version: int = 2,
    hash_bytes: int = 4,
    tail: bytes = b"",
) -> bytes:
    """A payload built field by field from the documented layout, sealed with a valid checksum."""
    body = bytes([len(device)]) + device + bytes([len(source)]) + source + deltas
    body += b"".join(h.to_bytes(4, "little")[:hash_bytes] for h in hashes) + tail
    count = len(hashes) if hash_count is None else hash_count
    total = 64 + len(body) + 8
    head = struct.pack(
        "<3sBI16sQQqIIiHBB",
        *(b"ZHB", version, total, bytes(16), 5, first_frame, 1000, window_frames, count),
        *(-3, 1, sync, hash_bytes),
    )
    return head + body + struct.pack("<Q", xxhash.xxh64_intdigest(head + body))


def reseal(payload: bytes) -> bytes:
    """Recompute the checksum after a deliberate edit."""
    body = payload[:-8]
    return body + struct.pack("<Q", xxhash.xxh64_intdigest(body))


# ---------------------------------------------------------------------------------------------
# Round trips and the frozen format


ids = st.text(min_size=1, max_size=64).filter(lambda s: 1 <= len(s.encode()) <= ID_BYTES_MAX)


@st.composite
def batches(draw: st.DrawFn) -> HashBatch:
    """Any valid batch, including multi-byte deltas and duplicate fingerprints."""
    window_frames = draw(st.integers(1, WINDOW_FRAMES_MAX))
    first_frame = draw(st.integers(0, ANCHOR_FRAME_LIMIT - window_frames))
    count = draw(st.integers(0, 300))
    offsets = draw(st.lists(st.integers(0, window_frames - 1), min_size=count, max_size=count))
    hashes = draw(st.lists(st.integers(0, 2**32 - 1), min_size=count, max_size=count))
    return HashBatch(
        batch_id=draw(st.binary(min_size=16, max_size=16)),
        device_id=draw(ids),
        source_id=draw(ids),
        seq=draw(st.integers(0, 2**64 - 1)),
        fingerprint_version=draw(st.integers(0, 2**16 - 1)),
        window_start_ms=draw(st.integers(-(2**63), 2**63 - 1)),
        window_frames=window_frames,
        clock_sync_state=draw(st.sampled_from(ClockSyncState)),
        clock_offset_ms=draw(st.integers(-(2**31), 2**31 - 1)),
        first_frame=first_frame,
        hashes=np.array(hashes, np.uint32),
        anchor_frames=(np.array(offsets, np.int64) + first_frame).astype(np.uint32),
    )


@settings(max_examples=300, deadline=None)
@given(batches())
def test_round_trip_any_batch(batch: HashBatch) -> None:
    """decode(encode(b)) is b with fingerprints in (anchor, hash) order, and re-encodes the same."""
    payload = encode_batch(batch)
    decoded = decode_batch(payload)
    assert decoded == sorted_batch(batch)
    assert encode_batch(decoded) == payload
    assert decoded.hashes.dtype == np.uint32 and decoded.anchor_frames.dtype == np.uint32


def test_golden_bytes() -> None:
    """The wire format is frozen: the docstring's worked example encodes to these exact bytes."""
    payload = encode_batch(golden_batch())
    assert payload.hex() == GOLDEN_HEX
    assert decode_batch(bytes.fromhex(GOLDEN_HEX)) == sorted_batch(golden_batch())


def test_independent_builder_matches_encoder() -> None:
    """The documented layout, assembled by hand, is what encode_batch writes."""
    batch = HashBatch(
        batch_id=bytes(16),
        device_id="d",
        source_id="s",
        seq=5,
        fingerprint_version=1,
        window_start_ms=1000,
        window_frames=320,
        clock_sync_state=ClockSyncState.SYNCED,
        clock_offset_ms=-3,
        first_frame=0,
        hashes=np.array([9, 4, 7], np.uint32),
        anchor_frames=np.array([0, 0, 200], np.uint32),
    )
    expected = raw_payload(deltas=b"\x00\x00\xc8\x01", hashes=(4, 9, 7), hash_bytes=3)
    assert encode_batch(batch) == expected


def test_largest_batch_fits_payload_limit() -> None:
    """A batch at every limit encodes within PAYLOAD_BYTES_MAX and round trips."""
    rng = np.random.default_rng(1)
    anchors = np.sort(rng.integers(0, WINDOW_FRAMES_MAX, HASHES_PER_BATCH_MAX))
    anchors[-1] = WINDOW_FRAMES_MAX - 1
    first_frame = ANCHOR_FRAME_LIMIT - WINDOW_FRAMES_MAX
    batch = HashBatch(
        batch_id=bytes(16),
        device_id="d" * 64,
        source_id="é" * 32,
        seq=2**64 - 1,
        fingerprint_version=2**16 - 1,
        window_start_ms=-(2**63),
        window_frames=WINDOW_FRAMES_MAX,
        clock_sync_state=ClockSyncState.UNKNOWN,
        clock_offset_ms=-(2**31),
        first_frame=first_frame,
        hashes=rng.integers(0, 2**32, HASHES_PER_BATCH_MAX, dtype=np.uint32),
        anchor_frames=(anchors + first_frame).astype(np.uint32),
    )
    payload = encode_batch(batch)
    assert len(payload) <= PAYLOAD_BYTES_MAX
    assert decode_batch(payload) == sorted_batch(batch)


def test_decoded_arrays_are_read_only() -> None:
    """A decoded batch is frozen all the way down: its arrays cannot be edited in place."""
    decoded = decode_batch(encode_batch(golden_batch()))
    with pytest.raises(ValueError):
        decoded.hashes[0] = 1
    with pytest.raises(ValueError):
        decoded.anchor_frames[0] = 1


def test_varints_known_bytes_and_round_trip() -> None:
    """LEB128 edge values encode to their textbook bytes and decode back."""
    values = np.array([0, 1, 127, 128, 300, 16383, 16384, 2**32 - 1], np.uint64)
    data = encode_varints(values)
    assert data.hex() == "00017f8001ac02ff7f808001ffffffff0f"
    assert np.array_equal(decode_varints(np.frombuffer(data, np.uint8)), values)


def test_batch_id_deterministic_and_distinct() -> None:
    """The same (device, source, seq) gives the same id; any change gives another."""
    first = make_batch_id("pi-01", "fm-101.5", 7)
    assert first == make_batch_id("pi-01", "fm-101.5", 7)
    assert len(first) == 16
    others = {
        make_batch_id("pi-01", "fm-101.5", 8),
        make_batch_id("pi-02", "fm-101.5", 7),
        make_batch_id("pi-01", "fm-101.6", 7),
        make_batch_id("pi-01f", "m-101.5", 7),  # same concatenation, different split
    }
    assert first not in others and len(others) == 4


def test_bytes_per_hash_at_realistic_density() -> None:
    """At 30 hashes/s with random frames an hour of batches costs at most 5.5 bytes per hash."""
    rng = np.random.default_rng(30)
    frames = int(3600 / 0.032)
    count = 30 * 3600
    fingerprints = Fingerprints(
        rng.integers(0, 2**21, count, dtype=np.uint32),
        rng.integers(0, frames, count).astype(np.uint32),
    )
    source = BatchSource("gh-accra-pi-0001", "station-0042-fm-101.5", 1, 1_700_000_000_000)
    out = batches_from_fingerprints(fingerprints, source=source, frame_end=frames)
    total_bytes = sum(len(encode_batch(b)) for b in out)
    assert total_bytes / count <= 5.5


# ---------------------------------------------------------------------------------------------
# Refusals


def test_bad_magic() -> None:
    """A payload that does not start with ZHB is refused as bad magic."""
    with pytest.raises(BadMagicError):
        decode_batch(b"XHB" + bytes.fromhex(GOLDEN_HEX)[3:])
    with pytest.raises(BadMagicError):
        decode_batch(b"{}")


def test_unknown_wire_version() -> None:
    """A payload of another wire version is refused by name, even with a valid checksum."""
    payload = bytearray(bytes.fromhex(GOLDEN_HEX))
    payload[3] = 1  # version 1 had no hash_bytes field; no agent sends it any more
    with pytest.raises(UnknownWireVersionError):
        decode_batch(reseal(bytes(payload)))


def test_every_truncation() -> None:
    """Every proper prefix of a valid payload, empty included, is refused as truncated."""
    payload = bytes.fromhex(GOLDEN_HEX)
    for size in range(len(payload)):
        with pytest.raises(TruncatedBatchError):
            decode_batch(payload[:size])


def test_trailing_bytes() -> None:
    """Bytes after the declared end are refused, not ignored."""
    with pytest.raises(TrailingBytesError):
        decode_batch(bytes.fromhex(GOLDEN_HEX) + b"\x00")


def test_every_corrupted_byte() -> None:
    """Flipping any byte after the length field is caught by the checksum."""
    payload = bytes.fromhex(GOLDEN_HEX)
    for index in range(8, len(payload)):
        corrupt = bytearray(payload)
        corrupt[index] ^= 0x40
        with pytest.raises(ChecksumMismatchError):
            decode_batch(bytes(corrupt))


def test_oversized() -> None:
    """A payload longer than payload_bytes_max is refused before anything is parsed."""
    payload = bytes.fromhex(GOLDEN_HEX)
    with pytest.raises(OversizedBatchError):
        decode_batch(payload, payload_bytes_max=len(payload) - 1)
    assert decode_batch(payload, payload_bytes_max=len(payload)) == sorted_batch(golden_batch())
    with pytest.raises(OversizedBatchError):
        decode_batch(b"ZHB\x02" + bytes(PAYLOAD_BYTES_MAX))


@pytest.mark.parametrize(
    "payload",
    [
        raw_payload(hash_count=HASHES_PER_BATCH_MAX + 1),
        raw_payload(window_frames=WINDOW_FRAMES_MAX + 1),
        raw_payload(device=b"d" * (ID_BYTES_MAX + 1)),
        raw_payload(source=b"s" * (ID_BYTES_MAX + 1)),
    ],
    ids=["hashes", "window_frames", "device_id", "source_id"],
)
def test_counts_beyond_limits(payload: bytes) -> None:
    """Counts and lengths beyond their *_max constants are refused as limit errors."""
    with pytest.raises(BatchLimitError):
        decode_batch(payload)


@pytest.mark.parametrize(
    "payload",
    [
        raw_payload(deltas=b"\x05\x00", hashes=(9, 4)),  # hashes fall within one anchor frame
        raw_payload(deltas=b"\x80\x80\x80\x80\x80\x00", hashes=(1,)),  # 6-byte varint
        raw_payload(deltas=b"\x81\x00", hashes=(1,)),  # non-canonical varint
        raw_payload(deltas=b"\xc0\x02", hashes=(1,)),  # delta 320 leaves a 320-frame window
        raw_payload(deltas=b"\xa0\x01\xa0\x01", hashes=(1, 2)),  # 160 + 160 = 320: past the end
        raw_payload(deltas=b"\x00\x81", hashes=(1, 2)),  # last varint cut short
        raw_payload(deltas=b"\x00\x00\x00", hashes=(1, 2)),  # three deltas for two hashes
        raw_payload(deltas=b"\x00", hashes=(1,), hash_count=5),  # hashes do not fit
        raw_payload(first_frame=ANCHOR_FRAME_LIMIT - 100, window_frames=320),  # uint32 overflow
        raw_payload(window_frames=0),
        raw_payload(sync=3),
        raw_payload(device=b""),
        raw_payload(device=b"\xff\xfe"),
    ],
    ids=[
        "hash_order",
        "varint_too_long",
        "varint_noncanonical",
        "delta_beyond_window",
        "anchor_beyond_window",
        "varint_cut",
        "extra_delta",
        "count_too_big",
        "anchor_overflow",
        "empty_window",
        "clock_state",
        "empty_device_id",
        "not_utf8",
    ],
)
def test_malformed_values(payload: bytes) -> None:
    """Checksummed payloads whose values are out of order, overflow or disagree are refused."""
    with pytest.raises(MalformedBatchError):
        decode_batch(payload)


def test_errors_carry_quarantine_reasons() -> None:
    """Every decode error class has a distinct stable reason tag for quarantine."""
    classes = [
        BadMagicError,
        UnknownWireVersionError,
        TruncatedBatchError,
        TrailingBytesError,
        OversizedBatchError,
        ChecksumMismatchError,
        BatchLimitError,
        MalformedBatchError,
    ]
    reasons = [cls.reason for cls in classes]
    assert all(issubclass(cls, BatchDecodeError) for cls in classes)
    assert len(set(reasons)) == len(reasons)


@pytest.mark.parametrize(
    "changes",
    [
        {"device_id": ""},
        {"source_id": "x" * 65},
        {"seq": -1},
        {"batch_id": bytes(15)},
        {"window_frames": 0},
        {"window_frames": WINDOW_FRAMES_MAX + 1},
        {"first_frame": ANCHOR_FRAME_LIMIT - 10},
        {"clock_offset_ms": 2**31},
        {"fingerprint_version": 2**16},
        {"clock_sync_state": 7},
        {"anchor_frames": np.array([640, 640, 641, 960], np.uint32)},
        {"anchor_frames": np.array([639, 640, 641, 900], np.uint32)},
        {"anchor_frames": np.array([640, 641], np.uint32)},
        {"hashes": np.array([-1, 2, 3, 4], np.int64)},
    ],
)
def test_encode_refuses_invalid_batches(changes: dict) -> None:
    """encode_batch names the field instead of writing bytes central would refuse."""
    with pytest.raises(BatchEncodeError):
        encode_batch(_replace(golden_batch(), **changes))


def test_encode_refuses_too_many_hashes() -> None:
    """More than HASHES_PER_BATCH_MAX hashes cannot be encoded."""
    count = HASHES_PER_BATCH_MAX + 1
    batch = _replace(
        golden_batch(),
        hashes=np.zeros(count, np.uint32),
        anchor_frames=np.full(count, 640, np.uint32),
    )
    with pytest.raises(BatchEncodeError):
        encode_batch(batch)


# ---------------------------------------------------------------------------------------------
# Windows


@settings(max_examples=150, deadline=None)
@given(
    window_frames=st.integers(1, 400),
    frame_start=st.integers(0, 5000),
    span_frames=st.integers(0, 3000),
    seq_first=st.integers(0, 2**40),
    seed=st.integers(0, 2**32 - 1),
)
def test_windows_partition_the_stream(
    window_frames: int, frame_start: int, span_frames: int, seq_first: int, seed: int
) -> None:
    """Windows are contiguous, seq grows by one, and every hash lands exactly once in its window."""
    rng = np.random.default_rng(seed)
    frame_end = frame_start + span_frames
    count = int(rng.integers(0, 2 * span_frames + 1))
    anchors = (
        rng.integers(frame_start, max(frame_end, frame_start + 1), count) if span_frames else []
    )
    fingerprints = Fingerprints(
        rng.integers(0, 2**32, len(anchors), dtype=np.uint32), np.asarray(anchors, np.uint32)
    )
    source = BatchSource("pi", "fm", 1, 1_000_000, ClockSyncState.SYNCED, 4)
    out = batches_from_fingerprints(
        fingerprints,
        window_frames,
        source=source,
        frame_end=frame_end,
        frame_start=frame_start,
        seq_first=seq_first,
    )
    _check_windows(out, fingerprints, window_frames, frame_start, frame_end, seq_first)


def _check_windows(
    out: list[HashBatch],
    fingerprints: Fingerprints,
    window_frames: int,
    frame_start: int,
    frame_end: int,
    seq_first: int,
) -> None:
    assert len(out) == -(-(frame_end - frame_start) // window_frames)
    position = frame_start
    for index, batch in enumerate(out):
        assert batch.first_frame == position and 1 <= batch.window_frames <= window_frames
        assert batch.seq == seq_first + index
        assert batch.batch_id == make_batch_id("pi", "fm", batch.seq)
        assert batch.window_start_ms == 1_000_000 + batch.first_frame * 32
        assert np.all(batch.anchor_frames >= position)
        assert np.all(batch.anchor_frames < position + batch.window_frames)
        assert decode_batch(encode_batch(batch)) == batch
        position += batch.window_frames
    assert position == frame_end
    got = sorted(zip(_concat(out, "anchor_frames"), _concat(out, "hashes"), strict=True))
    want = sorted(
        zip(fingerprints.anchor_frames.tolist(), fingerprints.hashes.tolist(), strict=True)
    )
    assert got == want


def _concat(out: list[HashBatch], name: str) -> list[int]:
    return [int(v) for b in out for v in getattr(b, name)]


def test_window_boundary_frames() -> None:
    """A hash on a window's first frame goes to that window, one on its last frame stays in it."""
    fingerprints = Fingerprints(
        np.array([1, 2, 3], np.uint32), np.array([319, 320, 639], np.uint32)
    )
    source = BatchSource("pi", "fm", 1, 0)
    out = batches_from_fingerprints(fingerprints, source=source, frame_end=700)
    assert [b.anchor_frames.tolist() for b in out] == [[319], [320, 639], []]
    assert [b.window_frames for b in out] == [WINDOW_FRAMES, WINDOW_FRAMES, 60]


def test_windows_refuse_hashes_outside_the_range() -> None:
    """A hash outside [frame_start, frame_end) is a caller bug, not silently dropped."""
    fingerprints = Fingerprints(np.array([1], np.uint32), np.array([700], np.uint32))
    with pytest.raises(ValueError):
        batches_from_fingerprints(fingerprints, source=BatchSource("p", "s", 1, 0), frame_end=700)


def test_frame_ms_matches_fingerprint() -> None:
    """The batch module's frame length agrees with the fingerprint's."""
    from edge_agent import fingerprint

    assert wire.FRAME_MS == fingerprint.FRAME_MS


# ---------------------------------------------------------------------------------------------
# Batch files


def test_batch_file_round_trip() -> None:
    """Payloads written to a batch file come back in order, byte for byte."""
    payloads = [encode_batch(golden_batch()), raw_payload(deltas=b"\x01", hashes=(3,))]
    stream = io.BytesIO()
    written = write_batch_file(stream, payloads)
    assert written == len(stream.getvalue()) == 5 + sum(4 + len(p) for p in payloads)
    stream.seek(0)
    assert list(read_batch_file(stream)) == payloads


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"ZHB",
        b"ZHBX\x01",
        b"ZHBS",
        b"ZHBS\x02",
        b"ZHBS\x01\x10",
        b"ZHBS\x01\x10\x00\x00\x00ab",
        b"ZHBS\x01\x00\x00\x00\x00",
        b"ZHBS\x01\xff\xff\xff\xff",
    ],
)
def test_batch_file_refusals(data: bytes) -> None:
    """Bad magic, unknown version, cut records and absurd lengths raise BatchFileError."""
    with pytest.raises(BatchFileError):
        list(read_batch_file(io.BytesIO(data)))


def test_payload_too_short_for_any_batch() -> None:
    """A self-consistent, checksummed payload with no room for the ids is malformed."""
    head = struct.pack("<3sBI16sQQqIIiHBB", b"ZHB", 2, 72, bytes(16), 0, 0, 0, 1, 0, 0, 1, 0, 3)
    with pytest.raises(MalformedBatchError):
        decode_batch(head + struct.pack("<Q", xxhash.xxh64_intdigest(head)))


def test_hash_width_follows_the_largest_hash() -> None:
    """21-bit hashes travel in 3 bytes; one hash of 2**24 or more makes the column 4 bytes wide."""
    narrow = encode_batch(golden_batch())
    assert narrow[63] == 3
    wide_batch = _replace(golden_batch(), hashes=np.array([0x1, 0xDD566, 1 << 24, 0xFFFFFFFF]))
    wide = encode_batch(wide_batch)
    assert wide[63] == 4 and len(wide) == len(narrow) + 4
    assert decode_batch(wide) == sorted_batch(wide_batch)


def test_unknown_hash_width_is_malformed() -> None:
    """A hash_bytes other than 3 or 4 is refused."""
    with pytest.raises(MalformedBatchError, match="hash_bytes"):
        decode_batch(raw_payload(deltas=b"\x00", hashes=(3,), hash_bytes=2))
