"""Health: chunk levels; each condition raised once when it starts and once when it ends."""

from __future__ import annotations

import numpy as np

from edge_agent.health import DBFS_FLOOR, SourceMonitor, measure, to_dbfs
from edge_agent.settings import HealthSettings

RATE = 8000
SETTINGS = HealthSettings(
    dead_air_s=3.0, silence_dbfs=-50.0, clipping_share_max=0.01, clipping_window_s=2.0
)


def tone(seconds: float, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), np.float32)


def feed(monitor: SourceMonitor, audio: np.ndarray, start_ms: int, chunk_s: float = 0.5):
    """Feed audio in chunks; return the kinds of events raised and the time after."""
    kinds = []
    step = int(chunk_s * RATE)
    at = start_ms
    for i in range(0, len(audio), step):
        chunk = audio[i : i + step]
        at += int(1000 * len(chunk) / RATE)
        kinds += [e.kind for e in monitor.on_audio(measure(chunk, SETTINGS.silence_dbfs), at)]
    return kinds, at


def test_measure_levels() -> None:
    """A -10 dBFS sine measures about -13 dBFS RMS; silence is silent; full scale is clipped."""
    levels = measure(tone(1.0, amplitude=10 ** (-10 / 20)), -50.0)
    assert abs(to_dbfs(levels.energy, levels.samples) - (-13.0)) < 0.2
    assert levels.silent_frames == 0 and levels.clipped_samples == 0
    quiet = measure(silence(1.0), -50.0)
    assert quiet.all_silent and to_dbfs(quiet.energy, quiet.samples) == DBFS_FLOOR
    assert measure(np.ones(800, np.float32), -50.0).clipped_samples == 800


def test_dead_air_raised_once_and_cleared() -> None:
    """Silence longer than dead_air_s raises dead_air once; audio again raises dead_air_end."""
    monitor = SourceMonitor("fm", SETTINGS, now_ms=0)
    kinds, at = feed(monitor, tone(2.0), 0)
    assert kinds == ["stream_up"]
    kinds, at = feed(monitor, silence(2.5), at)
    assert kinds == []  # 2.5 s < 3 s
    kinds, at = feed(monitor, silence(5.0), at)
    assert kinds == ["dead_air"]
    assert monitor.snapshot()["dead_air"] is True
    kinds, _ = feed(monitor, tone(1.0), at)
    assert kinds == ["dead_air_end"]


def test_slivers_between_frames_do_not_end_dead_air() -> None:
    """Reads shorter than a 32 ms frame (a pipe gives what it has) neither start nor end it."""
    monitor = SourceMonitor("fm", SETTINGS, now_ms=0)
    _, at = feed(monitor, tone(1.0), 0)
    kinds = []
    for _ in range(10):  # 5 s of silence read as 0.5 s chunks and 100-sample slivers
        for part in (silence(0.5), silence(0.0125)):
            at += 500
            kinds += [e.kind for e in monitor.on_audio(measure(part, -50.0), at)]
    assert kinds == ["dead_air"]


def test_short_pauses_are_not_dead_air() -> None:
    """Pauses shorter than dead_air_s between bursts of audio never add up to dead air."""
    monitor = SourceMonitor("fm", SETTINGS, now_ms=0)
    audio = np.concatenate([np.concatenate([tone(0.5), silence(2.0)]) for _ in range(6)])
    kinds, _ = feed(monitor, audio, 0, chunk_s=0.3)
    assert kinds == ["stream_up"]


def test_clipping_with_hysteresis() -> None:
    """Clipping above the share raises clipping once; it ends only below half the share."""
    monitor = SourceMonitor("fm", SETTINGS, now_ms=0)
    loud = np.clip(tone(3.0, amplitude=1.5), -1.0, 1.0)  # most samples at full scale
    kinds, at = feed(monitor, loud, 0)
    assert kinds == ["stream_up", "clipping"]
    kinds, _ = feed(monitor, tone(3.0), at)
    assert kinds == ["clipping_end"]


def test_stream_down_once_per_outage() -> None:
    """Repeated failures while down raise one stream_down; the next audio raises stream_up."""
    monitor = SourceMonitor("fm", SETTINGS, now_ms=0)
    _, at = feed(monitor, tone(1.0), 0)
    kinds = [e.kind for e in monitor.on_down("ffmpeg_exit", "Connection refused", at)]
    assert kinds == ["stream_down"]
    for _ in range(3):
        monitor.on_restart()
        assert monitor.on_down("ffmpeg_exit", "Connection refused", at + 1000) == []
    snap = monitor.snapshot()
    assert snap["state"] == "down" and snap["restarts"] == 3
    assert "Connection refused" in snap["last_error"]
    kinds, _ = feed(monitor, tone(1.0), at + 5000)
    assert kinds == ["stream_up"]


def test_down_closes_open_conditions() -> None:
    """A stream that dies during dead air ends the dead air (with its cause), then goes down."""
    monitor = SourceMonitor("fm", SETTINGS, now_ms=0)
    _, at = feed(monitor, np.concatenate([tone(1.0), silence(4.0)]), 0)
    events = monitor.on_down("stalled", "no audio for 10 s", at)
    assert [e.kind for e in events] == ["dead_air_end", "stream_down"]
    assert events[0].detail == {"cause": "audio stopped"}


def test_event_json_and_snapshot_shares() -> None:
    """Events serialise to JSON with device and source; shares cover the last period only."""
    monitor = SourceMonitor("fm", SETTINGS, now_ms=0)
    (event,) = monitor.on_audio(measure(tone(1.0), -50.0), 1000)
    assert b'"kind":"stream_up"' in event.to_json("pi-01")
    monitor.on_audio(measure(silence(1.0), -50.0), 2000)
    assert monitor.snapshot()["silence_share"] == 0.5
    monitor.on_audio(measure(tone(1.0), -50.0), 3000)
    assert monitor.snapshot()["silence_share"] == 0.0


def test_end_and_stop_say_the_last_seq() -> None:
    """source_ended and source_stopped carry seq_last, None when no batch was ever spooled."""
    monitor = SourceMonitor("fm", SETTINGS, now_ms=0)
    _, at = feed(monitor, tone(1.0), 0)
    (ended,) = monitor.on_end(at, seq_last=41)
    assert (ended.kind, ended.detail, ended.at_ms) == ("source_ended", {"seq_last": 41}, at)
    assert b'"detail":{"seq_last":41}' in ended.to_json("pi-01")
    fresh = SourceMonitor("fm", SETTINGS, now_ms=0)
    (stopped,) = fresh.on_stop(5, seq_last=None)
    assert (stopped.kind, stopped.detail) == ("source_stopped", {"seq_last": None})
    assert fresh.snapshot()["state"] == "stopped"


def test_stop_is_raised_once_and_closes_open_conditions() -> None:
    """A stop during dead air ends the dead air, raises source_stopped once; an ended source
    raises no stop at all."""
    monitor = SourceMonitor("fm", SETTINGS, now_ms=0)
    _, at = feed(monitor, np.concatenate([tone(1.0), silence(4.0)]), 0)
    events = monitor.on_stop(at, seq_last=3)
    assert [e.kind for e in events] == ["dead_air_end", "source_stopped"]
    assert events[0].detail == {"cause": "audio stopped"}
    assert monitor.on_stop(at + 1000, seq_last=3) == []
    ended = SourceMonitor("fm", SETTINGS, now_ms=0)
    ended.on_end(0, seq_last=0)
    assert ended.on_stop(1000, seq_last=0) == []
