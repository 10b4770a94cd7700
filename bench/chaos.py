"""Chaos benchmark: simulated stations deliver through the real agent's spool and uplink into
the real central processes while the bench breaks them at seeded random times, then counts
what was lost or counted twice. Prints tables; never asserts timings.

    python bench/chaos.py [--stations 5] [--duration-s 120] [--seed 1]
                          [--faults broker-restart,broker-kill,db-outage,redis-outage,
                                    ingest-kill,worker-kill] [--speed 1] [--json]
    python bench/chaos.py --burst-day [--stations 100] [--burst-batches 60]

Everything is the bench's own: a throwaway PostgreSQL database reached by the central processes
through a TCP proxy (bench/chaos_services.py) that can drop and refuse connections (the bench
may not stop the machine's PostgreSQL), a redis-server and a Mosquitto (persistence on,
deploy/mosquitto.conf when the tree has one) on free ports, one `zamio ingest`, --workers
`zamio worker` and one `zamio scheduler`. Stations (bench/chaos_agents.py) are an edge_agent
Spool and Uplink each, fed bench/loadgen.py's re-stamped batches of a seeded synthetic broadcast
(4 of its 6 songs in the catalogue, a rate card in force), so plays close and royalties post.

Faults (fault_schedule: rounds of every kind in a seeded order, seeded gaps and outages):
broker-restart (SIGTERM, start on the same port), broker-kill (SIGKILL, start after the
outage), db-outage (the proxy drops every connection and refuses new ones), redis-outage
(redis-server stopped, started again with its append-only file), ingest-kill and worker-kill
(SIGKILL of the process and its session, started again). A central process that exits by
itself is started again 2 s later, as systemd would (counted as a crash).

Counted at the end, after a drain: batches produced (each spool's next seq) against stored
(ingested_batch, distinct device/source/seq): lost (gone from the agent's spool, so counted as
delivered, and not stored; must be 0) and still spooled (not delivered by the end of the
drain), each lost batch blamed on the fault around the time it was produced; plays counted
twice (same station, track and start, or closed plays of one track that overlap); royalty
transfers `royalty:play:<id>` against closed plays; batches never matched or never built into
plays; `zamio ledger verify`. Recovery after a fault: from
its end until every batch produced from just before it to its end is stored.

--burst-day: no faults; every station starts with --burst-batches windows spooled (a day
offline is 8,440), then all uplinks connect at once: drain time and rate, 0 lost.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import pct, table  # noqa: E402

KINDS = ("broker-restart", "broker-kill", "db-outage", "redis-outage", "ingest-kill",
         "worker-kill")  # fmt: skip
RESTARTED_AT_ONCE = ("broker-restart", "ingest-kill", "worker-kill")  # no outage to wait out
LEAD_S = 12.0  # a batch produced this long before a fault may still be in flight when it hits
IN_FLIGHT_SEQS = 2  # recovery waits for the batches produced just before the fault too
RESEND_WORDS = ("gap", "resend")  # a table named with one of these is central's resend record


@dataclass(frozen=True)
class Fault:
    """One fault of the schedule: when (s from the run's start), what, how long it stays."""

    kind: str
    at_s: float
    outage_s: float


@dataclass
class Injected:
    """A fault as it happened: start and end in s from the run's start, recovery once seen."""

    kind: str
    start_s: float
    end_s: float
    target: dict[str, tuple[int, int]] = field(default_factory=dict)  # device -> seqs [lo, hi)
    recovery_s: float | None = None


# ---------------------------------------------------------------------------------------------
# Pure: the schedule, the accounting, the tables


def fault_schedule(
    kinds: tuple[str, ...] | list[str],
    duration_s: float,
    seed: int,
    *,
    first_s: float = 10.0,
    gap_s: tuple[float, float] = (8.0, 16.0),
    outage_s: tuple[float, float] = (2.0, 8.0),
    quiet_s: float = 10.0,
) -> list[Fault]:
    """Faults in rounds, each round every kind once in a seeded order, the next one a seeded
    gap after the previous one's outage; none ends later than `quiet_s` before the end."""
    rng, faults, at_s, pending = random.Random(seed), [], first_s, []
    while kinds:
        if not pending:
            pending = rng.sample(list(kinds), len(kinds))
        kind = pending.pop()
        out_s = 0.0 if kind in RESTARTED_AT_ONCE else round(rng.uniform(*outage_s), 1)
        if at_s + out_s > duration_s - quiet_s:
            break
        faults.append(Fault(kind, round(at_s, 1), out_s))
        at_s += out_s + rng.uniform(*gap_s)
    return faults


def recovery_target(before: dict[str, int], after: dict[str, int]) -> dict[str, tuple[int, int]]:
    """Seqs a fault may have hit, per device: from just before it started to its end."""
    return {d: (max(0, before.get(d, 0) - IN_FLIGHT_SEQS), n) for d, n in after.items()}


def caught_up(target: dict[str, tuple[int, int]], stored: set[tuple[str, int]]) -> bool:
    """Whether every seq of the target is stored."""
    return all((d, s) in stored for d, (lo, hi) in target.items() for s in range(lo, hi))


def lost_batches(
    produced: dict[str, int],
    stored: set[tuple[str, int]],
    spooled: set[tuple[str, int]] = frozenset(),  # type: ignore[assignment]
) -> list[tuple[str, int]]:
    """(device, seq) produced (seqs 0..n-1 of each device), gone from the agent's spool and
    not stored, in order: what the agent counted as delivered and central does not have."""
    return [
        (d, s)
        for d, n in sorted(produced.items())
        for s in range(n)
        if (d, s) not in stored and (d, s) not in spooled
    ]


def blame(produced_s: float, faults: list[Injected]) -> Injected | None:
    """The fault a lost batch is blamed on: one under way, or starting within LEAD_S after it
    was produced (it was in flight); else the last one that ended before it was produced."""
    for fault in faults:
        if fault.start_s - LEAD_S <= produced_s <= fault.end_s:
            return fault
    earlier = [f for f in faults if f.end_s < produced_s]
    return earlier[-1] if earlier else None


def losses_by_fault(
    lost: list[tuple[str, int]], produced_s: dict[str, list[float]], faults: list[Injected]
) -> list[dict]:
    """Lost batches grouped by the fault blamed: kind, its start, and device -> seqs."""
    groups: dict[tuple[str, float], dict[str, list[int]]] = {}
    for device, seq in lost:
        times = produced_s.get(device, [])
        fault = blame(times[seq], faults) if seq < len(times) else None
        key = (fault.kind, fault.start_s) if fault else ("no fault", -1.0)
        groups.setdefault(key, {}).setdefault(device, []).append(seq)
    return [{"fault": k, "at_s": at, "count": sum(map(len, seqs.values())), "seqs": seqs}
            for (k, at), seqs in sorted(groups.items(), key=lambda g: g[0][1])]  # fmt: skip


def resend_tables(names: list[str]) -> list[str]:
    """The tables among `names` that record seq gaps or resends (none today: "n/a")."""
    return sorted(n for n in names if any(word in n for word in RESEND_WORDS))


def royalty_counts(closed_plays: set[int], transfer_play_ids: list[int]) -> dict[str, int]:
    """One `royalty:play:<id>` transfer per closed play: missing, twice, for a play not closed."""
    per_play = Counter(transfer_play_ids)
    return {
        "closed_plays": len(closed_plays),
        "royalty_transfers": len(transfer_play_ids),
        "royalty_missing": len(closed_plays - set(per_play)),
        "royalty_twice": sum(n > 1 for n in per_play.values()),
        "royalty_not_closed": len(set(per_play) - closed_plays),
    }


def recovery_by_kind(faults: list[Injected]) -> dict[str, dict]:
    """Per kind: faults, recovery s p50 and max over those that recovered, and how many never."""
    out = {}
    for kind in sorted({f.kind for f in faults}):
        mine = [f for f in faults if f.kind == kind]
        times = [f.recovery_s for f in mine if f.recovery_s is not None]
        top = max(times) if times else float("nan")
        out[kind] = {"faults": len(mine), "recovery_s_p50": pct(times, 50),
                     "recovery_s_max": top, "never": len(mine) - len(times)}  # fmt: skip
    return out


def faults_line(faults: list[Injected]) -> str:
    """'broker-kill 2, db-outage 1' (by kind, sorted)."""
    counts = Counter(f.kind for f in faults)
    return ", ".join(f"{k} {n}" for k, n in sorted(counts.items())) or "none"


def render(result: dict) -> str:
    """Every table of one run."""
    a = result["accounting"]
    resend = a["resend"] if a["resend"] is not None else "n/a"
    headers = ["stations", "faults injected", "produced", "stored", "recovered by resend",
               "lost", "still spooled", "plays twice", "closed plays", "royalty transfers",
               "royalty missing", "royalty twice", "ledger verify"]  # fmt: skip
    row = [result["stations"], faults_line([Injected(**f) for f in result["faults"]]),
           a["produced"], a["stored"], resend, a["lost"], a["spool_waiting"], a["plays_twice"],
           a["closed_plays"],
           a["royalty_transfers"], a["royalty_missing"], a["royalty_twice"],
           result["ledger"]["verdict"]]  # fmt: skip
    title = f"1. Chaos: {result['duration_s']:g} s, seed {result['seed']} (lost must be 0)"
    parts = [table(title, headers, [row])]
    recovery = [[k, r["faults"], r["recovery_s_p50"], r["recovery_s_max"], r["never"]]
                for k, r in result["recovery"].items()]  # fmt: skip
    parts.append(table("2. Recovery: s from a fault's end until what was produced is stored",
                       ["fault", "count", "p50 s", "max s", "never"], recovery))  # fmt: skip
    parts.append(losses_table(a["losses"]))
    parts.append(central_line(a, result))
    return "\n\n".join(parts)


def losses_table(losses: list[dict]) -> str:
    """Lost batches by the fault blamed, with their devices and seqs."""
    rows = [[g["fault"], g["at_s"], g["count"], devices_seqs(g["seqs"])] for g in losses]
    return table("3. Lost batches by the fault around their production", ["fault", "at s",
                 "lost", "device: seqs"], rows or [["none", "", 0, ""]])  # fmt: skip


def devices_seqs(seqs: dict[str, list[int]], devices_max: int = 4) -> str:
    """'pi-a: 1-3; pi-b: 7', the first devices_max devices, then how many more."""
    names = sorted(seqs)
    text = "; ".join(f"{d}: {seq_ranges(seqs[d])}" for d in names[:devices_max])
    more = len(names) - devices_max
    return text + (f"; and {more} more devices" if more > 0 else "")


def seq_ranges(seqs: list[int]) -> str:
    """[1, 2, 3, 7] -> '1-3,7'."""
    parts, run = [], []
    for s in sorted(seqs):
        if run and s != run[-1] + 1:
            parts.append(_span(run))
            run = []
        run.append(s)
    return ",".join(parts + ([_span(run)] if run else []))


def _span(run: list[int]) -> str:
    return f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0])


def central_line(a: dict, result: dict) -> str:
    """What else the drain found: batches left unmatched or out of plays, jobs, crashes."""
    return (
        f"Central after the drain ({result['drain_s']:.0f} s): {a['not_matched']} stored batches "
        f"never matched, {a['plays_not_built']} never built into plays, {a['unexpected']} "
        f"stored but never produced, {a['spool_dropped']} dropped by spools; RQ failed "
        f"{a['failed_jobs']}, queued {a['queued_at_end']}; crashed and restarted: "
        f"{result['crashes'] or 'none'}; broker config {result['broker_config']}; ledger: "
        f"{result['ledger']['detail']}"
    )


def render_burst(result: dict) -> str:
    """The burst-day table."""
    a = result["accounting"]
    headers = ["stations", "batches each", "produced", "stored", "lost", "still spooled",
               "drain s", "batches/s", "matched", "not matched"]  # fmt: skip
    row = [result["stations"], result["burst_batches"], a["produced"], a["stored"], a["lost"],
           a["spool_waiting"], result["drain_s"], result["rate_per_s"], a["matched"],
           a["not_matched"]]  # fmt: skip
    title = ("Burst day: every station's spooled backlog drained at once (the agent's backlog "
             "rate rule); lost must be 0")  # fmt: skip
    return table(title, headers, [row]) + "\n\n" + losses_table(a["losses"])


# ---------------------------------------------------------------------------------------------
# The run (I/O): see bench/chaos_run.py


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=None, help="default 5, burst 100")
    parser.add_argument("--duration-s", type=float, default=120.0, help="publishing time")
    parser.add_argument("--seed", type=int, default=1, help="of the fault schedule")
    parser.add_argument("--faults", default=",".join(KINDS), help="kinds, comma-separated")
    parser.add_argument("--speed", type=float, default=1.0, help="batches at x real time")
    parser.add_argument("--gap-s", default="8,16", help="min,max s between faults")
    parser.add_argument("--outage-s", default="2,8", help="min,max s a service stays away")
    parser.add_argument("--workers", type=int, default=2, help="`zamio worker` processes")
    parser.add_argument("--agent-procs", type=int, default=None, help="default 1, burst 4")
    parser.add_argument("--drain-s-max", type=float, default=120.0, help="after publishing")
    parser.add_argument("--close-wait-s", type=int, default=30, help="ZAMIO_PLAYS_CLOSE_WAIT_S")
    parser.add_argument("--burst-day", action="store_true", help="drain a day offline at once")
    parser.add_argument("--burst-batches", type=int, default=60, help="per station (a day: 8440)")
    parser.add_argument("--keep", action="store_true", help="keep the logs and spools")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    args.faults = [] if args.burst_day else [k for k in args.faults.split(",") if k]
    unknown = sorted(set(args.faults) - set(KINDS))
    if unknown:
        parser.error(f"unknown fault kinds {unknown}; known: {', '.join(KINDS)}")
    for name in ("gap_s", "outage_s"):
        low, high = (float(v) for v in getattr(args, name).split(","))
        if not 0 < low <= high:
            parser.error(f"--{name.replace('_', '-')}: want 0 < min <= max")
        setattr(args, name, (low, high))
    args.stations = args.stations or (100 if args.burst_day else 5)
    args.agent_procs = args.agent_procs or (4 if args.burst_day else 1)
    return args


def main(argv: list[str] | None = None) -> int:
    from bench import chaos_run

    args = parse_args(argv)
    result = chaos_run.run(args)
    if args.json:
        print(json.dumps(result, indent=1, default=_json_default))
    else:
        print(render_burst(result) if args.burst_day else render(result))
    a = result["accounting"]
    return 0 if a["lost"] == 0 and a["spool_waiting"] == 0 else 1


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Injected | Fault):
        return asdict(value)
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
