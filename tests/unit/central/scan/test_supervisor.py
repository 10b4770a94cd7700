"""The stream-scan supervisor's decisions: backoff, concurrency, config errors, link diffs."""

from __future__ import annotations

import random

import pytest

from central.scan import supervisor
from central.scan.supervisor import (
    BACKOFF,
    CHANGED,
    CONFIG_ERROR,
    FAILING,
    REMOVED,
    RUNNING,
    STARTING,
    STOPPED,
    STOPPING,
    WAITING,
    Limits,
    Link,
    LinkSpec,
)

LIMITS = Limits()


class Ceiling(random.Random):
    """A random source that always draws the top of the range: the longest possible backoff."""

    def uniform(self, a: float, b: float) -> float:
        return b


def spec(code: str, url: str = "http://radio.example/live.mp3") -> LinkSpec:
    return LinkSpec(code, f"scan-{code}", url)


def started(code: str, now_s: float = 0.0, pid: int = 100) -> Link:
    """A link whose agent runs as `pid` since `now_s`."""
    return supervisor.on_started(supervisor.new_link(spec(code), now_s), pid, now_s, LIMITS)


def crash(link: Link, now_s: float, code: int = 1, limits: Limits = LIMITS, rng=None) -> Link:
    """`link` after its agent exited with `code` at `now_s`."""
    ended = supervisor.on_exit(link, code, "boom", now_s, limits, rng or Ceiling())
    assert ended is not None
    return ended


@pytest.mark.parametrize("quick_exits", range(0, 40))
def test_backoff_stays_within_its_bounds(quick_exits: int) -> None:
    """Every delay is at least backoff_s_min and at most min(max, min * 2**(n - 1))."""
    rng = random.Random(quick_exits)
    ceiling = min(LIMITS.backoff_s_max, LIMITS.backoff_s_min * 2.0 ** max(quick_exits - 1, 0))
    delays = [supervisor.backoff_s(quick_exits, LIMITS, rng) for _ in range(200)]
    assert min(delays) >= LIMITS.backoff_s_min
    assert max(delays) <= ceiling
    if ceiling > LIMITS.backoff_s_min:  # full jitter: the delays spread over the range
        assert max(delays) - min(delays) > (ceiling - LIMITS.backoff_s_min) / 2


def test_quick_crashes_back_off_exponentially_up_to_the_cap() -> None:
    """Each quick crash doubles the longest delay, from 2 s up to 300 s, never more."""
    link, now_s, delays = started("joy"), 0.0, []
    for _ in range(12):
        now_s += 1.0
        link = crash(link, now_s)
        assert link.state == BACKOFF and link.pid is None
        delays.append(link.next_start_s - now_s)
        now_s = link.next_start_s
        link = supervisor.on_started(link, 101, now_s, LIMITS)
    assert delays[:5] == [2.0, 4.0, 8.0, 16.0, 32.0]
    assert delays[-1] == LIMITS.backoff_s_max


def test_a_stable_run_resets_the_backoff() -> None:
    """After a run of run_stable_s the next crash waits backoff_s_min again; a shorter run
    does not reset it."""
    link, now_s = started("joy"), 0.0
    for _ in range(6):
        link = crash(link, now_s + 1)
        now_s = link.next_start_s
        link = supervisor.on_started(link, 101, now_s, LIMITS)
    short = crash(link, now_s + LIMITS.run_stable_s - 1)
    assert short.next_start_s - (now_s + LIMITS.run_stable_s - 1) == 128.0
    stable = crash(link, now_s + LIMITS.run_stable_s)
    assert stable.next_start_s - (now_s + LIMITS.run_stable_s) == LIMITS.backoff_s_min
    assert stable.quick_exits == 1


def test_a_restart_counts_and_keeps_the_last_exit() -> None:
    """A killed agent is restarted once its backoff is over: restarts 1, exit code kept."""
    link = crash(started("joy"), 10.0, code=-9)
    links, due = supervisor.plan_starts({"joy": link}, 11.0, LIMITS)
    assert due == [] and links["joy"].state == BACKOFF
    links, due = supervisor.plan_starts({"joy": link}, link.next_start_s, LIMITS)
    assert due == ["joy"]
    again = supervisor.on_started(links["joy"], 200, link.next_start_s, LIMITS)
    assert (again.state, again.pid, again.restarts, again.exit_code) == (STARTING, 200, 1, -9)
    assert supervisor.describe_exit(again.exit_code) == "killed by SIGKILL"


def test_at_most_agents_max_run_and_the_rest_wait() -> None:
    """With 2 slots, 2 of 5 links start (by code) and 3 wait; a freed slot goes to the one
    due first."""
    limits = Limits(agents_max=2)
    links = {code: supervisor.new_link(spec(code), 0.0) for code in "edcba"}
    links, due = supervisor.plan_starts(links, 0.0, limits)
    assert due == ["a", "b"]
    assert [links[code].state for code in "cde"] == [WAITING] * 3
    for pid, code in enumerate(due):
        links[code] = supervisor.on_started(links[code], pid + 1, 0.0, limits)
    links, due = supervisor.plan_starts(links, 5.0, limits)
    assert due == []
    links["a"] = crash(links["a"], 6.0, limits=limits)
    links, due = supervisor.plan_starts(links, 6.0, limits)
    assert due == ["c"], "c waited since 0 s; a is only due after its backoff"
    assert sum(1 for link in links.values() if link.pid is not None) <= limits.agents_max


def test_exit_2_is_a_config_error_retried_only_on_change_or_much_later() -> None:
    """An agent that refused its config is not restarted within config_retry_s, but at once
    when its link changes."""
    link = crash(started("joy"), 3.0, code=supervisor.EXIT_CONFIG)
    assert link.state == CONFIG_ERROR and link.last_error == "boom"
    links = {"joy": link}
    assert supervisor.plan_starts(links, 3.0 + LIMITS.config_retry_s - 1, LIMITS)[1] == []
    assert supervisor.plan_starts(links, 3.0 + LIMITS.config_retry_s, LIMITS)[1] == ["joy"]
    fixed = spec("joy", "http://radio.example/fixed.mp3")
    links, to_stop = supervisor.reconcile(links, [fixed], 10.0)
    assert to_stop == [] and links["joy"].spec == fixed and links["joy"].state == WAITING
    assert supervisor.plan_starts(links, 10.0, LIMITS)[1] == ["joy"]


def test_too_many_restarts_within_an_hour_is_failing() -> None:
    """With restarts_per_hour_max 3, the exit after the third restart marks the link failing
    until an hour after the first restart."""
    limits = Limits(restarts_per_hour_max=3)
    link, now_s, first_restart_s = started("joy"), 0.0, None
    for _ in range(3):
        link = crash(link, now_s + 1, limits=limits)
        assert link.state == BACKOFF
        now_s = link.next_start_s
        first_restart_s = first_restart_s or now_s
        link = supervisor.on_started(link, 7, now_s, limits)
    link = crash(link, now_s + 1, limits=limits)
    assert link.state == FAILING
    assert link.next_start_s == pytest.approx(first_restart_s + supervisor.HOUR_S)
    assert len(link.restart_times_s) <= limits.restarts_per_hour_max


def test_reconcile_adds_new_links_and_stops_removed_or_changed_ones() -> None:
    """New links wait; a removed or changed link with an agent is stopped (and forgotten or
    replaced when it exits); one without an agent goes at once; unchanged ones stay."""
    links = {
        "kept": started("kept", pid=1),
        "gone": started("gone", pid=2),
        "moved": started("moved", pid=3),
        "idle": crash(started("idle", pid=4), 1.0),
    }
    moved = spec("moved", "http://radio.example/new.mp3")
    result, to_stop = supervisor.reconcile(links, [spec("kept"), moved, spec("new")], 5.0)
    assert sorted(to_stop) == ["gone", "moved"]
    assert result["kept"] is links["kept"]
    assert "idle" not in result
    assert result["new"].state == WAITING and result["new"].next_start_s == 5.0
    assert (result["gone"].state, result["gone"].stop_reason) == (STOPPING, REMOVED)
    assert (result["moved"].stop_reason, result["moved"].replacement) == (CHANGED, moved)
    assert supervisor.on_exit(result["gone"], 0, None, 6.0, LIMITS, Ceiling()) is None
    replaced = supervisor.on_exit(result["moved"], 0, None, 6.0, LIMITS, Ceiling())
    assert replaced is not None and replaced.spec == moved and replaced.next_start_s == 6.0


def test_a_link_back_while_its_agent_stops_is_started_again() -> None:
    """Removed and re-added before its agent exited: the agent is stopped once, then the link
    starts again instead of being forgotten."""
    links, to_stop = supervisor.reconcile({"joy": started("joy")}, [], 1.0)
    assert to_stop == ["joy"]
    links, to_stop = supervisor.reconcile(links, [spec("joy")], 2.0)
    assert to_stop == [], "already asked to stop"
    again = supervisor.on_exit(links["joy"], 0, None, 3.0, LIMITS, Ceiling())
    assert again is not None and again.state == WAITING and again.runs == 0


def test_starting_becomes_running_after_the_grace_period() -> None:
    """A link is starting for start_grace_s, then running since its start."""
    links = {"joy": started("joy", now_s=10.0)}
    assert supervisor.promote(links, 14.0, LIMITS)["joy"].state == STARTING
    promoted = supervisor.promote(links, 10.0 + LIMITS.start_grace_s, LIMITS)["joy"]
    assert promoted.state == RUNNING and promoted.since_s == 10.0


def test_shutdown_stops_running_agents_and_marks_every_link_stopped() -> None:
    """At shutdown, agents are asked to stop (once) and every link ends stopped."""
    links = {"run": started("run"), "wait": crash(started("wait"), 1.0)}
    links, to_stop = supervisor.shutdown(links, 5.0)
    assert to_stop == ["run"]
    assert links["wait"].state == STOPPED
    ended = supervisor.on_exit(links["run"], 0, None, 6.0, LIMITS, Ceiling())
    assert ended is not None and ended.state == STOPPED and ended.pid is None


def test_a_failed_spawn_backs_off_like_a_crash() -> None:
    """An agent that cannot even start is retried with backoff, its error kept."""
    link = supervisor.on_exit(
        supervisor.new_link(spec("joy"), 0.0), None, "cannot start", 0.0, LIMITS, Ceiling()
    )
    assert link is not None and link.state == BACKOFF and link.last_error == "cannot start"
    assert supervisor.describe_exit(None) == "could not start"
