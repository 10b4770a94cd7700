"""Tests for edge_agent.decode: ffmpeg decoding and the checks that refuse unusable audio."""

from __future__ import annotations

import io
import subprocess
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from edge_agent.decode import (
    MIN_DURATION_S,
    PIPE_CHUNK_BYTES,
    TRACK_DURATION_S_MAX,
    _read_at_most,
    check_audio,
    decode_file,
    probe_file,
    rms_dbfs,
)
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


def test_duration_s_max_refuses_longer_audio(tmp_path: Path) -> None:
    """A file whose probed duration passes duration_s_max is refused before it is decoded."""
    path = synth.chord_wav(tmp_path / "long.wav", seed=4, duration_s=10.0)
    with pytest.raises(DecodeError, match=r"long\.wav: too long: 10 s, at most 4 s"):
        decode_file(path, sample_rate_hz=8000, duration_s_max=4.0)
    assert decode_file(path, duration_s_max=10.5).size == 10 * 8000


def test_track_duration_bound_is_twenty_minutes() -> None:
    """The catalogue's bound on a track is the documented 20 minutes."""
    assert TRACK_DURATION_S_MAX == 1200.0


def test_read_at_most_stops_past_the_bound() -> None:
    """A pipe that yields more than the bound is abandoned (None), not read to its end."""
    assert _read_at_most(io.BytesIO(b"x" * 100), 100) == bytearray(b"x" * 100)
    assert _read_at_most(io.BytesIO(b"x" * 101), 100) is None


def test_decode_memory_stays_near_the_pcm_size(tmp_path: Path) -> None:
    """Decoding 60 s allocates about the 60 s of float32 PCM, not the bound nor a copy of it."""
    path = synth.chord_wav(tmp_path / "a.wav", seed=11, duration_s=60.0)
    tracemalloc.start()
    try:
        samples = decode_file(path, duration_s_max=TRACK_DURATION_S_MAX)
        _, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert samples.nbytes == 60 * 8000 * 4
    assert peak_bytes < 1.3 * samples.nbytes + 2 * PIPE_CHUNK_BYTES


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def test_ffconcat_script_named_mp3_is_not_audio(tmp_path: Path) -> None:
    """An ffconcat text file named .mp3 that points at real audio is refused as no container."""
    song = synth.chord_wav(tmp_path / "song.wav", seed=12, duration_s=5.0)
    script = tmp_path / "hour.mp3"
    script.write_text("ffconcat version 1.0\n" + f"file '{song}'\n" * 720, encoding="utf-8")
    with pytest.raises(DecodeError, match=r"hour\.mp3: not audio: concat is no audio container"):
        decode_file(script)


def test_playlists_images_and_text_are_not_audio(tmp_path: Path) -> None:
    """An HLS playlist, a PNG and plain text named .mp3 are all refused before decoding."""
    song = synth.chord_wav(tmp_path / "song.wav", seed=13, duration_s=5.0)
    hls = tmp_path / "hls.mp3"
    hls.write_text("#EXTM3U\n#EXT-X-TARGETDURATION:5\n#EXTINF:5,\n" + f"{song}\n#EXT-X-ENDLIST\n")
    png = tmp_path / "cover.mp3"
    _ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=d=1",
        "-frames:v",
        "1",
        "-c:v",
        "png",
        "-f",
        "image2",
        str(png),
    )
    text = tmp_path / "notes.mp3"
    text.write_text("hello, this is not music\n" * 50)
    with pytest.raises(DecodeError, match="hls.mp3: not audio: hls is no audio container"):
        decode_file(hls)
    with pytest.raises(DecodeError, match="cover.mp3: not audio: png_pipe is no audio"):
        decode_file(png)
    with pytest.raises(DecodeError, match="notes.mp3: corrupt or undecodable"):
        decode_file(text)


@pytest.mark.parametrize(
    ("suffix", "codec", "container"),
    [("flac", "flac", "flac"), ("mp3", "libmp3lame", "mp3"), ("ogg", "libvorbis", "ogg"),
     ("opus", "libopus", "ogg"), ("m4a", "aac", "mov,mp4,m4a,3gp,3g2,mj2"),
     ("aiff", "pcm_s16be", "aiff"), ("wma", "wmav2", "asf")],
)  # fmt: skip
def test_audio_containers_decode(tmp_path: Path, suffix: str, codec: str, container: str) -> None:
    """Each allowed audio container is probed as itself and decodes to about its duration."""
    source = synth.chord_wav(tmp_path / "song.wav", seed=14, duration_s=5.0)
    path = tmp_path / f"song.{suffix}"
    _ffmpeg("-i", str(source), "-c:a", codec, str(path))
    assert probe_file(path).format_name == container
    assert abs(decode_file(path).size / 8000 - 5.0) < 0.1


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
    with pytest.raises(DecodeError, match="ffprobe not found: install ffmpeg"):
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
