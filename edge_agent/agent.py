"""The agent: the spool, the uplink, one worker per source, and the heartbeat that watches them.

The main thread supervises: every heartbeat_s it expires old spool messages and publishes the
retained status (capture state per source, spool depth and age, levels, clock, CPU, memory,
versions); on every health event it spools the event and republishes the status at once, so a
stream going down shows within seconds, not at the next heartbeat. Under systemd it reports
READY=1 and pings the watchdog only while every thread it depends on is alive, so a wedged agent
is restarted by systemd rather than left silent. Central's commands arrive through the uplink:
a resend makes the batches asked for pending again in the spool (from its delivered-journal) and
answers the seqs it no longer holds with one `resend_unavailable` event.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from edge_agent import systemd
from edge_agent.capture import Capture, open_capture
from edge_agent.clock import now_ms, read_clock_status
from edge_agent.commands import ResendCommand, missing_ranges, parse_command, unavailable_event
from edge_agent.errors import CommandError, SpoolError
from edge_agent.fingerprint import FINGERPRINT_VERSION
from edge_agent.health import HealthEvent
from edge_agent.settings import AgentSettings, SourceSettings
from edge_agent.spool import Spool
from edge_agent.uplink import Uplink, topic_for
from edge_agent.version import agent_version
from edge_agent.worker import SourceWorker

logger = logging.getLogger(__name__)

SUPERVISE_S = 1.0  # the main loop wakes this often (watchdog, done check, status on events)
# On shutdown, how long the uplink may take to publish what is left in the spool (the last
# windows and the stop events), so they do not wait on disk until the next start.
SHUTDOWN_DRAIN_S_MAX = 5.0
DRAIN_POLL_S = 0.05


class ProcessMeter:
    """CPU share and resident memory of this process and of its children (ffmpeg)."""

    def __init__(self) -> None:
        import psutil

        self._psutil = psutil
        self._this = psutil.Process()
        self._this.cpu_percent(None)
        self._children: dict[int, Any] = {}

    def read(self) -> dict[str, Any]:
        """Percent of one core since the last read, and RSS bytes, for the agent and capture."""
        children = {}
        for child in self._this.children(recursive=True):
            children[child.pid] = self._children.get(child.pid, child)
        self._children = children
        capture_cpu = capture_rss = 0.0
        for child in children.values():
            try:
                capture_cpu += child.cpu_percent(None)
                capture_rss += child.memory_info().rss
            except self._psutil.Error:
                continue
        return {
            "cpu_percent": round(self._this.cpu_percent(None), 2),
            "memory_rss_bytes": self._this.memory_info().rss,
            "capture_cpu_percent": round(capture_cpu, 2),
            "capture_rss_bytes": int(capture_rss),
        }


class Agent:
    """Runs the whole edge agent until stopped (or, with exit_when_done, until all is sent)."""

    def __init__(
        self,
        settings: AgentSettings,
        capture_factory: Callable[[SourceSettings], Capture] = open_capture,
    ) -> None:
        self.settings = settings
        self.spool = Spool(
            settings.spool.path,
            bytes_max=settings.spool.bytes_max,
            age_ms_max=int(1000 * settings.spool.age_s_max),
            disk_free_bytes_min=settings.spool.disk_free_bytes_min,
            journal_ms_max=int(1000 * settings.spool.journal_s_max),
            journal_bytes_max=settings.spool.journal_bytes_max,
        )
        self.events_topic = topic_for(settings.station_id, settings.device_id, "events")
        self.uplink = Uplink(
            settings.uplink,
            self.spool,
            device_id=settings.device_id,
            station_id=settings.station_id,
            on_command=self._on_command,
        )
        self._command_problems: set[str] = set()  # kinds already logged as warnings
        self.workers = [
            SourceWorker(
                s, settings, self.spool, self._on_event, self.uplink.notify, capture_factory
            )
            for s in settings.sources
        ]
        self._stop = threading.Event()
        self._status_due = threading.Event()
        self._meter = ProcessMeter()
        self._started_ms = now_ms()

    def stop(self) -> None:
        """Ask the agent to stop (safe from a signal handler)."""
        self._stop.set()

    def run(self, exit_when_done: bool = False) -> None:
        """Start everything, supervise until stopped, then stop everything in order."""
        logger.info(
            "agent %s: starting %d source(s), spool %s, broker %s:%d",
            self.settings.device_id,
            len(self.workers),
            self.spool.path,
            self.settings.uplink.host,
            self.settings.uplink.port,
        )
        self.uplink.set_status(self.status())
        self.uplink.start()
        for worker in self.workers:
            worker.start()
        systemd.notify("READY=1")
        try:
            self._supervise(exit_when_done)
        finally:
            self._shutdown()

    def _supervise(self, exit_when_done: bool) -> None:
        heartbeat_s = self.settings.uplink.heartbeat_s
        next_beat_s = time.monotonic() + heartbeat_s
        while not self._stop.wait(SUPERVISE_S):
            if self._healthy():
                systemd.notify("WATCHDOG=1")
            if time.monotonic() >= next_beat_s:
                next_beat_s = time.monotonic() + heartbeat_s
                self._expire()
                self._status_due.set()
            if self._status_due.is_set():
                self._status_due.clear()
                self.uplink.set_status(self.status())
            if exit_when_done and self._done():
                logger.info("agent %s: sources ended, spool empty", self.settings.device_id)
                return

    def _healthy(self) -> bool:
        """Every worker that should run runs, and so does the uplink."""
        ended = {w.source.source_id for w in self.workers if w.monitor.state == "ended"}
        workers_ok = all(w.is_alive() or w.source.source_id in ended for w in self.workers)
        return workers_ok and self.uplink.is_alive()

    def _done(self) -> bool:
        """All sources ended and nothing is left to send."""
        return all(not w.is_alive() for w in self.workers) and self.spool.is_empty()

    def _expire(self) -> None:
        dropped = self.spool.expire(now_ms())
        if dropped:
            logger.warning(
                "spool: dropped %d message(s) older than %g s",
                dropped,
                self.settings.spool.age_s_max,
            )

    def _shutdown(self) -> None:
        """Workers first (their last windows are spooled), then the spool is drained for a
        while, then the uplink says goodbye."""
        systemd.notify("STOPPING=1")
        for worker in self.workers:
            worker.stop()
        for worker in self.workers:
            worker.join(10.0)
        self._drain()
        self.uplink.stop()  # its goodbye replaces the retained status with offline
        self.spool.close()
        logger.info("agent %s: stopped", self.settings.device_id)

    def _drain(self) -> None:
        """Wait while connected until the spool is empty, at most SHUTDOWN_DRAIN_S_MAX."""
        self.uplink.notify()
        deadline = time.monotonic() + SHUTDOWN_DRAIN_S_MAX
        while self.uplink.is_connected() and time.monotonic() < deadline:
            try:
                if self.spool.is_empty():
                    return
            except SpoolError as error:
                logger.error("agent %s: spool unreadable: %s", self.settings.device_id, error)
                return
            time.sleep(DRAIN_POLL_S)

    def _on_event(self, event: HealthEvent) -> None:
        """A worker's health event: log it, spool it for central, republish the status soon."""
        log = (
            logger.warning if event.kind in ("stream_down", "dead_air", "clipping") else logger.info
        )
        log("source %s: %s %s", event.source_id, event.kind, event.detail or "")
        try:
            self.spool.put(
                self.events_topic, event.to_json(self.settings.device_id), now_ms=now_ms()
            )
        except SpoolError as error:
            logger.error("source %s: event %s not spooled: %s", event.source_id, event.kind, error)
        self.uplink.notify()
        self._status_due.set()

    def _on_command(self, payload: bytes) -> None:
        """A commands-topic payload (in the uplink thread): carry out a resend, log the rest."""
        try:
            command = parse_command(payload)
        except CommandError as error:
            first = error.kind not in self._command_problems
            self._command_problems.add(error.kind)
            (logger.warning if first else logger.debug)(
                "agent %s: command ignored: %s", self.settings.device_id, error
            )
            return
        try:
            self._resend(command)
        except SpoolError as error:
            logger.error("source %s: resend not done: %s", command.source_id, error)

    def _resend(self, command: ResendCommand) -> None:
        """Make the batches asked for pending again; report those not held in one event."""
        held = self.spool.repend(command.source_id, command.seq_from, command.seq_to)
        logger.info(
            "source %s: resend %s of seqs %d..%d: %d batch(es) queued again",
            command.source_id,
            command.request_id,
            command.seq_from,
            command.seq_to,
            len(held),
        )
        missing = missing_ranges(command.seq_from, command.seq_to, held)
        if missing:
            self._on_event(unavailable_event(command, missing, now_ms()))
        self.uplink.requeue()

    def status(self) -> dict[str, Any]:
        """The heartbeat: what the status topic carries."""
        spool = self.spool.stats()
        clock = read_clock_status()
        now = now_ms()
        return {
            "state": "online",
            "device_id": self.settings.device_id,
            "station_id": self.settings.station_id,
            "sent_ms": now,
            "started_ms": self._started_ms,
            "heartbeat_s": self.settings.uplink.heartbeat_s,  # central: stale after 2.5 of these
            "agent_version": agent_version(),
            "fingerprint_version": FINGERPRINT_VERSION,
            "sources": {w.source.source_id: w.snapshot() for w in self.workers},
            "spool": {
                "depth": spool.depth,
                "payload_bytes": spool.payload_bytes,
                "oldest_age_ms": spool.oldest_age_ms(now),
                "file_bytes": spool.file_bytes,
                "dropped_for_bytes": spool.dropped_for_bytes,
                "dropped_for_age": spool.dropped_for_age,
                "dropped_for_disk_full": spool.dropped_for_disk_full,
                "journal_depth": spool.journal_depth,
                "journal_bytes": spool.journal_bytes,
            },
            "uplink": self.uplink.snapshot(),
            "clock": {
                "sync_state": clock.sync_state.name.lower(),
                "offset_ms": clock.offset_ms,
                "esterror_ms": clock.esterror_ms,
            },
            **self._meter.read(),
        }
