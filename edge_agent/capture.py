"""Audio in: ffmpeg (stream URL, file, ALSA device) or a sound card (sounddevice), as float32 mono.

A Capture is opened, read in chunks until it fails or ends, and closed; the worker (agent.py)
decides what to do next. `read` returns None when no audio came within the timeout, so the worker
can tell a stalled stream from a slow one. ffmpeg's stderr goes to a bounded buffer and is shown
only when ffmpeg dies (as Frigate does), so a flapping stream does not flood the journal.
"""

from __future__ import annotations

import collections
import os
import queue
import select
import subprocess
import threading
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from edge_agent.errors import CaptureError, SourceEnded
from edge_agent.fingerprint import SAMPLE_RATE_HZ
from edge_agent.settings import SourceSettings

FFMPEG = "ffmpeg"
READ_BYTES_MAX = 16384  # 1.02 s of s16le mono at 8 kHz per read
STDERR_LINES_MAX = 20
RW_TIMEOUT_US = 10_000_000  # ffmpeg gives up on a silent network socket after 10 s
TERMINATE_S = 3.0  # ffmpeg gets this long to exit on SIGTERM before SIGKILL
SOUNDCARD_RATES_HZ = (8000, 16000, 48000)  # tried in turn; the higher ones are decimated
SOUNDCARD_QUEUE_MAX = 64  # blocks of ~0.1 s held between the sound card and the worker


class Capture(Protocol):
    """A source of audio chunks."""

    def open(self) -> None: ...
    def read(self, timeout_s: float) -> np.ndarray | None: ...
    def close(self) -> None: ...


def ffmpeg_argv(source: SourceSettings) -> list[str]:
    """The ffmpeg command that writes the source as s16le mono at SAMPLE_RATE_HZ to stdout."""
    argv = [FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error"]
    if source.kind == "stream":
        if source.url and source.url.split(":", 1)[0] in ("http", "https", "tcp"):
            argv += ["-rw_timeout", str(RW_TIMEOUT_US)]
        argv += ["-i", str(source.url)]
    elif source.kind == "file":
        if source.readrate > 0:
            argv += ["-readrate", f"{source.readrate:g}"]
        if source.loop:
            argv += ["-stream_loop", "-1"]
        argv += ["-i", str(source.path)]
    elif source.kind == "alsa":
        argv += ["-f", "alsa", "-i", str(source.device)]
    else:
        raise ValueError(f"ffmpeg cannot capture a {source.kind} source")
    return argv + ["-vn", "-ac", "1", "-ar", str(SAMPLE_RATE_HZ), "-f", "s16le", "pipe:1"]


class FfmpegCapture:
    """ffmpeg as a child process; its stdout is the audio."""

    def __init__(self, argv: list[str], ends: bool) -> None:
        self.argv = argv
        self.ends = ends  # a file: exit status 0 is the end, not a failure
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: collections.deque[str] = collections.deque(maxlen=STDERR_LINES_MAX)
        self._carry = b""

    @property
    def pid(self) -> int | None:
        """ffmpeg's process id while it runs."""
        return self._process.pid if self._process else None

    def open(self) -> None:
        """Start ffmpeg."""
        try:
            self._process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except FileNotFoundError:
            raise CaptureError("no_ffmpeg", f"{FFMPEG} not found: install ffmpeg") from None
        threading.Thread(target=self._drain_stderr, daemon=True, name="ffmpeg-stderr").start()

    def read(self, timeout_s: float) -> np.ndarray | None:
        """The audio that arrived, None after `timeout_s` without any; raise when ffmpeg exits."""
        assert self._process is not None and self._process.stdout is not None
        stdout = self._process.stdout
        ready, _, _ = select.select([stdout], [], [], timeout_s)
        if not ready:
            return None
        data = os.read(stdout.fileno(), READ_BYTES_MAX)
        if not data:
            self._exited()
        data = self._carry + data
        usable = len(data) - len(data) % 2
        self._carry = data[usable:]
        return np.frombuffer(data[:usable], "<i2").astype(np.float32) / 32768.0

    def close(self) -> None:
        """Stop ffmpeg: SIGTERM, then SIGKILL if it lingers."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(TERMINATE_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()

    def stderr_tail(self) -> str:
        """ffmpeg's last lines of stderr, joined."""
        return " | ".join(self._stderr)

    def _exited(self) -> None:
        """stdout closed: the end of a file, or a failure with ffmpeg's own words."""
        assert self._process is not None
        code = self._process.wait()
        if code == 0 and self.ends:
            raise SourceEnded("end of file")
        tail = self.stderr_tail() or "no message"
        raise CaptureError("ffmpeg_exit", f"ffmpeg exited with status {code}: {tail}")

    def _drain_stderr(self) -> None:
        """Keep the last lines ffmpeg wrote; runs until ffmpeg closes stderr."""
        process = self._process
        if process is None or process.stderr is None:
            return
        try:
            for raw in process.stderr:
                line = raw.decode("utf-8", "replace").strip()
                if line:
                    self._stderr.append(line)
        except (OSError, ValueError):  # closed under us by close()
            return


class SoundcardCapture:
    """A sound card through PortAudio (sounddevice); `stream_factory` is sounddevice.InputStream."""

    def __init__(self, device: str | None, stream_factory: Callable[..., Any] | None = None):
        self.device = int(device) if device and device.isdigit() else device
        self._factory = stream_factory
        self._queue: queue.Queue[np.ndarray] = queue.Queue(SOUNDCARD_QUEUE_MAX)
        self._stream: Any = None
        self._decimate: Decimator | None = None
        self.overflows = 0

    def open(self) -> None:
        """Open the card at the first rate it accepts."""
        factory = self._factory or _sounddevice_input_stream()
        errors = []
        for rate_hz in SOUNDCARD_RATES_HZ:
            try:
                stream = factory(
                    device=self.device,
                    channels=1,
                    samplerate=rate_hz,
                    dtype="float32",
                    blocksize=rate_hz // 10,
                    callback=self._callback,
                )
            except Exception as error:  # PortAudio raises its own error types per host API
                errors.append(f"{rate_hz} Hz: {error}")
                continue
            self._decimate = Decimator(rate_hz // SAMPLE_RATE_HZ)
            self._stream = stream
            stream.start()
            return
        raise CaptureError("soundcard_open", "; ".join(errors))

    def read(self, timeout_s: float) -> np.ndarray | None:
        """The next block at SAMPLE_RATE_HZ, None after `timeout_s` without one."""
        try:
            block = self._queue.get(timeout=timeout_s)
        except queue.Empty:
            return None
        assert self._decimate is not None
        return self._decimate(block)

    def close(self) -> None:
        """Stop and close the card."""
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.stop()
            stream.close()

    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        """PortAudio's thread: hand the block over; never block the audio thread."""
        if status:
            self.overflows += 1
        try:
            self._queue.put_nowait(np.array(indata[:, 0], dtype=np.float32))
        except queue.Full:
            self.overflows += 1


def _sounddevice_input_stream() -> Callable[..., Any]:
    """sounddevice.InputStream, imported only when a sound card is used (it needs PortAudio)."""
    try:
        import sounddevice
    except (ImportError, OSError) as error:
        raise CaptureError("soundcard_open", f"sounddevice unavailable: {error}") from None
    return sounddevice.InputStream


class Decimator:
    """Integer-factor downsampling with a stateful anti-alias FIR, so block edges are seamless."""

    TAPS = 63

    def __init__(self, factor: int) -> None:
        from scipy import signal

        assert factor >= 1
        self.factor = factor
        self._phase = 0
        if factor > 1:
            self._taps = signal.firwin(self.TAPS, 0.9 / factor).astype(np.float32)
            self._state = np.zeros(self.TAPS - 1, np.float32)
            self._lfilter = signal.lfilter

    def __call__(self, block: np.ndarray) -> np.ndarray:
        """Filter and keep every factor-th sample, continuing across calls."""
        if self.factor == 1:
            return block
        filtered, self._state = self._lfilter(self._taps, 1.0, block, zi=self._state)
        out = filtered[self._phase :: self.factor]
        self._phase = (self._phase - len(block)) % self.factor
        return out.astype(np.float32)


def open_capture(source: SourceSettings) -> Capture:
    """The Capture for a configured source (not yet opened)."""
    if source.kind == "soundcard":
        return SoundcardCapture(source.device)
    return FfmpegCapture(ffmpeg_argv(source), ends=source.kind == "file" and not source.loop)
