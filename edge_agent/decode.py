"""Decode audio files to mono float32 with ffmpeg, and refuse what is not audio fit to fingerprint.

Only audio is audio: a file is first probed by ffprobe with only local files readable
(`-protocol_whitelist file`) and only the demuxers of real audio containers allowed
(`-format_whitelist`, AUDIO_DEMUXERS), so a playlist, an ffconcat script, an HLS manifest, an
image or a text file named `.mp3` is refused before anything is decoded, and never reads other
files. The probed duration must be at most `duration_s_max`; the decode is read from ffmpeg's
pipe in chunks and stopped once it passes that bound (a container may lie about its duration),
so memory never exceeds `duration_s_max x sample_rate_hz x 4` bytes.
"""

from __future__ import annotations

import json
import math
import subprocess
import tempfile
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import IO

import numpy as np

from edge_agent.errors import DecodeError

MIN_DURATION_S = 3.0  # shorter clips hold too few peaks to identify anything
SILENCE_DBFS_MAX = -60.0  # RMS at or below this (relative to full scale 1.0) counts as silence
TRACK_DURATION_S_MAX = 20 * 60.0  # a catalogue track (an import, an upload): 20 minutes at most
RECORDING_DURATION_S_MAX = 3 * 3600.0  # an offline recording (playlog, agent fingerprint): 3 h
FFMPEG = "ffmpeg"
FFPROBE = "ffprobe"
# ffmpeg demuxer names of audio containers; each as ffprobe reports it (the mov demuxer's name is
# "mov,mp4,m4a,3gp,3g2,mj2", matroska's "matroska,webm"). No playlist, concat, lavfi or image.
AUDIO_DEMUXERS = ("mp3", "flac", "wav", "w64", "ogg", "mov", "mp4", "m4a", "aac", "aiff", "asf",
                  "matroska", "webm", "caf")  # fmt: skip
PIPE_CHUNK_BYTES = 1 << 20  # read from ffmpeg's stdout a MiB at a time
STDERR_BYTES_MAX = 64 * 1024  # of ffmpeg's complaints, only the tail is kept
PROBE_TIMEOUT_S = 30.0
RMS_BLOCK_SAMPLES = 1 << 16


@dataclass(frozen=True)
class Probe:
    """What ffprobe says of a file: its container (demuxer name) and duration, if known."""

    format_name: str
    duration_s: float | None
    audio_streams: int


def decode_file(
    path: str | PathLike[str],
    sample_rate_hz: int = 8000,
    duration_s_max: float = RECORDING_DURATION_S_MAX,
) -> np.ndarray:
    """Decode the first audio stream of `path` to mono float32 at `sample_rate_hz`; DecodeError
    if it is not an audio container, lasts over `duration_s_max`, or is unfit (check_audio)."""
    assert sample_rate_hz > 0, sample_rate_hz
    assert duration_s_max > 0, duration_s_max
    path = Path(path)
    if not path.is_file():
        raise DecodeError(f"{path}: file not found")
    probe = probe_file(path)
    if probe.duration_s is not None and probe.duration_s > duration_s_max:
        raise DecodeError(
            f"{path}: too long: {probe.duration_s:.0f} s, at most {duration_s_max:g} s"
        )
    bytes_max = 4 * math.ceil(duration_s_max * sample_rate_hz)
    samples = _decode_bounded(path, probe, sample_rate_hz, bytes_max)
    try:
        check_audio(samples, sample_rate_hz)
    except DecodeError as error:
        raise DecodeError(f"{path}: {error}") from None
    return samples


def probe_file(path: Path) -> Probe:
    """The container and duration of `path`; DecodeError unless an audio container with audio."""
    entries = "format=format_name,duration:stream=codec_type"
    command = [FFPROBE, "-v", "error", *_input_options(), "-show_entries", entries,
               "-of", "json", "-i", str(path)]  # fmt: skip
    try:
        result = subprocess.run(command, capture_output=True, check=False, timeout=PROBE_TIMEOUT_S)
    except FileNotFoundError:
        raise DecodeError(f"{FFPROBE} not found: install ffmpeg and put it on PATH") from None
    except subprocess.TimeoutExpired:
        raise DecodeError(f"{path}: probing took over {PROBE_TIMEOUT_S:g} s") from None
    refused = [line for line in _lines(result.stderr) if "not on whitelist" in line]
    if refused:
        raise DecodeError(f"{path}: not audio: {_format_of(refused[0])} is no audio container")
    if result.returncode != 0:
        message = _last_line(result.stderr).removeprefix(f"{path}: ")
        raise DecodeError(f"{path}: corrupt or undecodable: {message}")
    return _parse_probe(path, result.stdout)


def _parse_probe(path: Path, output: bytes) -> Probe:
    """The Probe in ffprobe's JSON; DecodeError for a container outside AUDIO_DEMUXERS."""
    try:
        document = json.loads(output)
        found = document["format"]
        format_name = str(found["format_name"])
        streams = [s.get("codec_type") for s in document.get("streams", [])]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise DecodeError(f"{path}: corrupt or undecodable: ffprobe said nothing usable") from None
    if not set(format_name.split(",")) & set(AUDIO_DEMUXERS):
        raise DecodeError(f"{path}: not audio: {format_name} is no audio container")
    if "audio" not in streams:
        raise DecodeError(f"{path}: not audio: the {format_name} file has no audio stream")
    try:
        duration_s: float | None = float(found.get("duration"))
    except (TypeError, ValueError):
        duration_s = None
    return Probe(format_name, duration_s, streams.count("audio"))


def _input_options() -> list[str]:
    """ffmpeg/ffprobe input options: local files only, audio container demuxers only."""
    return ["-protocol_whitelist", "file", "-format_whitelist", ",".join(AUDIO_DEMUXERS)]


def _format_of(message: str) -> str:
    """The demuxer named in ffmpeg's 'Format not on whitelist' line, e.g. 'concat'."""
    if message.startswith("[") and " @ " in message:
        return message[1 : message.index(" @ ")]
    return "the file"


def _decode_bounded(path: Path, probe: Probe, sample_rate_hz: int, bytes_max: int) -> np.ndarray:
    """Decode with ffmpeg, reading its pipe in chunks; DecodeError once past `bytes_max`."""
    command = [FFMPEG, "-nostdin", "-v", "error", *_input_options(),
               "-f", probe.format_name.split(",")[0], "-i", str(path), "-map", "0:a:0",
               "-ac", "1", "-ar", str(sample_rate_hz), "-f", "f32le", "-"]  # fmt: skip
    with tempfile.TemporaryFile() as stderr:
        try:
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr)
        except FileNotFoundError:
            raise DecodeError(f"{FFMPEG} not found: install ffmpeg and put it on PATH") from None
        assert process.stdout is not None
        with process:
            pcm = _read_at_most(process.stdout, bytes_max)
            if pcm is None:
                process.kill()
            returncode = process.wait()
        if pcm is None:
            duration_s_max = bytes_max / 4 / sample_rate_hz
            raise DecodeError(f"{path}: too long: over {duration_s_max:g} s of audio")
        if returncode != 0:
            raise DecodeError(f"{path}: corrupt or undecodable: {_last_line(_tail(stderr))}")
    usable = len(pcm) - len(pcm) % 4
    return np.frombuffer(pcm, dtype="<f4", count=usable // 4).astype(np.float32, copy=False)


def _read_at_most(stream: IO[bytes], bytes_max: int) -> bytearray | None:
    """Everything `stream` yields, or None as soon as it passes `bytes_max` bytes."""
    pcm = bytearray()
    while chunk := stream.read(PIPE_CHUNK_BYTES):
        if len(pcm) + len(chunk) > bytes_max:
            return None
        pcm += chunk
    return pcm


def _tail(stderr: IO[bytes]) -> bytes:
    """The last STDERR_BYTES_MAX bytes written to `stderr`."""
    size = stderr.seek(0, 2)
    stderr.seek(max(0, size - STDERR_BYTES_MAX))
    return stderr.read()


def check_audio(samples: np.ndarray, sample_rate_hz: int) -> None:
    """Raise DecodeError if `samples` are empty, shorter than MIN_DURATION_S, or silent."""
    if samples.size == 0:
        raise DecodeError("empty: no audio samples")
    duration_s = samples.size / sample_rate_hz
    if duration_s < MIN_DURATION_S:
        raise DecodeError(f"too short: {duration_s:.2f} s, need at least {MIN_DURATION_S:g} s")
    level_dbfs = rms_dbfs(samples)
    if level_dbfs <= SILENCE_DBFS_MAX:
        raise DecodeError(f"silent: RMS {level_dbfs:.1f} dBFS, need above {SILENCE_DBFS_MAX:g}")


def rms_dbfs(samples: np.ndarray) -> float:
    """Root-mean-square level in dB relative to full scale (1.0); -inf for digital silence."""
    if samples.size == 0:
        return -math.inf
    # in blocks: a float64 copy of a 20-minute track would double the decode's memory
    block = RMS_BLOCK_SAMPLES
    energy = sum(
        float(np.sum(np.square(samples[i : i + block], dtype=np.float64)))
        for i in range(0, samples.size, block)
    )
    rms = math.sqrt(energy / samples.size)
    return 20.0 * math.log10(rms) if rms > 0.0 else -math.inf


def _lines(stderr: bytes) -> list[str]:
    """The non-empty lines ffmpeg or ffprobe wrote to stderr."""
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines()]
    return [line for line in lines if line]


def _last_line(stderr: bytes) -> str:
    """The last non-empty line ffmpeg wrote to stderr, or a placeholder when it wrote nothing."""
    lines = _lines(stderr)
    return lines[-1] if lines else "ffmpeg failed without a message"
