"""What a source sounds like and whether it is alive: levels, dead air, clipping, stream down.

Pure: numpy only; every time is passed in as `now_ms`. A SourceMonitor turns what capture saw
(audio levels, a failure, the end of a file) into HealthEvents, each raised once when a condition
starts and once when it ends (the recovery), and into the snapshot the heartbeat carries.

    event kind       when
    stream_up        first audio after the source started or came back
    stream_down      the source failed: ffmpeg exited, no audio for stall_s, the device vanished
    source_ended     a file source reached its end; detail seq_last
    source_stopped   the agent was asked to stop (SIGTERM, Agent.stop); detail seq_last
    dead_air         silence (RMS of every 32 ms frame at or below silence_dbfs) for dead_air_s
    dead_air_end     audio again after dead air
    clipping         more than clipping_share_max of the samples of the last clipping_window_s
                     at full scale (|x| >= CLIP_LEVEL)
    clipping_end     the share fell to half of clipping_share_max (hysteresis, so it does not flap)

seq_last is the last seq the source used (its batch may have been lost if the spool refused
it), None if it never used one: no audio of this agent run follows it, so central can close a
play that ends in that batch at once.
"""

from __future__ import annotations

import collections
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge_agent.fingerprint import HOP_SAMPLES, SAMPLE_RATE_HZ
from edge_agent.settings import HealthSettings

CLIP_LEVEL = 0.99  # |sample| at or above this fraction of full scale counts as clipped
LEVEL_WINDOW_S = 10.0  # the heartbeat's level is the RMS over the last 10 s of audio
DBFS_FLOOR = -120.0  # digital silence is reported as this, not -inf (JSON has no -inf)


@dataclass(frozen=True)
class ChunkLevels:
    """Level measurements of one captured chunk."""

    samples: int
    energy: float  # sum of squares (full scale 1.0)
    silent_frames: int  # whole 32 ms frames at or below the silence threshold
    frames: int
    trailing_silent_samples: int  # silent samples at the end of the chunk (whole frames)
    clipped_samples: int

    @property
    def duration_ms(self) -> float:
        """Audio time the chunk covers."""
        return 1000.0 * self.samples / SAMPLE_RATE_HZ

    @property
    def all_silent(self) -> bool:
        """Every frame of the chunk is silent."""
        return self.frames > 0 and self.silent_frames == self.frames


def measure(samples: np.ndarray, silence_dbfs: float) -> ChunkLevels:
    """Energy, silent frames and clipped samples of mono float32 audio at SAMPLE_RATE_HZ."""
    x = np.asarray(samples, dtype=np.float32).reshape(-1)
    frames = len(x) // HOP_SAMPLES
    framed = x[: frames * HOP_SAMPLES].reshape(frames, HOP_SAMPLES).astype(np.float64)
    frame_power = np.mean(np.square(framed), axis=1)
    silent = frame_power <= 10.0 ** (silence_dbfs / 10.0)
    loud = np.flatnonzero(~silent)
    trailing_frames = frames if len(loud) == 0 else frames - 1 - int(loud[-1])
    return ChunkLevels(
        samples=len(x),
        energy=float(np.sum(np.square(x, dtype=np.float64))),
        silent_frames=int(np.count_nonzero(silent)),
        frames=frames,
        trailing_silent_samples=trailing_frames * HOP_SAMPLES,
        clipped_samples=int(np.count_nonzero(np.abs(x) >= CLIP_LEVEL)),
    )


def to_dbfs(energy: float, samples: int) -> float:
    """RMS level in dBFS of `samples` samples with this energy, floored at DBFS_FLOOR."""
    if samples <= 0 or energy <= 0.0:
        return DBFS_FLOOR
    return max(DBFS_FLOOR, 10.0 * math.log10(energy / samples))


@dataclass(frozen=True)
class HealthEvent:
    """A condition starting or ending on one source."""

    kind: str
    source_id: str
    at_ms: int
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self, device_id: str) -> bytes:
        """The event as the JSON published on the device's events topic."""
        body = {"kind": self.kind, "device_id": device_id, "source_id": self.source_id}
        body.update(at_ms=self.at_ms, detail=self.detail)
        return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


class _Window:
    """Sums of samples, energy, silent frames and clipped samples over the last `span_ms`."""

    def __init__(self, span_ms: float) -> None:
        self.span_ms = span_ms
        self._parts: collections.deque[ChunkLevels] = collections.deque()
        self.samples = self.energy = self.silent_frames = self.frames = self.clipped = 0.0
        self.duration_ms = 0.0

    def add(self, levels: ChunkLevels) -> None:
        self._parts.append(levels)
        self._shift(levels, +1)
        while self._parts and self.duration_ms - self._parts[0].duration_ms >= self.span_ms:
            self._shift(self._parts.popleft(), -1)

    def _shift(self, levels: ChunkLevels, sign: int) -> None:
        self.samples += sign * levels.samples
        self.energy += sign * levels.energy
        self.silent_frames += sign * levels.silent_frames
        self.frames += sign * levels.frames
        self.clipped += sign * levels.clipped_samples
        self.duration_ms += sign * levels.duration_ms

    @property
    def full(self) -> bool:
        return self.duration_ms >= self.span_ms

    def clipped_share(self) -> float:
        return self.clipped / self.samples if self.samples else 0.0


class SourceMonitor:
    """Health of one source, fed by its capture worker; raises each event once per condition."""

    def __init__(self, source_id: str, settings: HealthSettings, now_ms: int) -> None:
        self.source_id = source_id
        self.settings = settings
        self.state = "starting"
        self.since_ms = now_ms
        self.last_error: str | None = None
        self.restarts = 0
        self.dead_air = False
        self.clipping = False
        self._silence_ms = 0.0
        self._clip = _Window(1000.0 * settings.clipping_window_s)
        self._level = _Window(1000.0 * LEVEL_WINDOW_S)
        self._period = _Window(math.inf)  # since the last heartbeat
        self.last_audio_ms: int | None = None

    def on_audio(self, levels: ChunkLevels, now_ms: int) -> list[HealthEvent]:
        """Audio arrived: maybe stream_up, dead air or clipping starting or ending."""
        events = []
        if self.state != "up":
            events.append(self._event("stream_up", now_ms, previous=self.state))
            self._set_state("up", now_ms)
        self.last_audio_ms = now_ms
        for window in (self._clip, self._level, self._period):
            window.add(levels)
        events += self._track_silence(levels, now_ms)
        events += self._track_clipping(now_ms)
        return events

    def on_down(self, reason: str, detail: str, now_ms: int) -> list[HealthEvent]:
        """The source failed; stream_down once per outage, however many restarts fail."""
        self.last_error = f"{reason}: {detail}" if detail else reason
        if self.state == "down":
            return []
        events = self._end_conditions(now_ms)
        events.append(self._event("stream_down", now_ms, reason=reason, error=detail))
        self._set_state("down", now_ms)
        return events

    def on_restart(self) -> None:
        """The worker is about to open the source again."""
        self.restarts += 1

    def on_end(self, now_ms: int, seq_last: int | None) -> list[HealthEvent]:
        """A file source reached its end; `seq_last` its last seq (None: none ever)."""
        return self._finish("source_ended", "ended", now_ms, seq_last)

    def on_stop(self, now_ms: int, seq_last: int | None) -> list[HealthEvent]:
        """The worker stopped capturing because the agent stops; source_stopped once."""
        if self.state in ("ended", "stopped"):
            return []
        return self._finish("source_stopped", "stopped", now_ms, seq_last)

    def _finish(
        self, kind: str, state: str, now_ms: int, seq_last: int | None
    ) -> list[HealthEvent]:
        """The source's audio is over: open conditions end, then `kind` says after which seq."""
        events = self._end_conditions(now_ms)
        events.append(self._event(kind, now_ms, seq_last=seq_last))
        self._set_state(state, now_ms)
        return events

    def snapshot(self, reset_period: bool = True) -> dict[str, Any]:
        """This source's part of the heartbeat; shares cover the time since the last snapshot."""
        period = self._period
        frames, samples = period.frames, period.samples
        snap = {
            "state": self.state,
            "since_ms": self.since_ms,
            "level_dbfs": round(to_dbfs(self._level.energy, int(self._level.samples)), 1),
            "silence_share": round(period.silent_frames / frames, 4) if frames else None,
            "clipping_share": round(period.clipped_share(), 5) if samples else None,
            "dead_air": self.dead_air,
            "clipping": self.clipping,
            "restarts": self.restarts,
            "last_audio_ms": self.last_audio_ms,
            "last_error": self.last_error,
        }
        if reset_period:
            self._period = _Window(math.inf)
        return snap

    def _track_silence(self, levels: ChunkLevels, now_ms: int) -> list[HealthEvent]:
        if levels.frames == 0:  # a sliver shorter than a frame says nothing either way
            return []
        if levels.all_silent:
            self._silence_ms += levels.duration_ms
        else:
            self._silence_ms = 1000.0 * levels.trailing_silent_samples / SAMPLE_RATE_HZ
            if self.dead_air:
                self.dead_air = False
                return [self._event("dead_air_end", now_ms)]
        if not self.dead_air and self._silence_ms >= 1000.0 * self.settings.dead_air_s:
            self.dead_air = True
            return [self._event("dead_air", now_ms, silent_s=round(self._silence_ms / 1000.0, 1))]
        return []

    def _track_clipping(self, now_ms: int) -> list[HealthEvent]:
        share = self._clip.clipped_share()
        limit = self.settings.clipping_share_max
        if not self.clipping and self._clip.full and share > limit:
            self.clipping = True
            return [self._event("clipping", now_ms, share=round(share, 4))]
        if self.clipping and share <= limit / 2:
            self.clipping = False
            return [self._event("clipping_end", now_ms, share=round(share, 4))]
        return []

    def _end_conditions(self, now_ms: int) -> list[HealthEvent]:
        """Audio stopped: dead air and clipping can no longer be judged; close them."""
        events = []
        if self.dead_air:
            events.append(self._event("dead_air_end", now_ms, cause="audio stopped"))
        if self.clipping:
            events.append(self._event("clipping_end", now_ms, cause="audio stopped"))
        self.dead_air = self.clipping = False
        self._silence_ms = 0.0
        self._clip = _Window(self._clip.span_ms)
        return events

    def _set_state(self, state: str, now_ms: int) -> None:
        self.state = state
        self.since_ms = now_ms

    def _event(self, kind: str, now_ms: int, **detail: Any) -> HealthEvent:
        return HealthEvent(kind, self.source_id, now_ms, detail)
