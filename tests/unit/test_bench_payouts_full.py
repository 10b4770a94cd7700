"""The full-path payouts benchmark's pure parts (bench/payouts_full.py): its plan of parties and
withdrawals, and its audit, which must catch a withdrawal paid twice, lost, or recorded otherwise
by the provider or the ledger, and money that does not add up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bench import payouts_full as full
from central.payouts.momo_sim_rules import TEST_NUMBERS, outcome_for
from central.payouts.msisdn import network_of, normalize_msisdn

REF = "00000000-0000-4000-8000-{:012d}"


def rows() -> list[full.Row]:
    """Three withdrawals: two paid, one failed."""
    return [
        full.Row(1, "paid", 1250, REF.format(1)),
        full.Row(2, "paid", 100_000, REF.format(2), approvals_needed=2),
        full.Row(3, "failed", 5000, REF.format(3)),
    ]


def listing(found: list[full.Row]) -> dict:
    """The simulator's listing of each withdrawal once, SUCCESSFUL or FAILED as recorded."""
    transfers = [
        {"referenceId": r.reference, "externalId": str(r.id),
         "amount": f"{r.amount_minor / 100:.2f}", "currency": "GHS",
         "status": "SUCCESSFUL" if r.status == "paid" else "FAILED"}
        for r in found
    ]  # fmt: skip
    return {"count": len(transfers), "transfers": transfers, "duplicate_external_ids": []}


def ledger(found: list[full.Row]) -> dict[int, dict[str, str]]:
    """Each hold, posted for the paid ones and voided for the others."""
    keys = []
    for r in found:
        keys.append((f"payout:withdrawal:{r.id}:hold", "pending"))
        end = ("paid", "posted_from_pending") if r.status == "paid" else ("void", "voided")
        keys.append((f"payout:withdrawal:{r.id}:{end[0]}", end[1]))
    return full.ledger_resolutions([*keys, ("bench:fund:artist:x:earnings", "posted")])


def test_the_plan_is_repeatable_funds_whole_parties_and_fails_only_when_meant_to() -> None:
    """Same seed, same plan; 10 per party with a short last one; valid numbers of known
    networks; failing parties on failing numbers; amounts from the minimum, some four-eyes."""
    plan = full.make_plan(1005, 10, 0.05, 0.1, 1000, 100_000, seed=3)
    assert plan == full.make_plan(1005, 10, 0.05, 0.1, 1000, 100_000, seed=3)
    assert [len(p.amounts) for p in plan] == [10] * 100 + [5]
    assert len({p.party for p in plan}) == len({p.email for p in plan}) == 101
    numbers = [normalize_msisdn(p.msisdn) for p in plan]
    assert all(network_of(n) in ("mtn", "telecel", "airteltigo") for n in numbers)
    failing = [n for n in numbers if n[-6:] in TEST_NUMBERS]
    assert failing and all(outcome_for(n).state == "FAILED" for n in failing)
    assert len(failing) < 15
    amounts = [a for p in plan for a in p.amounts]
    big = [a for a in amounts if a >= 100_000]
    assert all(1000 <= a <= 50_000 for a in amounts if a < 100_000)
    assert 50 < len(big) < 150 and max(big) <= 200_000


def test_the_audit_passes_a_clean_run() -> None:
    """Each withdrawal once at the provider as recorded, the ledger alike, the money adds up."""
    found = full.audit(rows(), ledger(rows()), listing(rows()), [(80_000, 0), (21_250, 0)])
    assert found.ok and (found.paid, found.failed, found.paid_minor) == (2, 1, 101_250)


def test_the_audit_catches_a_second_transfer_or_reference() -> None:
    """An externalId under two references, a reference not the stored one, a reference listed
    twice, a transfer of no withdrawal: paid twice."""
    twice = listing(rows())
    twice["transfers"].append({**twice["transfers"][0], "referenceId": REF.format(9)})
    twice["duplicate_external_ids"] = ["1"]
    found = full.audit(rows(), ledger(rows()), twice, [(101_250, 0)])
    assert not found.ok and found.paid_twice == ["externalId 1"]
    other = listing(rows())
    other["transfers"][1]["referenceId"] = REF.format(8)
    assert full.audit(rows(), ledger(rows()), other, [(101_250, 0)]).paid_twice == ["externalId 2"]
    listed_twice = listing(rows())
    listed_twice["transfers"].append(dict(listed_twice["transfers"][2]))
    assert full.audit(rows(), ledger(rows()), listed_twice, [(101_250, 0)]).paid_twice == [
        "externalId 3",
        f"reference {REF.format(3)}",
    ]
    stray = listing(rows())
    stray["transfers"].append({**stray["transfers"][0], "externalId": "77", "referenceId": "r"})
    assert full.audit(rows(), ledger(rows()), stray, [(101_250, 0)]).paid_twice == [
        "externalId 77: no withdrawal"
    ]


def test_the_audit_catches_lost_and_disagreeing_withdrawals_and_money_off() -> None:
    """Not final: lost; paid here but failed or absent there, or another amount; failed here but
    paid there; a ledger that voided a paid one or posted nothing; settlement credits off."""
    pending = [*rows()[:2], full.Row(3, "pending", 5000, REF.format(3))]
    assert full.audit(pending, ledger(rows()), listing(rows()), [(101_250, 0)]).lost == [3]
    there = listing(rows())
    there["transfers"][0]["status"] = "FAILED"
    there["transfers"][1]["amount"] = "999.99"
    there["transfers"][2]["status"] = "SUCCESSFUL"
    found = full.audit(rows(), ledger(rows()), there, [(101_250, 0)])
    assert found.provider_disagrees == [1, 2, 3] and not found.ok
    missing = listing(rows())
    del missing["transfers"][0]
    assert full.audit(rows(), ledger(rows()), missing, [(101_250, 0)]).provider_disagrees == [1]
    never_taken = listing(rows()[:2])  # a failed one the provider never took is fine
    assert full.audit(rows(), ledger(rows()), never_taken, [(101_250, 0)]).ok
    books = ledger(rows())
    books[1] = {"hold": "pending", "void": "voided"}
    books[2] = {"hold": "pending"}
    books[3]["paid"] = "posted_from_pending"
    found = full.audit(rows(), books, listing(rows()), [(101_250, 0)])
    assert found.ledger_disagrees == [1, 2, 3]
    assert not full.audit(rows(), ledger(rows()), listing(rows()), [(101_249, 0)]).ok
    assert not full.audit(rows(), ledger(rows()), listing(rows()), [(101_250, 5000)]).ok


def test_settle_times_run_from_the_last_approval_to_the_final_event() -> None:
    """The `approved` event (the last approval's) to paid or failed; others not final are out."""
    t0 = datetime(2026, 5, 1, tzinfo=UTC)
    events = [
        (1, "requested", t0), (1, "approved", t0 + timedelta(seconds=1)),
        (1, "sending", t0 + timedelta(seconds=1.1)), (1, "paid", t0 + timedelta(seconds=3.5)),
        (2, "requested", t0), (2, "requested", t0 + timedelta(seconds=2)),
        (2, "approved", t0 + timedelta(seconds=4)), (2, "failed", t0 + timedelta(seconds=9)),
        (3, "approved", t0), (3, "pending", t0 + timedelta(seconds=1)),
    ]  # fmt: skip
    assert full.settle_times_s(events) == {1: 2.5, 2: 5.0}
