"""The fingerprint core: frozen hashes, streaming equals whole, bounded density and memory."""

from __future__ import annotations

import numpy as np
import pytest
import xxhash

from edge_agent import fingerprint as fp
from tests.synth import chords


def music(seed: int, duration_s: float) -> np.ndarray:
    """Seeded chord music at the fingerprint's sample rate."""
    return chords(seed, duration_s, sample_rate_hz=fp.SAMPLE_RATE_HZ)


def digest(prints: fp.Fingerprints) -> str:
    """One short string for a whole set of hashes and anchor frames."""
    h = xxhash.xxh64(prints.hashes.astype("<u4").tobytes())
    h.update(prints.anchor_frames.astype("<u4").tobytes())
    return h.hexdigest()


# Golden vectors: these change only with the hashes, and then FINGERPRINT_VERSION must change too.
GOLDEN_VERSION = 2
GOLDEN_QUERY = (262, "4dbb600afa4b5c3d")
GOLDEN_REFERENCE = (460, "7ae180bc9489cd8c")


def test_golden_vectors_freeze_the_hashes() -> None:
    """A change of hashes fails here until FINGERPRINT_VERSION and these vectors are bumped."""
    samples = music(seed=7, duration_s=12.0)
    query = fp.fingerprint(samples, fp.QUERY)
    reference = fp.fingerprint(samples, fp.REFERENCE)
    assert fp.FINGERPRINT_VERSION == GOLDEN_VERSION
    assert (len(query), digest(query)) == GOLDEN_QUERY
    assert (len(reference), digest(reference)) == GOLDEN_REFERENCE


def test_worked_example_in_the_docstring() -> None:
    """The hash layout's worked example packs to the value the docstring states."""
    h = fp.encode_hash(
        np.array([40.2]), np.array([5.4]), np.array([-3.1]), np.array([8.0]), np.array([20.0])
    )
    assert int(h[0]) == 0x000DD566
    assert int(h[0]) < (1 << fp.HASH_BITS)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_chunks_of_any_size_give_exactly_the_whole_signal_hashes(seed: int) -> None:
    """Streaming in random chunk sizes (1 sample to 3 s) yields the whole-signal hashes."""
    samples = music(seed, 20.0)
    whole = fp.fingerprint(samples, fp.QUERY)
    rng = np.random.default_rng(seed)
    engine = fp.StreamingFingerprinter(fp.QUERY)
    parts, i = [], 0
    while i < len(samples):
        n = int(rng.choice([1, 7, 255, 256, 1023, 4000, 24000]))
        parts.append(engine.feed(samples[i : i + n]))
        i += n
    parts.append(engine.flush())
    streamed = fp.Fingerprints.concat(parts)
    assert len(whole) > 100
    assert np.array_equal(whole.hashes, streamed.hashes)
    assert np.array_equal(whole.anchor_frames, streamed.anchor_frames)


def test_query_hashes_are_a_subset_of_reference_hashes() -> None:
    """The edge's sparse set is contained in the catalogue's denser set for the same audio."""
    samples = music(4, 15.0)
    query = fp.fingerprint(samples, fp.QUERY)
    reference = fp.fingerprint(samples, fp.REFERENCE)
    ref_pairs = set(zip(reference.hashes.tolist(), reference.anchor_frames.tolist(), strict=True))
    q_pairs = set(zip(query.hashes.tolist(), query.anchor_frames.tolist(), strict=True))
    assert q_pairs <= ref_pairs
    assert len(reference) > len(query)


def test_memory_stays_bounded_over_a_long_stream() -> None:
    """After ten minutes of audio the engine holds only a few seconds of state."""
    engine = fp.StreamingFingerprinter(fp.QUERY)
    block = music(5, 10.0)
    for _ in range(60):
        engine.feed(block)
    assert engine._spec.shape[0] < 64
    assert engine._power.shape[0] < 4
    assert len(engine._peaks) < 200
    assert len(engine._candidates) < 400
    assert len(engine._samples) < fp.FFT_SAMPLES


def test_density_is_bounded() -> None:
    """Hashes per second stay near 25 for the edge, whatever the music's busyness."""
    samples = music(6, 30.0)
    per_s = len(fp.fingerprint(samples, fp.QUERY)) / 30.0
    assert 10 <= per_s <= 40


def test_silence_and_short_input_give_no_hashes() -> None:
    """Digital silence and inputs shorter than one frame give nothing and do not fail."""
    assert len(fp.fingerprint(np.zeros(8000 * 5, np.float32))) == 0
    assert len(fp.fingerprint(np.zeros(100, np.float32))) == 0
    assert len(fp.fingerprint(np.zeros(0, np.float32))) == 0


def test_anchor_frames_are_absolute_and_ordered() -> None:
    """Anchor frames never decrease and lie inside the signal."""
    samples = music(8, 12.0)
    prints = fp.fingerprint(samples)
    frames = prints.anchor_frames.astype(np.int64)
    assert np.all(np.diff(frames) >= 0)
    assert frames.max() < fp.frame_count_for(len(samples))


def test_feed_after_flush_is_a_programming_error() -> None:
    """A spent fingerprinter refuses more audio."""
    engine = fp.StreamingFingerprinter()
    engine.flush()
    with pytest.raises(AssertionError):
        engine.feed(np.zeros(10, np.float32))
