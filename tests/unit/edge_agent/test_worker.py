"""A source worker: batches equal the file's, seq keeps growing, failures restart the capture."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from edge_agent.batch import BatchSource, batches_from_fingerprints, decode_batch
from edge_agent.errors import CaptureError, SourceEnded
from edge_agent.fingerprint import fingerprint_in_chunks
from edge_agent.health import HealthEvent
from edge_agent.settings import AgentSettings, HealthSettings, SourceSettings
from edge_agent.spool import Spool
from edge_agent.worker import SourceWorker
from tests.synth import chords

RATE = 8000


class ScriptedCapture:
    """Plays `audio` in 0.5 s chunks, then ends, fails, or goes quiet, as told."""

    def __init__(self, audio: np.ndarray, then: str) -> None:
        self.audio, self.then, self.at, self.opened = audio, then, 0, False

    def open(self) -> None:
        self.opened = True

    def read(self, timeout_s: float):
        if self.at < len(self.audio):
            chunk = self.audio[self.at : self.at + RATE // 2]
            self.at += len(chunk)
            return chunk
        if self.then == "end":
            raise SourceEnded("end of file")
        if self.then == "fail":
            raise CaptureError("ffmpeg_exit", "ffmpeg exited with status 1: Connection reset")
        threading.Event().wait(timeout_s)
        return None

    def close(self) -> None:
        self.opened = False


def settings_for(tmp_path: Path, kind: str = "file", **health) -> AgentSettings:
    source = SourceSettings("src", kind, path=tmp_path / "x.wav", station_id="st")
    if kind == "stream":
        source = SourceSettings("src", "stream", url="http://127.0.0.1/x", station_id="st")
    return AgentSettings(
        device_id="pi",
        station_id="st",
        sources=(source,),
        health=HealthSettings(restart_backoff_s_min=0.05, restart_backoff_s_max=0.1, **health),
    )


def run_worker(settings, spool, captures):
    events: list[HealthEvent] = []
    factory = iter(captures)
    worker = SourceWorker(
        settings.sources[0],
        settings,
        spool,
        events.append,
        lambda: None,
        capture_factory=lambda _source: next(factory),
    )
    return worker, events


def spooled_batches(spool: Spool):
    return [decode_batch(m.payload) for m in spool.pending(10_000)]


def test_worker_batches_equal_the_whole_file(tmp_path: Path) -> None:
    """Streaming through the worker gives the same hashes per window as the whole signal."""
    audio = chords(5, 35.0, sample_rate_hz=RATE)
    settings = settings_for(tmp_path)
    with Spool(tmp_path / "spool.db", bytes_max=10**8, age_ms_max=10**9) as spool:
        worker, events = run_worker(settings, spool, [ScriptedCapture(audio, "end")])
        worker.run()  # returns when the source ends
        batches = spooled_batches(spool)
        assert [m.topic for m in spool.pending(1)] == ["stations/st/devices/pi/batches"]
    source = BatchSource("pi", "src", 2, stream_start_ms=0)
    whole, frame_end = fingerprint_in_chunks(audio)
    expected = batches_from_fingerprints(whole, source=source, frame_end=frame_end)
    assert [b.seq for b in batches] == list(range(len(expected)))
    for got, want in zip(batches, expected):
        assert (got.first_frame, got.window_frames) == (want.first_frame, want.window_frames)
        assert np.array_equal(got.hashes, want.hashes)
        assert np.array_equal(got.anchor_frames, want.anchor_frames)
    assert [e.kind for e in events] == ["stream_up", "source_ended"]
    starts = [b.window_start_ms for b in batches]
    assert np.all(np.diff(starts) == 320 * 32)


def test_failure_flushes_restarts_and_seq_keeps_growing(tmp_path: Path) -> None:
    """A failed capture spools what it heard, reports down once, restarts; seq never repeats."""
    audio = chords(6, 12.0, sample_rate_hz=RATE)
    settings = settings_for(tmp_path, kind="stream")
    with Spool(tmp_path / "spool.db", bytes_max=10**8, age_ms_max=10**9) as spool:
        captures = [ScriptedCapture(audio, "fail"), ScriptedCapture(audio, "fail")]
        worker, events = run_worker(settings, spool, captures + [ScriptedCapture(audio, "end")])
        worker.run()
        batches = spooled_batches(spool)
        assert spool.next_seq("src") == len(batches)
    kinds = [e.kind for e in events]
    assert kinds == [
        "stream_up",
        "stream_down",
        "stream_up",
        "stream_down",
        "stream_up",
        "source_ended",
    ]
    assert [b.seq for b in batches] == list(range(len(batches)))
    assert len(batches) == 6  # each 12 s epoch: one full window and one short one
    firsts = [b.first_frame for b in batches]
    assert firsts == sorted(firsts) and len(set(firsts)) == len(firsts)
    assert worker.snapshot()["restarts"] == 2


def test_stall_is_stream_down(tmp_path: Path) -> None:
    """No audio for stall_s is a failure even when the capture itself says nothing."""
    audio = chords(7, 2.0, sample_rate_hz=RATE)
    settings = settings_for(tmp_path, kind="stream", stall_s=0.3)
    with Spool(tmp_path / "spool.db", bytes_max=10**8, age_ms_max=10**9) as spool:
        worker, events = run_worker(
            settings, spool, [ScriptedCapture(audio, "quiet"), ScriptedCapture(audio, "end")]
        )
        worker.run()
    down = [e for e in events if e.kind == "stream_down"]
    assert len(down) == 1 and down[0].detail["reason"] == "stalled"


def test_seq_continues_after_a_restart_of_the_agent(tmp_path: Path) -> None:
    """A new worker on the same spool continues the sequence where the last one stopped."""
    audio = chords(8, 11.0, sample_rate_hz=RATE)
    settings = settings_for(tmp_path)
    with Spool(tmp_path / "spool.db", bytes_max=10**8, age_ms_max=10**9) as spool:
        for _ in range(2):
            worker, _events = run_worker(settings, spool, [ScriptedCapture(audio, "end")])
            worker.run()
        assert [b.seq for b in spooled_batches(spool)] == [0, 1, 2, 3]


def test_source_ended_says_the_last_seq(tmp_path: Path) -> None:
    """The end of a file raises source_ended whose seq_last is the last spooled batch's seq."""
    audio = chords(9, 25.0, sample_rate_hz=RATE)
    with Spool(tmp_path / "spool.db", bytes_max=10**8, age_ms_max=10**9) as spool:
        worker, events = run_worker(settings_for(tmp_path), spool, [ScriptedCapture(audio, "end")])
        worker.run()
        seqs = [b.seq for b in spooled_batches(spool)]
    assert seqs == [0, 1, 2]
    assert (events[-1].kind, events[-1].detail) == ("source_ended", {"seq_last": 2})


def test_stop_spools_the_last_window_then_says_source_stopped(tmp_path: Path) -> None:
    """Stopping a worker flushes its epoch and raises source_stopped once with that batch's seq;
    a worker that spooled nothing in this run names the seq an earlier run left in the spool."""
    audio = chords(10, 15.0, sample_rate_hz=RATE)
    settings = settings_for(tmp_path, kind="stream")
    with Spool(tmp_path / "spool.db", bytes_max=10**8, age_ms_max=10**9) as spool:
        worker, events = run_worker(settings, spool, [ScriptedCapture(audio, "quiet")])
        worker.start()
        deadline = time.monotonic() + 10
        while not spooled_batches(spool) and time.monotonic() < deadline:
            time.sleep(0.02)  # the first full window is spooled: the capture is quiet now
        worker.stop()
        worker.join(10)
        seqs = [b.seq for b in spooled_batches(spool)]
        assert seqs == [0, 1]  # the short last window came with the stop
        assert [e.kind for e in events] == ["stream_up", "source_stopped"]
        assert events[-1].detail == {"seq_last": 1}
        again, later = run_worker(settings, spool, [ScriptedCapture(audio[:0], "quiet")])
        again.start()
        again.stop()
        again.join(10)
    assert [(e.kind, e.detail) for e in later] == [("source_stopped", {"seq_last": 1})]


def test_stop_before_any_batch_says_none(tmp_path: Path) -> None:
    """A source that never spooled a batch stops with seq_last None."""
    with Spool(tmp_path / "spool.db", bytes_max=10**8, age_ms_max=10**9) as spool:
        worker, events = run_worker(
            settings_for(tmp_path), spool, [ScriptedCapture(np.zeros(0, np.float32), "quiet")]
        )
        worker.start()
        worker.stop()
        worker.join(10)
    assert [(e.kind, e.detail) for e in events] == [("source_stopped", {"seq_last": None})]
