"""The streaming window cutter gives exactly the batches of the whole stream."""

from __future__ import annotations

import numpy as np
import pytest

from edge_agent.batch import BatchSource, batches_from_fingerprints
from edge_agent.fingerprint import QUERY, StreamingFingerprinter, fingerprint
from edge_agent.windows import WindowCutter
from tests.synth import chords

SOURCE = BatchSource("pi", "src", 2, stream_start_ms=0)


def _stream_windows(samples: np.ndarray, chunk_samples: int, window_frames: int):
    """Windows as a capture worker cuts them while streaming."""
    engine = StreamingFingerprinter(QUERY)
    cutter = WindowCutter(window_frames)
    windows = []
    for i in range(0, len(samples), chunk_samples):
        found = engine.feed(samples[i : i + chunk_samples])
        windows += cutter.add(found, engine.final_until)
    windows += cutter.add(engine.flush(), engine.final_until)
    return windows + cutter.finish(engine.frames_total), engine.frames_total


@pytest.mark.parametrize(("chunk_samples", "window_frames"), [(800, 320), (8000, 64), (24007, 100)])
def test_windows_equal_whole_stream_batches(chunk_samples: int, window_frames: int) -> None:
    """No hash is lost or duplicated at a window boundary, whatever the chunk size."""
    samples = chords(seed=3, duration_s=40.0, sample_rate_hz=8000)
    windows, frame_end = _stream_windows(samples, chunk_samples, window_frames)
    expected = batches_from_fingerprints(
        fingerprint(samples), window_frames, source=SOURCE, frame_end=frame_end
    )
    assert [(w.first_frame, w.window_frames) for w in windows] == [
        (b.first_frame, b.window_frames) for b in expected
    ]
    for window, batch in zip(windows, expected):
        order = np.lexsort((window.fingerprints.hashes, window.fingerprints.anchor_frames))
        assert np.array_equal(window.fingerprints.hashes[order], batch.hashes)
        assert np.array_equal(window.fingerprints.anchor_frames[order], batch.anchor_frames)


def test_windows_are_emitted_while_streaming() -> None:
    """A window leaves as soon as its hashes are final, not at the end of the stream."""
    samples = chords(seed=4, duration_s=30.0, sample_rate_hz=8000)
    engine = StreamingFingerprinter(QUERY)
    cutter = WindowCutter(320)
    emitted_at = []
    for i in range(0, len(samples), 8000):
        for window in cutter.add(engine.feed(samples[i : i + 8000]), engine.final_until):
            emitted_at.append((window.frame_end, engine.frames_total))
    assert len(emitted_at) == 2  # 30 s holds two whole 10.24 s windows
    for frame_end, seen in emitted_at:
        assert seen - frame_end < 100  # ~45 frames of look-ahead plus one 1 s chunk


def test_finish_emits_empty_and_short_windows() -> None:
    """Silence still produces windows (central learns the source was heard), the last shorter."""
    cutter = WindowCutter(100)
    windows = cutter.finish(250)
    assert [(w.first_frame, w.window_frames, len(w.fingerprints)) for w in windows] == [
        (0, 100, 0),
        (100, 100, 0),
        (200, 50, 0),
    ]
