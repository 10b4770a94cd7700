"""Payouts benchmark, the connector's half: N transfers through the MoMo simulator (`zamio
momo-sim`, its own process) with injected faults, each retried by its own reference until the
provider took it and polled until it ended; then the simulator's records are audited: no order
paid twice (an externalId under two references, or a second transfer), none lost (every order
held by the provider and ended, in the state the client saw). Prints a table; never asserts
timings.

    python bench/payouts.py [--transfers 1000] [--fault-rate 0.10] [--failing 0.05]
                            [--workers 32] [--url URL] [--json out.json]

Faults, at --fault-rate in all: of transfer POSTs, 40 % a 500 before anything is stored, 30 %
stored then a 500, 30 % stored then the answer held past the client's timeout (the client
cannot know it was taken); of status GETs, a 500 at --fault-rate. --failing of the payees have
numbers that fail (…123450, …123455), so the refund path ends too.

The driver functions (make_orders, pay_by_reference, run_orders, audit) take the paying step as
an argument: the full withdrawal path (central/payouts/withdrawals.py) plugs in there.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import pct, table  # noqa: E402
from central.payouts.momo import MomoProvider, amount_minor_of  # noqa: E402
from central.payouts.momo_sim_control import SimControl, start_process, stop_process  # noqa: E402
from central.payouts.momo_sim_rules import TEST_NUMBERS  # noqa: E402
from central.payouts.provider import (  # noqa: E402
    PENDING,
    PayoutOrder,
    Provider,
    ProviderRefused,
    ProviderTransfer,
    ProviderUnavailable,
    payout_reference,
)

FAILING_SUFFIXES = ("123450", "123455")  # INTERNAL_PROCESSING_ERROR, NOT_ENOUGH_FUNDS
MOBILE_PREFIXES = ("24", "54", "55", "59", "20", "50", "27", "57")
FAULT_SHARES = {"error_rate": 0.4, "accept_then_500_rate": 0.3, "timeout_rate": 0.3}
POLL_INTERVAL_S = 0.1
RETRY_BACKOFF_S = 0.05  # after an unavailable answer, times the attempt number, at most 1 s
SETTLE_S_MAX = 120.0  # an order not ended by then is reported lost


@dataclass(frozen=True)
class Paid:
    """What became of one order, as the client saw it."""

    reference: str
    external_id: str
    amount_minor: int
    state: str  # SUCCESSFUL | FAILED | PENDING (never ended: lost) | REFUSED
    reason: str | None
    submit_attempts: int
    unavailable: int  # answers that hid the outcome (submit and status)
    settle_s: float  # first attempt to the final state seen


def make_orders(count: int, failing_share: float, seed: int) -> list[PayoutOrder]:
    """`count` orders of 1.00 to 500.00 GHS to Ghanaian numbers, `failing_share` of them to
    numbers the simulator fails."""
    rng = random.Random(seed)
    orders = []
    for n in range(count):
        national = f"{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**7):07d}"
        if rng.random() < failing_share:
            national = national[:3] + rng.choice(FAILING_SUFFIXES)
        elif national[-6:] in TEST_NUMBERS:  # one in 140,000: keep ordinary numbers ordinary
            national = national[:3] + "000000"
        orders.append(
            PayoutOrder(
                reference=payout_reference(uuid.UUID(int=rng.getrandbits(128))),
                amount_minor=rng.randrange(100, 50_001),
                currency="GHS",
                msisdn=f"233{national}",
                external_id=f"bench-{n}",
                payer_message="ZamIO royalties",
                payee_note="Royalty payout",
            )
        )
    return orders


def pay_by_reference(provider: Provider, order: PayoutOrder) -> Paid:
    """Submit `order` until the provider took it (retrying by the same reference through every
    unavailable answer), then poll its status until it ends."""
    started = time.monotonic()
    attempts = unavailable = 0
    while True:
        attempts += 1
        try:
            provider.submit(order)
            break
        except ProviderUnavailable:
            unavailable += 1
            time.sleep(min(1.0, RETRY_BACKOFF_S * attempts))
        except ProviderRefused as refused:
            return _paid(order, "REFUSED", refused.reason, attempts, unavailable, started)
    transfer, polled_unavailable = poll_until_final(provider, order, started + SETTLE_S_MAX)
    state = transfer.state if transfer is not None else PENDING
    reason = transfer.reason if transfer is not None else "NOT_FOUND"
    return _paid(order, state, reason, attempts, unavailable + polled_unavailable, started)


def poll_until_final(
    provider: Provider, order: PayoutOrder, deadline: float
) -> tuple[ProviderTransfer | None, int]:
    """The order's transfer once it ended (or as last seen at `deadline`), and how many status
    answers were unavailable."""
    transfer, unavailable = None, 0
    while time.monotonic() < deadline:
        try:
            transfer = provider.status(order.reference)
        except ProviderUnavailable:
            unavailable += 1
        else:
            if transfer is not None and transfer.state != PENDING:
                return transfer, unavailable
        time.sleep(POLL_INTERVAL_S)
    return transfer, unavailable


def _paid(
    order: PayoutOrder,
    state: str,
    reason: str | None,
    attempts: int,
    unavailable: int,
    started: float,
) -> Paid:
    """A Paid record of `order`, timed from `started`."""
    return Paid(
        str(order.reference),
        order.external_id,
        order.amount_minor,
        state,
        reason,
        attempts,
        unavailable,
        time.monotonic() - started,
    )


def run_orders(
    orders: list[PayoutOrder], pay: Callable[[PayoutOrder], Paid], workers: int
) -> tuple[list[Paid], float]:
    """Pay every order with `workers` threads; the results in order and the wall seconds."""
    started = time.monotonic()
    done = [0]
    lock = threading.Lock()

    def one(order: PayoutOrder) -> Paid:
        """Pay one order and show progress."""
        paid = pay(order)
        with lock:
            done[0] += 1
            if done[0] % 1000 == 0:
                print(f"  {done[0]:,} / {len(orders):,} ended", file=sys.stderr, flush=True)
        return paid

    with ThreadPoolExecutor(workers, thread_name_prefix="payer") as pool:
        results = list(pool.map(one, orders))
    return results, time.monotonic() - started


@dataclass(frozen=True)
class Audit:
    """The simulator's records against the orders."""

    held: int  # transfers the provider holds
    paid_twice: list[str]  # externalIds under more than one reference
    lost: list[str]  # orders the provider does not hold, or not ended, or seen otherwise
    wrong_amount: list[str]  # orders held with another amount


def audit(orders: Iterable[PayoutOrder], results: list[Paid], listing: dict[str, Any]) -> Audit:
    """Compare the orders and what the client saw with /_sim/transfers' `listing`."""
    by_reference = {t["referenceId"]: t for t in listing["transfers"]}
    seen = {paid.reference: paid for paid in results}
    lost, wrong_amount = [], []
    for order in orders:
        held = by_reference.get(str(order.reference))
        paid = seen.get(str(order.reference))
        if (
            held is None
            or paid is None
            or held["status"] == PENDING
            or paid.state != held["status"]
        ):
            lost.append(order.external_id)
        elif amount_minor_of(held["amount"], held["currency"]) != order.amount_minor:
            wrong_amount.append(order.external_id)
    return Audit(len(by_reference), list(listing["duplicate_external_ids"]), lost, wrong_amount)


def faults_for(rate: float, hold_ms: int) -> dict[str, float]:
    """The simulator's faults for a total rate: POST faults split by FAULT_SHARES, GETs alike."""
    faults: dict[str, float] = {name: rate * share for name, share in FAULT_SHARES.items()}
    return {**faults, "status_error_rate": rate, "hold_ms": hold_ms}


def report(
    results: list[Paid], wall_s: float, stats: dict[str, Any], checked: Audit, rate: float
) -> str:
    """The table of one run."""
    settle = [paid.settle_s * 1000 for paid in results]
    faults = {k.removeprefix("fault_"): v for k, v in stats.items() if k.startswith("fault_")}
    states = {state: sum(p.state == state for p in results) for state in ("SUCCESSFUL", "FAILED")}
    rows: list[list[object]] = [
        ["transfers (orders)", len(results)],
        ["paid / failed (refund)", f"{states['SUCCESSFUL']:,} / {states['FAILED']:,}"],
        ["transfer POSTs / status GETs",
         f"{stats.get('transfer_posts', 0):,} / {stats.get('status_gets', 0):,}"],
        [f"faults injected ({rate:.0%} of each)", sum(faults.values())],
        ["  500 before storing / stored then 500 / held past timeout",
         f"{faults.get('fail', 0):,} / {faults.get('accept_then_500', 0):,}"
         f" / {faults.get('timeout', 0):,}"],
        ["  status GETs answered 500", faults.get("status", 0)],
        ["409 on a retry (already taken)", stats.get("conflicts", 0)],
        ["transfers held by the provider", checked.held],
        ["paid twice (must be 0)", len(checked.paid_twice)],
        ["lost (must be 0)", len(checked.lost)],
        ["wrong amount (must be 0)", len(checked.wrong_amount)],
        ["time to settle median / p95 / p99 / max ms",
         " / ".join(f"{pct(settle, q):,.0f}" for q in (50, 95, 99, 100))],
        ["throughput (orders ended / s)", round(len(results) / wall_s, 1)],
        ["wall s", round(wall_s, 1)],
    ]  # fmt: skip
    return table("payouts through the MoMo simulator (connector only)", ["", "value"], rows)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit 1 if any order was paid twice, lost or paid a wrong amount."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--transfers", type=int, default=1000)
    parser.add_argument("--fault-rate", type=float, default=0.10)
    parser.add_argument("--failing", type=float, default=0.05)
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--success-delay-ms", type=int, default=200)
    parser.add_argument("--client-timeout-s", type=float, default=1.0)
    parser.add_argument("--hold-ms", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--url", help="a running simulator (with --api-user, --api-key, ...)")
    parser.add_argument("--api-user", default=str(uuid.UUID(int=1, version=4)))
    parser.add_argument("--api-key", default="bench-api-key")
    parser.add_argument("--subscription-key", default="bench-subscription-key")
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args(argv)
    logging.getLogger("central.payouts.momo").setLevel(logging.ERROR)  # injected 500s: thousands
    process = None
    url = args.url
    if url is None:
        sim_args = ["--api-user", args.api_user, "--api-key", args.api_key]
        sim_args += ["--subscription-key", args.subscription_key, "--seed", str(args.seed)]
        sim_args += ["--success-delay-ms", str(args.success_delay_ms)]
        log = Path(tempfile.gettempdir()) / "zamio-bench-payouts-sim.log"
        with log.open("ab") as stream:
            url, process = start_process(sim_args, stream)
    try:
        return _run(args, url)
    finally:
        if process is not None:
            stop_process(process)


def _run(args: argparse.Namespace, url: str) -> int:
    """The run against the simulator at `url`."""
    control = SimControl(url)
    control.reset()
    control.faults(**faults_for(args.fault_rate, args.hold_ms))
    provider = MomoProvider(
        url, args.api_user, args.api_key, args.subscription_key, timeout_s=args.client_timeout_s
    )
    orders = make_orders(args.transfers, args.failing, args.seed)
    print(f"paying {len(orders):,} orders with {args.workers} workers at {url}", file=sys.stderr)
    results, wall_s = run_orders(
        orders, lambda order: pay_by_reference(provider, order), args.workers
    )
    checked = audit(orders, results, control.transfers())
    stats = control.stats()
    print(report(results, wall_s, stats, checked, args.fault_rate))
    if args.json:
        summary = {"audit": asdict(checked), "stats": stats, "wall_s": wall_s, "args": vars(args)}
        summary["settle_ms"] = sorted(paid.settle_s * 1000 for paid in results)
        args.json.write_text(json.dumps(summary, default=str, indent=1))
    return 1 if checked.paid_twice or checked.lost or checked.wrong_amount else 0


if __name__ == "__main__":
    sys.exit(main())
