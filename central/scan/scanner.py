"""The stream-scan supervisor loop: one edge agent process per link, kept running, until stop().

Every refresh_s it reads the links from the database (new stations are scanned, removed stream
URLs stop their agent); every TICK_S it reaps exited agents and starts due ones; it writes the
status file every STATUS_S, or sooner when something changed. The decisions are
`supervisor.py`'s; this loop only does what they say. The agents need no database: when it is
unreachable, they keep running and the refresh is retried.
"""

from __future__ import annotations

import fcntl
import logging
import random
import threading
import time
from pathlib import Path
from typing import IO

from flask import Flask

from central.config import redact_url
from central.extensions import db
from central.files import write_private
from central.scan import agents, links, status, supervisor
from central.scan.agent_config import agent_broker, agent_toml
from central.scan.errors import ScanError
from central.scan.supervisor import Limits, Link, LinkSpec
from central.times import now_ms

logger = logging.getLogger(__name__)

TICK_S = 0.25
STOP_GRACE_S = 15.0  # SIGTERM, then SIGKILL: the agent spools its last window, says goodbye
STOP_WAIT_S_MAX = STOP_GRACE_S + 5.0  # at shutdown, give up on agents that outlive SIGKILL
ERROR_PAUSE_S = 5.0  # after an unexpected error in a step, before the next one
LOCK_FILE = "scan.lock"
AGENT_CONFIG = "agent.toml"
SPOOL_FILE = "spool.db"


def lock_state_dir(state_dir: Path) -> IO[str]:
    """Create `state_dir` (owner only: it holds passwords) and lock it for this supervisor;
    keep the returned file open for as long as the lock is needed."""
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    handle = (state_dir / LOCK_FILE).open("w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise ScanError(f"another `zamio scan` uses {state_dir}") from None
    return handle


class Scanner:
    """Runs and supervises one edge agent per stream link until stop()."""

    def __init__(
        self,
        app: Flask,
        state_dir: Path,
        limits: Limits,
        forced: tuple[str, ...] = (),
        refresh_s: float = 30.0,
        rng: random.Random | None = None,
    ) -> None:
        self.app = app
        self.state_dir = state_dir.resolve()
        self.limits = limits
        self.forced = forced
        self.refresh_s = refresh_s
        self.rng = rng or random.Random()
        settings = app.config["ZAMIO"]
        self.broker_url, self.protocol = agent_broker(settings.mqtt_url, settings.mqtt_bind)
        self.links: dict[str, Link] = {}
        self.agents: dict[str, agents.AgentProcess] = {}
        self.matches: dict[str, int] = {}
        self.problems: list[str] = []
        self._stop = threading.Event()
        self._changed = True
        self._started_ms = now_ms()

    def stop(self) -> None:
        """Ask the loop to stop its agents and return (safe from a signal handler)."""
        self._stop.set()

    def run(self) -> None:
        """Supervise until stop(), then stop every agent (SIGTERM, SIGKILL after the grace)."""
        self._reap_orphans()
        refresh_at_s = status_at_s = 0.0
        while not self._stop.is_set():
            now_s = time.monotonic()
            if now_s >= refresh_at_s:
                refresh_at_s = now_s + self.refresh_s
                self._guarded(self._refresh, now_s, "refresh the links from the database")
                self._guarded(self._refresh_matches, now_s, "read the last matches")
            self._guarded(self._tick, now_s, "supervise the agents")
            if self._changed or now_s >= status_at_s:
                status_at_s = now_s + status.STATUS_S
                self._write_status(now_s, stopped=False)
            self._stop.wait(TICK_S)
        self._shutdown()

    def _guarded(self, step, now_s: float, what: str) -> None:
        """Run one step; an unexpected error is logged and paused on, and the loop goes on."""
        try:
            step(now_s)
        except Exception:  # the top of the long-running loop: agents keep running
            logger.exception("scan: cannot %s; retrying", what)
            self._stop.wait(ERROR_PAUSE_S)

    # -- the database ------------------------------------------------------------------------

    def _refresh(self, now_s: float) -> None:
        """Read the wanted links; stop the agents of removed or changed ones."""
        with self.app.app_context():
            try:
                targets, problems = links.scan_targets(db.session, self.forced)
                specs = [self._prepare(target) for target in targets]
            finally:
                db.session.remove()
        for problem in sorted(set(problems) - set(self.problems)):
            logger.warning("scan: %s; not scanned", problem)
        self.problems = problems
        self.links, to_stop = supervisor.reconcile(self.links, specs, now_s)
        for code in to_stop:
            logger.info("station %s: stream link removed or changed; stopping its agent", code)
            self.agents[code].terminate(STOP_GRACE_S, now_s)
        self._changed = True

    def _refresh_matches(self, now_s: float) -> None:
        """Each link's last match, for the status file."""
        with self.app.app_context():
            try:
                self.matches = links.last_matches(db.session, list(self.links), now_ms())
            finally:
                db.session.remove()

    def _prepare(self, target: links.Target) -> LinkSpec:
        """The link of `target`, with its password file and agent config written."""
        password_file = links.ensure_password_file(db.session, target, self.state_dir)
        version = password_file.stat().st_mtime_ns
        spec = LinkSpec(target.station_code, target.device_code, target.stream_url, version)
        directory = self.state_dir / target.device_code
        directory.mkdir(mode=0o700, exist_ok=True)
        text = agent_toml(
            spec, self.broker_url, password_file, directory / SPOOL_FILE, self.protocol
        )
        path = directory / AGENT_CONFIG
        if not path.exists() or path.read_text() != text:
            write_private(path, text)
        return spec

    # -- the processes -----------------------------------------------------------------------

    def _tick(self, now_s: float) -> None:
        """Reap exited agents, kill overdue ones, note errors, start due ones."""
        before = dict(self.links)  # _reap and the errors change self.links in place
        self._reap(now_s)
        self._kill_overdue(now_s)
        for code, agent in self.agents.items():
            error = agent.take_error()
            if error is not None:
                self.links[code] = supervisor.with_error(self.links[code], *error)
        self.links = supervisor.promote(self.links, now_s, self.limits)
        self.links, due = supervisor.plan_starts(self.links, now_s, self.limits)
        for code in due:
            self._start(code, now_s)
        self._changed = self._changed or self.links != before

    def _start(self, code: str, now_s: float) -> None:
        """Start the agent of station `code`."""
        link = self.links[code]
        agent = agents.AgentProcess(code, self.state_dir / link.spec.device_code / AGENT_CONFIG)
        try:
            pid = agent.start()
        except OSError as error:
            logger.error("station %s: cannot start an agent: %s", code, error)
            ended = supervisor.on_exit(
                link, None, f"cannot start: {error}", now_s, self.limits, self.rng
            )
            assert ended is not None, "only a removed link is forgotten, and it has no process"
            self.links[code] = ended
            return
        self.agents[code] = agent
        self.links[code] = supervisor.on_started(link, pid, now_s, self.limits)
        device, url = link.spec.device_code, redact_url(link.spec.stream_url)
        logger.info("station %s: agent %s started, pid %d, %s", code, device, pid, url)

    def _reap(self, now_s: float) -> None:
        """Hand every exited agent to the supervisor's decisions."""
        for code, agent in list(self.agents.items()):
            exit_code = agent.poll()
            if exit_code is None:
                continue
            del self.agents[code]
            link = self.links[code]
            asked = link.stop_reason is not None
            error = None if asked else agent.exit_error(exit_code)
            ended = supervisor.on_exit(link, exit_code, error, now_s, self.limits, self.rng)
            if ended is None:
                del self.links[code]
            else:
                self.links[code] = ended
            self._log_exit(code, agent, exit_code, ended, asked, now_s)

    def _log_exit(
        self,
        code: str,
        agent: agents.AgentProcess,
        exit_code: int,
        ended: Link | None,
        asked: bool,
        now_s: float,
    ) -> None:
        """One line for a stop we asked for; the agent's last output for one we did not."""
        how = supervisor.describe_exit(exit_code)
        if asked or ended is None:
            logger.info("station %s: agent stopped (%s)", code, how)
            return
        if ended.state == supervisor.CONFIG_ERROR:
            then = "it refused its config; not restarted until the station changes, or in an hour"
        else:
            then = f"{ended.state}, restart in {ended.next_start_s - now_s:.1f} s"
        output = "\n".join(f"    {line}" for line in agent.tail()) or "    (none)"
        logger.warning("station %s: agent %s; %s; its last output:\n%s", code, how, then, output)

    def _kill_overdue(self, now_s: float) -> None:
        """SIGKILL agents that outlived their grace period after SIGTERM."""
        for code, agent in self.agents.items():
            if agent.kill_at_s is not None and now_s >= agent.kill_at_s:
                logger.warning("station %s: agent ignored SIGTERM; killing it", code)
                agent.kill()
                agent.kill_at_s = None

    def _shutdown(self) -> None:
        """Stop every agent at once; wait for them (SIGKILL after the grace period)."""
        now_s = time.monotonic()
        self.links, to_stop = supervisor.shutdown(self.links, now_s)
        for code in to_stop:
            self.agents[code].terminate(STOP_GRACE_S, now_s)
        logger.info("scan: stopping %d agent(s)", len(self.agents))
        deadline_s = now_s + STOP_WAIT_S_MAX
        while self.agents and time.monotonic() < deadline_s:
            time.sleep(0.1)
            self._reap(time.monotonic())
            self._kill_overdue(time.monotonic())
        if self.agents:
            logger.error("scan: agents of %s did not stop", ", ".join(sorted(self.agents)))
        self._write_status(time.monotonic(), stopped=True)
        logger.info("scan: stopped")

    def _reap_orphans(self) -> None:
        """Stop agents that a supervisor which died without stopping them left running."""
        previous = status.read_status(status.status_path(self.state_dir))
        if previous is None or previous.get("stopped_ms") is not None:
            return
        pids = [link["pid"] for link in previous["links"] if link.get("pid")]
        for pid in agents.reap_orphans(pids, self.state_dir, STOP_GRACE_S):
            logger.warning("scan: stopped agent pid %d left by a previous supervisor", pid)

    # -- the status file ---------------------------------------------------------------------

    def _write_status(self, now_s: float, stopped: bool) -> None:
        """Write the status file (an error is logged: the agents matter more)."""
        wall_offset_s = time.time() - time.monotonic()
        records = [
            status.link_record(
                link,
                self.agents[code].stream if code in self.agents else None,
                self.matches.get(code),
                self.limits,
                now_s,
                wall_offset_s,
            )
            for code, link in self.links.items()
        ]
        document = status.status_document(
            records, self.limits, self._started_ms, now_ms(), stopped, self.problems
        )
        try:
            status.write_status(status.status_path(self.state_dir), document)
        except OSError as error:
            logger.error("scan: cannot write the status file: %s", error)
        self._changed = False
