"""The supervisor's status file, `<state_dir>/scan-status.json`: built (pure), written atomically,
read back and shown by `zamio scan status`.

The supervisor rewrites it every STATUS_S seconds and on every change of state; a file older
than STALE_MS, or whose pid is gone, belongs to a supervisor that is not running.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from central.config import redact_url
from central.files import write_private
from central.scan.supervisor import (
    BACKOFF,
    CONFIG_ERROR,
    FAILING,
    WAITING,
    Limits,
    Link,
    describe_exit,
)
from central.times import iso_utc

STATUS_FILE = "scan-status.json"
STATUS_VERSION = 1
STATUS_S = 2.0  # rewritten at least this often
STALE_MS = 30_000  # older than this: the supervisor is hung or gone
RUNNING, STALE, GONE, STOPPED = "running", "stale", "gone", "stopped"  # of the supervisor


def status_path(state_dir: Path) -> Path:
    """The status file of the supervisor using `state_dir`."""
    return state_dir / STATUS_FILE


def link_record(
    link: Link,
    stream: str | None,
    last_match_ms: int | None,
    limits: Limits,
    now_s: float,
    wall_offset_s: float,
) -> dict[str, Any]:
    """One link as the status file shows it; monotonic times turned into UTC ms."""

    def wall_ms(mono_s: float | None) -> int | None:
        """A monotonic time as UTC ms."""
        return None if mono_s is None else round((mono_s + wall_offset_s) * 1000)

    waits = link.state in (BACKOFF, FAILING, CONFIG_ERROR)
    return {
        "station": link.spec.station_code,
        "device": link.spec.device_code,
        "stream_url": redact_url(link.spec.stream_url),
        "state": link.state,
        "pid": link.pid,
        "since_ms": wall_ms(link.since_s),
        "restarts": link.restarts,
        "exit_code": link.exit_code,
        "last_exit": None if link.exit_code is None else describe_exit(link.exit_code),
        "next_start_ms": wall_ms(max(link.next_start_s, now_s)) if waits else None,
        "stream": stream if link.pid is not None else None,
        "last_error": link.last_error,
        "last_error_ms": wall_ms(link.last_error_s),
        "note": _note(link, limits),
        "last_match_ms": last_match_ms,
    }


def _note(link: Link, limits: Limits) -> str | None:
    """What an operator should know about a link's state, or None."""
    if link.state == WAITING:
        return f"waiting for a free slot (--max-agents {limits.agents_max} reached)"
    if link.state == FAILING:
        return f"restarted {limits.restarts_per_hour_max} times within an hour; waits for the hour"
    if link.state == CONFIG_ERROR:
        return "the agent refused its config; retried when the station changes, or in an hour"
    return None


def status_document(
    links: list[dict[str, Any]],
    limits: Limits,
    started_ms: int,
    now_ms: int,
    stopped: bool,
    skipped: list[str],
) -> dict[str, Any]:
    """The whole status file: the supervisor, its links by station, the stations it skips."""
    return {
        "version": STATUS_VERSION,
        "pid": os.getpid(),
        "started_ms": started_ms,
        "written_ms": now_ms,
        "stopped_ms": now_ms if stopped else None,
        "agents_max": limits.agents_max,
        "links": sorted(links, key=lambda record: record["station"]),
        "skipped": list(skipped),
    }


def write_status(path: Path, document: Mapping[str, Any]) -> None:
    """Replace the status file atomically (readers never see half of it)."""
    write_private(path, json.dumps(document, indent=2) + "\n", mode=0o644)


def read_status(path: Path) -> dict[str, Any] | None:
    """The status file, or None if there is none (or it is not ours)."""
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or document.get("version") != STATUS_VERSION:
        return None
    return document


def supervisor_state(document: Mapping[str, Any], now_ms: int, pid_alive: bool) -> str:
    """running, stopped (cleanly), gone (its pid is) or stale (it stopped writing)."""
    if document.get("stopped_ms") is not None:
        return STOPPED
    if not pid_alive:
        return GONE
    if now_ms - document["written_ms"] > STALE_MS:
        return STALE
    return RUNNING


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def status_lines(document: Mapping[str, Any], state: str, now_ms: int) -> list[str]:
    """The status as lines for a terminal: the supervisor, then one or two lines per link."""
    head = _supervisor_line(document, state, now_ms)
    links = document["links"]
    running = sum(1 for link in links if link["pid"] is not None)
    lines = [f"{head}; {len(links)} link(s), {running} agent(s), at most {document['agents_max']}"]
    if state != RUNNING and links:
        lines.append("(the states below are as the supervisor last wrote them)")
    for link in links:
        lines += link_lines(link, now_ms)
    lines += [f"not scanned: {problem}" for problem in document.get("skipped", [])]
    return lines


def _supervisor_line(document: Mapping[str, Any], state: str, now_ms: int) -> str:
    """Whether the supervisor runs, since when, and how old the file is."""
    written = f"status written {age(now_ms - document['written_ms'])} ago"
    if state == STOPPED:
        return f"scan supervisor stopped at {iso_utc(document['stopped_ms'])}"
    if state == GONE:
        return f"scan supervisor NOT running: pid {document['pid']} is gone; {written}"
    if state == STALE:
        return f"scan supervisor NOT responding: pid {document['pid']}, {written}"
    since = iso_utc(document["started_ms"])
    return f"scan supervisor running, pid {document['pid']}, since {since}; {written}"


def link_lines(link: Mapping[str, Any], now_ms: int) -> list[str]:
    """A link's state line, then its note and last error, indented."""
    line = f"{link['station']:<20} {link['state']:<12}"
    if link["pid"] is not None:
        line += f"  pid {link['pid']}"
    if link["since_ms"] is not None:
        line += f"  since {iso_utc(link['since_ms'])}"
    line += f"  restarts {link['restarts']}"
    if link["last_exit"]:
        line += f"  last exit: {link['last_exit']}"
    if link["next_start_ms"] is not None:
        line += f"  next start in {age(link['next_start_ms'] - now_ms)}"
    if link["stream"]:
        line += f"  stream {link['stream']}"
    match_ms = link.get("last_match_ms")
    line += "  last match " + (
        f"{iso_utc(match_ms)} ({age(now_ms - match_ms)} ago)" if match_ms else "never"
    )
    lines = [line]
    if link["note"]:
        lines.append(f"    {link['note']}")
    if link["last_error"]:
        when = f" ({age(now_ms - link['last_error_ms'])} ago)" if link["last_error_ms"] else ""
        lines.append(f"    last error{when}: {link['last_error']}")
    return lines


def age(ms: float) -> str:
    """12 s, 5 min, 3 h, 2 d."""
    seconds = max(ms, 0) / 1000
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= 2 * size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"
