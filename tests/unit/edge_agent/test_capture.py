"""Capture: the ffmpeg command per source kind, real ffmpeg reads and failures, the sound card."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge_agent.capture import Decimator, FfmpegCapture, SoundcardCapture, ffmpeg_argv
from edge_agent.decode import decode_file
from edge_agent.errors import CaptureError, SourceEnded
from edge_agent.settings import SourceSettings
from tests.synth import chords, corrupt_file, write_wav


def read_all(capture, timeout_s: float = 5.0) -> np.ndarray:
    """Everything a capture gives until its source ends."""
    parts = []
    capture.open()
    try:
        while True:
            chunk = capture.read(timeout_s)
            assert chunk is not None, "no audio within the timeout"
            parts.append(chunk)
    except SourceEnded:
        return np.concatenate(parts)
    finally:
        capture.close()


def test_ffmpeg_argv_per_kind(tmp_path: Path) -> None:
    """Streams get a network timeout, files their read rate and loop, ALSA its device."""
    stream = ffmpeg_argv(SourceSettings("s", "stream", url="http://radio.example/live.mp3"))
    assert stream[stream.index("-rw_timeout") + 1] == "10000000"
    assert stream[stream.index("-i") + 1] == "http://radio.example/live.mp3"
    rtmp = ffmpeg_argv(SourceSettings("s", "stream", url="rtmp://radio.example/live"))
    assert "-rw_timeout" not in rtmp
    path = tmp_path / "a.wav"
    fast = ffmpeg_argv(SourceSettings("f", "file", path=path, readrate=0.0, loop=True))
    assert "-readrate" not in fast and fast[fast.index("-stream_loop") + 1] == "-1"
    slow = ffmpeg_argv(SourceSettings("f", "file", path=path, readrate=2.0))
    assert slow[slow.index("-readrate") + 1] == "2"
    alsa = ffmpeg_argv(SourceSettings("a", "alsa", device="hw:1,0"))
    assert alsa[alsa.index("-f") : alsa.index("-f") + 4] == ["-f", "alsa", "-i", "hw:1,0"]
    assert stream[-4:] == ["8000", "-f", "s16le", "pipe:1"]


def test_ffmpeg_capture_reads_a_file_exactly(tmp_path: Path) -> None:
    """A 16-bit file at 8 kHz arrives sample for sample as decode_file reads it, then ends."""
    path = write_wav(tmp_path / "a.wav", chords(1, 6.0, sample_rate_hz=8000), 8000)
    argv = ffmpeg_argv(SourceSettings("f", "file", path=path, readrate=0.0))
    captured = read_all(FfmpegCapture(argv, ends=True))
    assert np.array_equal(captured, decode_file(path))


def test_ffmpeg_failure_carries_its_message(tmp_path: Path) -> None:
    """A corrupt file is a CaptureError quoting ffmpeg, not an end of file."""
    path = corrupt_file(tmp_path / "bad.mp3", seed=1)
    capture = FfmpegCapture(ffmpeg_argv(SourceSettings("f", "file", path=path)), ends=True)
    with pytest.raises(CaptureError) as caught:
        read_all(capture)
    assert caught.value.reason == "ffmpeg_exit"
    assert "exited with status" in caught.value.detail and "bad.mp3" in caught.value.detail


def test_unreachable_stream_fails_fast() -> None:
    """A stream URL nobody serves fails with ffmpeg's reason instead of hanging."""
    argv = ffmpeg_argv(SourceSettings("s", "stream", url="http://127.0.0.1:9/live.mp3"))
    capture = FfmpegCapture(argv, ends=False)
    capture.open()
    try:
        with pytest.raises(CaptureError, match="Connection refused"):
            for _ in range(20):
                capture.read(1.0)
    finally:
        capture.close()


def test_missing_ffmpeg_is_a_clear_error() -> None:
    """No ffmpeg on PATH is reported as such."""
    with pytest.raises(CaptureError, match="ffmpeg not found"):
        FfmpegCapture(["ffmpeg-that-is-not-installed"], ends=True).open()


class FakeInputStream:
    """The sound card (hardware, so faked): accepts only some rates, then plays given blocks."""

    rates_hz = (48000,)
    signal: np.ndarray = np.zeros(0, np.float32)

    def __init__(self, *, device, channels, samplerate, dtype, blocksize, callback):
        if samplerate not in self.rates_hz:
            raise RuntimeError(f"Invalid sample rate {samplerate}")
        self.blocksize, self.callback, self.closed = blocksize, callback, False

    def start(self) -> None:
        for i in range(0, len(self.signal), self.blocksize):
            block = self.signal[i : i + self.blocksize].reshape(-1, 1)
            self.callback(block, len(block), None, None)

    def stop(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def test_soundcard_falls_back_to_a_supported_rate_and_decimates() -> None:
    """A card that only does 48 kHz is opened at 48 kHz and decimated to 8 kHz seamlessly."""
    t = np.arange(48000 * 2) / 48000
    FakeInputStream.signal = (0.5 * np.sin(2 * np.pi * 500 * t)).astype(np.float32)
    capture = SoundcardCapture("2", stream_factory=FakeInputStream)
    capture.open()
    parts = []
    while (chunk := capture.read(0.1)) is not None:
        parts.append(chunk)
    capture.close()
    got = np.concatenate(parts)
    assert len(got) == 16000
    expected = Decimator(6)(FakeInputStream.signal)  # the whole signal at once
    assert np.allclose(got, expected, atol=1e-6)
    assert capture.device == 2


def test_soundcard_that_opens_at_no_rate_is_an_error() -> None:
    """When every rate is refused the error lists each refusal."""
    FakeInputStream.rates_hz = ()
    try:
        with pytest.raises(CaptureError, match="8000 Hz: Invalid sample rate"):
            SoundcardCapture(None, stream_factory=FakeInputStream).open()
    finally:
        FakeInputStream.rates_hz = (48000,)
