"""A source's worker: capture, fingerprint, cut windows, spool batches; restart on failure.

    capture (ffmpeg | sound card) -> StreamingFingerprinter -> WindowCutter -> HashBatch
        -> Spool (disk, before anything is sent) -> Uplink (MQTT, deleted on PUBACK)

A SourceWorker is a long-running thread with a stop event (Frigate's *Maintainer pattern). Each
time its capture opens it starts an epoch: a fresh fingerprinter whose frame 0 is mapped to the
source's running frame count and to a UTC time. When the capture fails, what was heard is flushed
into batches (the last window shorter), health reports the failure once, and the worker restarts
the capture after an exponential backoff with full jitter. Sequence numbers come from the spool,
so they keep growing across restarts of the worker and of the agent. Where a source's audio stops
is said with its last seq: source_ended at the end of a file, source_stopped when the agent
stops (after the last window is spooled).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from edge_agent.batch import (
    FRAME_MS,
    WINDOW_FRAMES,
    BatchSource,
    batches_from_fingerprints,
    encode_batch,
)
from edge_agent.capture import Capture, open_capture
from edge_agent.clock import ClockStatus, now_ms, read_clock_status
from edge_agent.errors import CaptureError, SourceEnded, SpoolError
from edge_agent.fingerprint import (
    FINGERPRINT_VERSION,
    QUERY,
    SAMPLE_RATE_HZ,
    Fingerprints,
    StreamingFingerprinter,
)
from edge_agent.health import HealthEvent, SourceMonitor, measure
from edge_agent.settings import AgentSettings, SourceSettings
from edge_agent.spool import Spool
from edge_agent.uplink import backoff_s, topic_for
from edge_agent.windows import Window, WindowCutter

logger = logging.getLogger(__name__)

READ_TIMEOUT_S = 0.5  # capture.read wakes this often to check for a stall or a stop
DRIFT_MS_MAX = 2000  # a live source's audio clock may wander this far from the wall clock
LIVE_KINDS = ("stream", "alsa", "soundcard")  # sources whose audio arrives in real time
RESTART_STABLE_S = 60.0  # an epoch that lasted this long resets the restart backoff


@dataclass
class Epoch:
    """One uninterrupted run of a capture: where its frame 0 sits in frames and in UTC ms."""

    frame_base: int
    start_ms: int

    def batch_source(self, device_id: str, source_id: str, clock: ClockStatus) -> BatchSource:
        """The BatchSource whose frame numbering and start time match this epoch."""
        return BatchSource(
            device_id=device_id,
            source_id=source_id,
            fingerprint_version=FINGERPRINT_VERSION,
            stream_start_ms=self.start_ms - self.frame_base * FRAME_MS,
            clock_sync_state=clock.sync_state,
            clock_offset_ms=clock.offset_ms,
        )


class SourceWorker(threading.Thread):
    """Captures one source, fingerprints it, and spools its batches; restarts it when it fails."""

    def __init__(
        self,
        source: SourceSettings,
        settings: AgentSettings,
        spool: Spool,
        on_event: Callable[[HealthEvent], None],
        on_batch: Callable[[], None],
        capture_factory: Callable[[SourceSettings], Capture] = open_capture,
    ) -> None:
        super().__init__(name=f"source-{source.source_id}", daemon=True)
        self.source = source
        self.settings = settings
        self.spool = spool
        self.topic = topic_for(str(source.station_id), settings.device_id, "batches")
        self._on_event = on_event
        self._on_batch = on_batch
        self._capture_factory = capture_factory
        self._stop_event = threading.Event()
        self._lock = threading.Lock()
        self._rng = random.Random()
        self.monitor = SourceMonitor(source.source_id, settings.health, now_ms())
        self.seq_next = spool.next_seq(source.source_id)
        self.frames_next = 0  # the next epoch's frames start at or after this
        self.batches_spooled = 0
        self.batches_lost = 0
        self._origin_ms: int | None = None  # UTC ms of the first epoch's frame 0

    def stop(self) -> None:
        """Finish the current epoch (its last window is spooled), raise source_stopped, end."""
        self._stop_event.set()

    def snapshot(self) -> dict[str, Any]:
        """This source's part of the heartbeat."""
        with self._lock:
            snap = self.monitor.snapshot()
        snap.update(
            kind=self.source.kind,
            seq_next=self.seq_next,
            batches_spooled=self.batches_spooled,
            batches_lost=self.batches_lost,
        )
        return snap

    def run(self) -> None:
        attempt = 0
        while not self._stop_event.is_set():
            started = time.monotonic()
            try:
                self._epoch(self._capture_factory(self.source))
            except SourceEnded:
                self._events(lambda m: m.on_end(now_ms(), self.seq_last()))
                logger.info("source %s: ended", self.source.source_id)
                return
            except CaptureError as error:
                self._failed(error.reason, error.detail)
            except Exception as error:  # keep the source alive whatever went wrong
                logger.exception("source %s: worker failed", self.source.source_id)
                self._failed("worker_error", repr(error))
            if self._stop_event.is_set():
                break
            attempt = 0 if time.monotonic() - started > RESTART_STABLE_S else attempt + 1
            health = self.settings.health
            delay = backoff_s(
                attempt, health.restart_backoff_s_min, health.restart_backoff_s_max, self._rng
            )
            self._stop_event.wait(delay)
            with self._lock:
                self.monitor.on_restart()
        self._events(lambda m: m.on_stop(now_ms(), self.seq_last()))  # the last epoch is spooled

    def seq_last(self) -> int | None:
        """The seq of the source's last spooled batch (this run or before), None if none ever."""
        return self.seq_next - 1 if self.seq_next > 0 else None

    def _failed(self, reason: str, detail: str) -> None:
        logger.warning("source %s: %s: %s", self.source.source_id, reason, detail)
        self._events(lambda m: m.on_down(reason, detail, now_ms()))

    def _epoch(self, capture: Capture) -> None:
        """Open the capture and fingerprint what it gives until it fails, ends or we stop."""
        engine = StreamingFingerprinter(QUERY)
        cutter = WindowCutter(WINDOW_FRAMES)
        epoch: Epoch | None = None
        try:
            capture.open()
            last_audio = time.monotonic()
            while not self._stop_event.is_set():
                samples = capture.read(READ_TIMEOUT_S)
                if samples is None or len(samples) == 0:
                    self._check_stall(last_audio)
                    continue
                last_audio = time.monotonic()
                arrived_ms = now_ms()
                if epoch is None:
                    epoch = self._begin_epoch(arrived_ms, len(samples))
                levels = measure(samples, self.settings.health.silence_dbfs)
                self._events(lambda m, lv=levels, at=arrived_ms: m.on_audio(lv, at))
                found = engine.feed(samples)
                self._track_drift(epoch, engine.frames_total, arrived_ms)
                self._spool(epoch, cutter.add(found, engine.final_until))
        finally:
            capture.close()
            if epoch is not None:
                self._end_epoch(epoch, engine, cutter)

    def _check_stall(self, last_audio: float) -> None:
        """No audio for stall_s: the stream is down even if ffmpeg has not noticed."""
        stall_s = self.settings.health.stall_s
        if time.monotonic() - last_audio > stall_s:
            raise CaptureError("stalled", f"no audio for {stall_s:g} s")

    def _begin_epoch(self, arrived_ms: int, sample_count: int) -> Epoch:
        """Frame 0 of this capture: the first chunk ended when it arrived (a file with start_ms:
        began then)."""
        start_ms = arrived_ms - round(1000 * sample_count / SAMPLE_RATE_HZ)
        if self.source.start_ms is not None:  # a recording: its own time, however fast it is read
            start_ms = self.source.start_ms
        frame_base = self.frames_next
        if self._origin_ms is None:
            self._origin_ms = start_ms
        elif self.source.kind in LIVE_KINDS:  # an outage leaves a gap in frames, as in time
            frame_base = max(frame_base, (start_ms - self._origin_ms) // FRAME_MS)
        return Epoch(frame_base, start_ms)

    def _track_drift(self, epoch: Epoch, frames_total: int, arrived_ms: int) -> None:
        """Live sources: follow the wall clock when the audio clock wanders off (or bursts)."""
        if self.source.kind not in LIVE_KINDS:
            return
        drift_ms = arrived_ms - (epoch.start_ms + frames_total * FRAME_MS)
        if abs(drift_ms) > DRIFT_MS_MAX:
            logger.info(
                "source %s: audio clock %+d ms off; re-anchored", self.source.source_id, -drift_ms
            )
            epoch.start_ms += drift_ms

    def _end_epoch(self, epoch: Epoch, engine: StreamingFingerprinter, cutter: WindowCutter):
        """Flush the fingerprinter: the rest of what was heard, the last window shorter."""
        windows = cutter.add(engine.flush(), engine.final_until)
        windows += cutter.finish(engine.frames_total)
        self._spool(epoch, windows)
        self.frames_next = epoch.frame_base + engine.frames_total

    def _spool(self, epoch: Epoch, windows: list[Window]) -> None:
        """Encode each window as a HashBatch with the next seq and write it to the spool."""
        if not windows:
            return
        source = epoch.batch_source(
            self.settings.device_id, self.source.source_id, read_clock_status()
        )
        for window in windows:
            payload = encode_batch(_batch(window, epoch.frame_base, source, self.seq_next))
            seq, self.seq_next = self.seq_next, self.seq_next + 1
            try:
                self.spool.put(
                    self.topic, payload, now_ms=now_ms(), source_id=self.source.source_id, seq=seq
                )
            except SpoolError as error:
                self.batches_lost += 1
                logger.error("source %s: batch %d lost: %s", self.source.source_id, seq, error)
                continue
            self.batches_spooled += 1
        self._on_batch()

    def _events(self, call: Callable[[SourceMonitor], list[HealthEvent]]) -> None:
        """Run a monitor method under the lock and hand its events on."""
        with self._lock:
            events = call(self.monitor)
        for event in events:
            self._on_event(event)


def _batch(window: Window, frame_base: int, source: BatchSource, seq: int):
    """The HashBatch of one window, its frames moved from epoch to source numbering."""
    moved = Fingerprints(
        window.fingerprints.hashes,
        (window.fingerprints.anchor_frames.astype(np.int64) + frame_base).astype(np.uint32),
    )
    first = frame_base + window.first_frame
    (batch,) = batches_from_fingerprints(
        moved,
        window.window_frames,
        source=source,
        frame_start=first,
        frame_end=first + window.window_frames,
        seq_first=seq,
    )
    return batch
