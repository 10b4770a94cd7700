"""The decisions of the stream-scan supervisor (pure): which agents start, when a dead one restarts.

The shell (`scanner.py`) tells it what happened, with the time in monotonic seconds: the wanted
links (from the database), an agent started, an agent exited, a line of error output. It returns
new `Link` values and what to do; it never reads the clock or touches a process.

    state         meaning
    waiting       due to start, but --max-agents agents run already (or not started yet)
    starting      the agent process runs, for less than start_grace_s
    running       the agent process runs
    backoff       the agent exited; it restarts at next_start_s (exponential, full jitter)
    failing       restarted restarts_per_hour_max times within the hour; waits for the hour to pass
    config_error  the agent exited 2 (it refused its config): not restarted blindly, only when the
                  link changes or after config_retry_s
    stopping      asked to stop (link removed or changed, or shutdown), not exited yet
    stopped       stopped at shutdown
"""

from __future__ import annotations

import dataclasses
import random
import signal
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

WAITING = "waiting"
STARTING = "starting"
RUNNING = "running"
BACKOFF = "backoff"
FAILING = "failing"
CONFIG_ERROR = "config_error"
STOPPING = "stopping"
STOPPED = "stopped"
STARTABLE = (WAITING, BACKOFF, FAILING, CONFIG_ERROR)

EXIT_CONFIG = 2  # zamio-agent: bad configuration (or spool); only an operator can fix it
HOUR_S = 3600.0
ERROR_CHARS_MAX = 1000

# Why a running agent is being stopped, which decides what happens when it has exited.
REMOVED = "removed"  # the link is gone: forget it
CHANGED = "changed"  # the link changed: start its replacement at once
SHUTDOWN = "shutdown"  # the supervisor stops: keep it as stopped


@dataclass(frozen=True)
class Limits:
    """Bounds of the supervisor; times in seconds."""

    agents_max: int = 32  # agent processes at once; links beyond wait their turn
    backoff_s_min: float = 2.0  # first restart delay after a crash
    backoff_s_max: float = 300.0  # restart delays grow to at most this
    run_stable_s: float = 600.0  # a run this long resets the backoff to backoff_s_min
    restarts_per_hour_max: int = 20  # more within an hour: failing, until the hour has passed
    config_retry_s: float = 3600.0  # an agent that refused its config is tried again after this
    start_grace_s: float = 5.0  # starting until the process has lived this long


@dataclass(frozen=True)
class LinkSpec:
    """What one agent scans: a station's stream, as the station's scan device."""

    station_code: str
    device_code: str
    stream_url: str
    password_version: int = 0  # the password file's mtime (ns): a new password restarts the agent


@dataclass(frozen=True)
class Link:
    """One station's scan: its state, its process, and what its runs have been like."""

    spec: LinkSpec
    state: str = WAITING
    since_s: float = 0.0  # when the state last changed
    next_start_s: float = 0.0  # not started before this
    pid: int | None = None  # the agent process, while it runs (starting, running, stopping)
    started_s: float | None = None  # when the current or last process started
    runs: int = 0  # processes started for this spec
    quick_exits: int = 0  # exits since the last stable run: the backoff exponent, plus one
    restart_times_s: tuple[float, ...] = ()  # newest restarts, at most restarts_per_hour_max
    exit_code: int | None = None  # of the last process; negative: killed by that signal
    last_error: str | None = None
    last_error_s: float | None = None
    stop_reason: str | None = None  # REMOVED, CHANGED or SHUTDOWN while stopping
    replacement: LinkSpec | None = None  # with CHANGED: started once this process has exited

    @property
    def restarts(self) -> int:
        """Processes started after the first one."""
        return max(0, self.runs - 1)


def new_link(spec: LinkSpec, now_s: float) -> Link:
    """A link that may start at once."""
    return Link(spec=spec, state=WAITING, since_s=now_s, next_start_s=now_s)


def backoff_s(quick_exits: int, limits: Limits, rng: random.Random) -> float:
    """Full jitter above a floor: uniform(min, min(max, min * 2**(quick_exits - 1)))."""
    exponent = min(max(quick_exits - 1, 0), 30)
    ceiling = min(limits.backoff_s_max, limits.backoff_s_min * 2.0**exponent)
    return rng.uniform(limits.backoff_s_min, max(limits.backoff_s_min, ceiling))


def reconcile(
    links: Mapping[str, Link], specs: Iterable[LinkSpec], now_s: float
) -> tuple[dict[str, Link], list[str]]:
    """The links after the wanted `specs` replaced the old ones, and the stations whose running
    agent must be stopped (removed or changed links)."""
    wanted = {spec.station_code: spec for spec in specs}
    result, to_stop = {}, []
    for code, link in links.items():
        spec = wanted.get(code)
        if link.pid is None:
            if spec is not None:
                result[code] = link if spec == link.spec else new_link(spec, now_s)
            continue
        if spec is None:
            result[code] = _stopping(link, REMOVED, None, now_s)
        elif link.stop_reason is not None or spec != link.spec:
            result[code] = _stopping(link, CHANGED, spec, now_s)
        else:
            result[code] = link
        if result[code].stop_reason is not None and link.stop_reason is None:
            to_stop.append(code)
    for code, spec in wanted.items():
        result.setdefault(code, new_link(spec, now_s))
    return result, to_stop


def _stopping(link: Link, reason: str, replacement: LinkSpec | None, now_s: float) -> Link:
    """`link` asked to stop for `reason`."""
    since_s = link.since_s if link.state == STOPPING else now_s
    return dataclasses.replace(
        link, state=STOPPING, since_s=since_s, stop_reason=reason, replacement=replacement
    )


def plan_starts(
    links: Mapping[str, Link], now_s: float, limits: Limits
) -> tuple[dict[str, Link], list[str]]:
    """The stations to start now, earliest due first, within agents_max; the other due ones
    wait for a free slot."""
    result = dict(links)
    alive = sum(1 for link in links.values() if link.pid is not None)
    due = sorted(
        (link for link in links.values() if _due(link, now_s)),
        key=lambda link: (link.next_start_s, link.spec.station_code),
    )
    slots = max(0, limits.agents_max - alive)
    for link in due[slots:]:
        if link.state != WAITING:
            result[link.spec.station_code] = dataclasses.replace(link, state=WAITING, since_s=now_s)
    return result, [link.spec.station_code for link in due[:slots]]


def _due(link: Link, now_s: float) -> bool:
    """Whether `link` has no process and may start now."""
    return link.pid is None and link.state in STARTABLE and link.next_start_s <= now_s


def on_started(link: Link, pid: int, now_s: float, limits: Limits) -> Link:
    """The agent of `link` runs as `pid`."""
    restart_times_s = link.restart_times_s
    if link.runs > 0:
        restart_times_s = (*restart_times_s, now_s)[-limits.restarts_per_hour_max :]
    return dataclasses.replace(
        link,
        state=STARTING,
        since_s=now_s,
        pid=pid,
        started_s=now_s,
        runs=link.runs + 1,
        restart_times_s=restart_times_s,
    )


def promote(links: Mapping[str, Link], now_s: float, limits: Limits) -> dict[str, Link]:
    """Links starting for start_grace_s are running (since their start)."""
    return {
        code: dataclasses.replace(link, state=RUNNING, since_s=link.started_s or now_s)
        if link.state == STARTING and now_s - (link.started_s or now_s) >= limits.start_grace_s
        else link
        for code, link in links.items()
    }


def with_error(link: Link, error: str, at_s: float) -> Link:
    """`link` with `error` (cut to ERROR_CHARS_MAX) as its last error."""
    return dataclasses.replace(link, last_error=error[:ERROR_CHARS_MAX], last_error_s=at_s)


def on_exit(
    link: Link,
    exit_code: int | None,
    error: str | None,
    now_s: float,
    limits: Limits,
    rng: random.Random,
) -> Link | None:
    """`link` after its agent exited with `exit_code` (None: it could not start); None when the
    link was removed."""
    if link.stop_reason == REMOVED:
        return None
    if link.stop_reason == CHANGED and link.replacement is not None:
        return new_link(link.replacement, now_s)
    ended = dataclasses.replace(link, pid=None, since_s=now_s, exit_code=exit_code)
    if error:
        ended = with_error(ended, error, now_s)
    if link.stop_reason == SHUTDOWN:
        return dataclasses.replace(ended, state=STOPPED, stop_reason=None)
    if exit_code == EXIT_CONFIG:
        retry_s = now_s + limits.config_retry_s
        return dataclasses.replace(ended, state=CONFIG_ERROR, next_start_s=retry_s)
    return _restart_later(ended, now_s, limits, rng)


def _restart_later(link: Link, now_s: float, limits: Limits, rng: random.Random) -> Link:
    """Backoff after a crash (reset by a stable run), or failing when the hour's restarts are
    used up."""
    stable = link.started_s is not None and now_s - link.started_s >= limits.run_stable_s
    quick_exits = 1 if stable else link.quick_exits + 1
    next_start_s = now_s + backoff_s(quick_exits, limits, rng)
    recent = [t for t in link.restart_times_s if t > now_s - HOUR_S]
    state = BACKOFF
    if len(recent) >= limits.restarts_per_hour_max:
        state, next_start_s = FAILING, max(next_start_s, recent[0] + HOUR_S)
    return dataclasses.replace(
        link,
        state=state,
        next_start_s=next_start_s,
        quick_exits=quick_exits,
        restart_times_s=tuple(recent),
    )


def shutdown(links: Mapping[str, Link], now_s: float) -> tuple[dict[str, Link], list[str]]:
    """Every link stopping (or stopped when it has no process), and the stations to stop."""
    result, to_stop = {}, []
    for code, link in links.items():
        if link.pid is None:
            result[code] = dataclasses.replace(link, state=STOPPED, since_s=now_s)
            continue
        result[code] = _stopping(link, SHUTDOWN, None, now_s)
        if link.stop_reason is None:
            to_stop.append(code)
    return result, to_stop


def describe_exit(exit_code: int | None) -> str:
    """'exited 1', 'killed by SIGKILL', or 'could not start'."""
    if exit_code is None:
        return "could not start"
    if exit_code < 0:
        try:
            return f"killed by {signal.Signals(-exit_code).name}"
        except ValueError:
            return f"killed by signal {-exit_code}"
    return f"exited {exit_code}"
