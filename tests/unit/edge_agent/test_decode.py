"""Tests for edge_agent.decode: ffmpeg decoding and the checks that refuse unusable audio."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge_agent.decode import MIN_DURATION_S, check_audio, decode_file, rms_dbfs
from edge_agent.errors import DecodeError
from tests import synth


def test_decodes_to_mono_float32_at_the_requested_rate(tmp_path: Path) -> None:
    """A 22.05 kHz stereo WAV comes back as mono float32 at 8 kHz, the same length in time."""
    stereo = np.stack([synth.chords(1, 4.0), synth.chords(2, 4.0)], axis=1)
    path = synth.write_wav(tmp_path / "stereo.wav", stereo)
    samples = decode_file(path)
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert abs(samples.size - 4.0 * 8000) <= 8
    assert samples.flags.writeable


def test_decoded_signal_keeps_its_level(tmp_path: Path) -> None:
    """Decoding neither drops nor amplifies the signal: RMS within 1 dB of the source."""
    source = synth.chords(3, 5.0)
    samples = decode_file(synth.write_wav(tmp_path / "a.wav", source), sample_rate_hz=22050)
    assert abs(rms_dbfs(samples) - rms_dbfs(source)) < 1.0


def test_duration_s_max_truncates(tmp_path: Path) -> None:
    """duration_s_max bounds how much audio is decoded."""
    path = synth.chord_wav(tmp_path / "long.wav", seed=4, duration_s=10.0)
    samples = decode_file(path, sample_rate_hz=8000, duration_s_max=4.0)
    assert abs(samples.size - 4 * 8000) <= 8


def test_missing_file(tmp_path: Path) -> None:
    """A path that does not exist is reported as not found, naming the path."""
    with pytest.raises(DecodeError, match=r"nope\.wav: file not found"):
        decode_file(tmp_path / "nope.wav")


def test_corrupt_file_reports_ffmpeg_reason(tmp_path: Path) -> None:
    """Random bytes are reported as corrupt, with ffmpeg's own last line of complaint."""
    path = synth.corrupt_file(tmp_path / "noise.wav", seed=5)
    with pytest.raises(DecodeError, match="corrupt or undecodable: .*Invalid data") as caught:
        decode_file(path)
    assert str(path) in str(caught.value)


def test_ffmpeg_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ffmpeg on PATH the error says to install it."""
    path = synth.chord_wav(tmp_path / "a.wav", seed=6, duration_s=4.0)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(DecodeError, match="ffmpeg not found"):
        decode_file(path)


def test_empty_file(tmp_path: Path) -> None:
    """A valid WAV with no frames is reported as empty."""
    path = synth.write_wav(tmp_path / "empty.wav", np.zeros(0, np.float32))
    with pytest.raises(DecodeError, match="empty.wav: empty"):
        decode_file(path)


def test_too_short_file(tmp_path: Path) -> None:
    """A clip under MIN_DURATION_S is refused as too short."""
    path = synth.chord_wav(tmp_path / "short.wav", seed=7, duration_s=MIN_DURATION_S - 1.0)
    with pytest.raises(DecodeError, match="short.wav: too short: 2.00 s"):
        decode_file(path)


def test_silent_file(tmp_path: Path) -> None:
    """Digital silence is refused as silent."""
    with pytest.raises(DecodeError, match="silent.wav: silent: RMS -inf dBFS"):
        decode_file(synth.silent_wav(tmp_path / "silent.wav"))


def test_check_audio_accepts_quiet_music() -> None:
    """Music at -50 dBFS is quiet but not silent."""
    samples = synth.chords(8, 5.0, 8000)
    samples = samples * (10 ** (-50 / 20) / 10 ** (rms_dbfs(samples) / 20))
    check_audio(samples.astype(np.float32), 8000)


def test_check_audio_refuses_near_silence() -> None:
    """Hiss at -70 dBFS counts as silence."""
    samples = (10 ** (-70 / 20) * np.random.default_rng(9).standard_normal(5 * 8000)).astype(
        np.float32
    )
    with pytest.raises(DecodeError, match="silent: RMS -70"):
        check_audio(samples, 8000)


def test_check_audio_boundary_is_min_duration() -> None:
    """Exactly MIN_DURATION_S passes; one sample less does not."""
    samples = synth.chords(10, MIN_DURATION_S, 8000)
    check_audio(samples, 8000)
    with pytest.raises(DecodeError, match="too short"):
        check_audio(samples[:-1], 8000)
