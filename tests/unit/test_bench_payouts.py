"""The payouts benchmark's pure parts (bench/payouts.py): its orders, its fault mix and its
audit, which must catch an order paid twice, lost, or paid a wrong amount."""

from __future__ import annotations

from bench import payouts
from central.payouts.momo_sim_rules import TEST_NUMBERS, outcome_for
from central.payouts.msisdn import normalize_msisdn


def listing(orders, status="SUCCESSFUL", **changes) -> dict:
    """A /_sim/transfers listing holding each order once, as paid."""
    transfers = [
        {"referenceId": str(o.reference), "externalId": o.external_id, "status": status,
         "amount": f"{o.amount_minor / 100:.2f}", "currency": "GHS"}
        for o in orders
    ]  # fmt: skip
    return {
        "count": len(transfers),
        "transfers": transfers,
        "duplicate_external_ids": [],
        **changes,
    }


def results(orders, state="SUCCESSFUL") -> list[payouts.Paid]:
    """What a client saw of each order."""
    return [
        payouts.Paid(str(o.reference), o.external_id, o.amount_minor, state, None, 1, 0, 0.2)
        for o in orders
    ]


def test_orders_are_repeatable_valid_and_fail_only_when_meant_to() -> None:
    """Same seed, same orders; every number a valid Ghanaian mobile; failing share honoured."""
    orders = payouts.make_orders(2000, 0.05, seed=3)
    assert orders == payouts.make_orders(2000, 0.05, seed=3)
    assert len({o.reference for o in orders}) == 2000
    assert all(normalize_msisdn(o.msisdn) == o.msisdn for o in orders)
    failing = [o for o in orders if o.msisdn[-6:] in TEST_NUMBERS]
    assert all(outcome_for(o.msisdn).state == "FAILED" for o in failing)
    assert 60 < len(failing) < 140
    assert all(100 <= o.amount_minor <= 50_000 for o in orders)


def test_the_fault_mix_adds_up_to_the_rate() -> None:
    """POST faults split 40/30/30 of the rate; GETs fail at the rate."""
    faults = payouts.faults_for(0.1, 1500)
    post = faults["error_rate"] + faults["accept_then_500_rate"] + faults["timeout_rate"]
    assert abs(post - 0.1) < 1e-9 and faults["status_error_rate"] == 0.1
    assert faults["hold_ms"] == 1500


def test_the_audit_passes_a_clean_run_and_catches_each_fault() -> None:
    """Clean: nothing reported. A second reference, a missing or pending transfer, a state the
    client saw otherwise, or another amount: each reported."""
    orders = payouts.make_orders(5, 0.0, seed=1)
    clean = payouts.audit(orders, results(orders), listing(orders))
    assert (clean.held, clean.paid_twice, clean.lost, clean.wrong_amount) == (5, [], [], [])
    twice = payouts.audit(orders, results(orders), listing(orders, duplicate_external_ids=["x"]))
    assert twice.paid_twice == ["x"]
    assert payouts.audit(orders, results(orders), listing(orders[1:])).lost == ["bench-0"]
    assert len(payouts.audit(orders, results(orders), listing(orders, "PENDING")).lost) == 5
    assert len(payouts.audit(orders, results(orders, "FAILED"), listing(orders)).lost) == 5
    off = listing(orders)
    off["transfers"][2]["amount"] = "0.01"
    assert payouts.audit(orders, results(orders), off).wrong_amount == ["bench-2"]
