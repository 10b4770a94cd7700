"""Zero loss under chaos: stations deliver through the real agent spool and uplink while the
broker restarts and dies, the database and Redis go away, and ingest and workers are killed
(bench/chaos.py's machinery, a couple of minutes); every batch produced must be stored, every
closed play counted once with one royalty transfer, and the ledger must verify."""

from __future__ import annotations

import pytest

from bench import chaos, chaos_run
from tests.integration.conftest import require_service
from tests.integration.edge_agent.conftest import require_tool

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STATIONS = 4
DURATION_S = 70.0
SPEED = 2.0  # a batch every 5.12 s per station: more batches in flight per fault
SEED = 1  # its schedule: 9 faults, every kind
# Plays close 10 s after their last change (not 2 h): plays close within the run, and late
# batches after an outage meet closed plays, which must not be counted again.
# The drain waits up to 90 s for every batch stored, matched and built into plays (the
# scheduler still running): a lost match job is swept 30 s after its batch, every 30 s.


def problems(result: dict) -> list[str]:
    """Every way the run broke a zero-loss rule, each saying what and where."""
    a = result["accounting"]
    found = []
    for group in a["losses"]:
        seqs = "; ".join(
            f"{d} seqs {chaos.seq_ranges(s)}" for d, s in sorted(group["seqs"].items())
        )
        found.append(f"{group['count']} batches lost around {group['fault']} at "
                     f"{group['at_s']:.1f} s: {seqs}")  # fmt: skip
    checks = {
        "stored but never produced": a["unexpected"],
        "stored batches never matched": a["not_matched"],
        "plays counted twice": a["plays_twice"],
        "closed plays with no royalty transfer": a["royalty_missing"],
        "plays with two royalty transfers": a["royalty_twice"],
        "royalty transfers for plays not closed": a["royalty_not_closed"],
        "messages dropped by the agents' spools": a["spool_dropped"],
    }
    found += [f"{count} {what}" for what, count in checks.items() if count]
    if a["closed_plays"] == 0:
        found.append("no play closed: the royalty checks saw nothing")
    if result["ledger"]["verdict"] != "ok":
        found.append(f"zamio ledger verify: {result['ledger']['detail']}")
    return found


def test_no_batch_play_or_royalty_is_lost_or_doubled_under_random_faults():
    """Produced == stored per (device, source, seq); each closed play once, one royalty
    transfer each; the ledger verifies; after random broker, database, Redis, ingest and
    worker faults."""
    require_service("PostgreSQL", 5432)
    require_tool("mosquitto")
    require_tool("redis-server")
    args = chaos.parse_args(
        ["--stations", str(STATIONS), "--duration-s", str(DURATION_S), "--speed", str(SPEED),
         "--seed", str(SEED), "--drain-s-max", "90", "--close-wait-s", "10", "--gap-s", "3,5",
         "--outage-s", "2,4"]
    )  # fmt: skip
    result = chaos_run.run(args)
    assert len({f["kind"] for f in result["faults"]}) == len(chaos.KINDS), result["faults"]
    found = problems(result)
    assert not found, "\n".join(found) + "\n\n" + chaos.render(result)
