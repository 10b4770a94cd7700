"""Payouts benchmark, the full path: N withdrawals through the real domain (requested, held in
the ledger, approved by admins, sent and followed by real `zamio worker` processes) on
PostgreSQL and Redis, paid through a `zamio momo-sim` process with injected faults; then audited
against the simulator's records and the ledger. Prints a table; never asserts timings.

    python bench/payouts.py --path withdrawals [--withdrawals 10000] [--per-party 10]
        [--workers 2] [--fault-rate 0.10] [--failing 0.05] [--four-eyes 0.10] [--clients 2]
        [--sweep-every-s 60] [--sweep-grace-s 60] [--callbacks] [--redis-db N] [--json out.json]

What it runs: a throwaway database (made, migrated with flask_migrate.upgrade, dropped after),
a Redis db number claimed as the tests claim theirs (tests/integration/conftest.py; flushed and
given back after), the simulator (200 ms success delay; faults as bench/payouts.py's connector
half: of transfer POSTs 40 % a 500 before storing, 30 % stored then a 500, 30 % stored then held
past the connector's 1 s timeout; of status GETs a 500), and `--workers` `zamio worker`
processes (RQ's scheduler, which enqueues each withdrawal's next check when due, runs in them).

Setup: N / --per-party parties (artist users, no password), each funded by one posted transfer
(settlement:bank -> its earnings, kind artist_earnings) and given a MoMo method checked with the
provider; --failing of the parties have numbers the simulator fails (...123450, ...123455);
--four-eyes of the withdrawals are at ZAMIO_PAYOUTS_FOUR_EYES_MINOR or more, so two admins
approve them. Then, timed: every request (central.payouts.actions.request_withdrawal, from
--clients threads), every approval (actions.approve, which enqueues send_withdrawal on Redis),
and the wait until every withdrawal is final.

The sweep: `zamio scheduler` runs jobs.sweep_payouts every SWEEP_PAYOUTS_S (60 s); this bench
does what it does from its own process instead, every --sweep-every-s (default the same):
disburse.due with --sweep-grace-s (default SWEEP_GRACE_S, 60 s; shorter is allowed), then
check_withdrawal enqueued on Redis for each; it reports how many it picked up. No worker dies
here, so each one it picks up already had a job, queued behind others.
Callbacks: without --callbacks the simulator's callbacks are refused (ZAMIO_PUBLIC_URL is a
port nobody listens on), so each withdrawal is settled by polling alone (first check after 2 s);
with --callbacks a `zamio serve` takes them and asks the provider sooner.

The audit (`audit`, pure): 0 paid twice (an externalId under two references, a reference listed
twice, the simulator's reference for a withdrawal not its stored one, a transfer for no
withdrawal), 0 lost (every withdrawal paid or failed), the provider agrees (paid: SUCCESSFUL with
the amount; failed: FAILED or never taken), the ledger agrees (paid: the hold posted by
payout:withdrawal:<id>:paid, never voided; failed: voided, never posted), the paid amounts sum
to the settlement:momo:* accounts' posted credits (and nothing stays pending there); then
central.ledger.verify and central.payouts.reconcile (faults off) must find nothing.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import pct, table  # noqa: E402
from bench.payouts import FAILING_SUFFIXES, MOBILE_PREFIXES, faults_for  # noqa: E402
from central.payouts.momo import amount_minor_of  # noqa: E402
from central.payouts.momo_sim_rules import TEST_NUMBERS  # noqa: E402

PARTY = "artist:bench-{n:05d}:earnings"
ARTIST_EMAIL = "artist{n:05d}@bench.zamio.test"
ADMIN_EMAILS = ("ops@bench.zamio.test", "finance@bench.zamio.test")
FUNDING_KEY = "bench:fund:{party}"
SETTLEMENT_PREFIX = "settlement:momo:"
AMOUNT_MINOR_MAX = 50_000  # GHS 500.00: an ordinary withdrawal
SETUP_COMMIT_EVERY = 200
# The tests' Redis claims (tests/integration/conftest.py): SET NX with an expiry in db 0, so
# that a test run and this bench never flush each other's db. The bench claims from the top.
REDIS_CLAIM_PREFIX = "zamio-test:redis-db-claim:"
REDIS_DBS = range(15, 0, -1)
REDIS_CLAIM_S = 3 * 3600
START_S_MAX = 60.0
POLL_S = 1.0  # how often the bench looks whether every withdrawal is final
FINAL = ("paid", "failed")


@dataclass(frozen=True)
class PartyPlan:
    """One party of the run: its earnings account, its MoMo number, what it will ask for."""

    party: str
    email: str
    msisdn: str
    amounts: tuple[int, ...]


def make_plan(
    count: int,
    per_party: int,
    failing_share: float,
    four_eyes_share: float,
    minimum_minor: int,
    four_eyes_minor: int,
    seed: int,
) -> list[PartyPlan]:
    """`count` withdrawals over ceil(count / per_party) parties: amounts from the minimum to
    GHS 500.00, `four_eyes_share` of them from `four_eyes_minor` to twice that; `failing_share`
    of the parties on a number the simulator fails."""
    rng = random.Random(seed)
    plans, left, n = [], count, 0
    while left > 0:
        national = f"{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**7):07d}"
        if rng.random() < failing_share:
            national = national[:3] + rng.choice(FAILING_SUFFIXES)
        elif national[-6:] in TEST_NUMBERS:  # keep ordinary numbers ordinary
            national = national[:3] + "000000"
        amounts = tuple(
            rng.randrange(four_eyes_minor, 2 * four_eyes_minor + 1)
            if rng.random() < four_eyes_share
            else rng.randrange(minimum_minor, AMOUNT_MINOR_MAX + 1)
            for _ in range(min(per_party, left))
        )
        plans.append(
            PartyPlan(PARTY.format(n=n), ARTIST_EMAIL.format(n=n), f"0{national}", amounts)
        )
        left -= len(amounts)
        n += 1
    return plans


@dataclass(frozen=True)
class Row:
    """A withdrawal as the database holds it at the end."""

    id: int
    status: str
    amount_minor: int
    reference: str | None
    approvals_needed: int = 1
    submit_attempts: int = 0
    checks: int = 0


@dataclass
class Audit:
    """What the audit found; every list must be empty."""

    withdrawals: int
    paid: int
    failed: int
    paid_twice: list[str] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)
    provider_disagrees: list[int] = field(default_factory=list)
    ledger_disagrees: list[int] = field(default_factory=list)
    paid_minor: int = 0
    settlement_credits_minor: int = 0
    settlement_pending_minor: int = 0

    @property
    def ok(self) -> bool:
        """Nothing paid twice or lost, provider and ledger agree, the money adds up."""
        return not (
            self.paid_twice or self.lost or self.provider_disagrees or self.ledger_disagrees
        ) and (self.paid_minor, self.settlement_pending_minor) == (
            self.settlement_credits_minor,
            0,
        )


def ledger_resolutions(keys: Iterable[tuple[str, str]]) -> dict[int, dict[str, str]]:
    """withdrawal id -> {"hold"|"paid"|"void": transfer state}, from (idempotency key, state)
    of the ledger's payout transfers (payout:withdrawal:<id>:<what>)."""
    found: dict[int, dict[str, str]] = defaultdict(dict)
    for key, state in keys:
        parts = key.split(":")
        if len(parts) == 4 and parts[:2] == ["payout", "withdrawal"] and parts[2].isdigit():
            found[int(parts[2])][parts[3]] = state
    return dict(found)


def audit(
    rows: list[Row],
    ledger: dict[int, dict[str, str]],
    listing: dict[str, Any],
    settlement: Iterable[tuple[int, int]],
) -> Audit:
    """Compare the withdrawals with the ledger's resolutions of their holds, the simulator's
    /_sim/transfers `listing` and the settlement accounts' (posted credits, pending credits)."""
    transfers = listing["transfers"]
    by_external: dict[str, list[dict]] = defaultdict(list)
    for transfer in transfers:
        by_external[str(transfer["externalId"])].append(transfer)
    references = Counter(t["referenceId"] for t in transfers)
    twice = {f"externalId {e}" for e in listing["duplicate_external_ids"]}
    twice |= {f"reference {r}" for r, n in references.items() if n > 1}
    twice |= {
        f"externalId {e}: no withdrawal" for e in set(by_external) - {str(r.id) for r in rows}
    }
    credits = list(settlement)
    found = Audit(
        len(rows), sum(r.status == "paid" for r in rows), sum(r.status == "failed" for r in rows),
        settlement_credits_minor=sum(c for c, _ in credits),
        settlement_pending_minor=sum(p for _, p in credits),
    )  # fmt: skip
    for row in rows:
        held = by_external.get(str(row.id), [])
        if len(held) > 1 or (held and held[0]["referenceId"] != row.reference):
            twice.add(f"externalId {row.id}")
        if row.status not in FINAL:
            found.lost.append(row.id)
            continue
        if not _provider_agrees(row, held[0] if held else None):
            found.provider_disagrees.append(row.id)
        if not _ledger_agrees(row, ledger.get(row.id, {})):
            found.ledger_disagrees.append(row.id)
        if row.status == "paid":
            found.paid_minor += row.amount_minor
    found.paid_twice = sorted(twice)
    return found


def _provider_agrees(row: Row, held: dict | None) -> bool:
    """Paid: the provider holds it SUCCESSFUL with our amount; failed: FAILED or never taken."""
    if row.status == "paid":
        return (
            held is not None
            and held["status"] == "SUCCESSFUL"
            and amount_minor_of(held["amount"], held["currency"]) == row.amount_minor
        )
    return held is None or held["status"] == "FAILED"


def _ledger_agrees(row: Row, resolution: dict[str, str]) -> bool:
    """Paid: held and posted, never voided; failed: held and voided, never posted."""
    if resolution.get("hold") != "pending":
        return False
    if row.status == "paid":
        return resolution.get("paid") == "posted_from_pending" and "void" not in resolution
    return resolution.get("void") == "voided" and "paid" not in resolution


def settle_times_s(events: Iterable[tuple[int, str, datetime]]) -> dict[int, float]:
    """withdrawal id -> seconds from its approval (the `approved` event) to its final event,
    from payout_event rows (withdrawal id, to_status, at); withdrawals not final are left out."""
    approved: dict[int, datetime] = {}
    final: dict[int, datetime] = {}
    for withdrawal_id, to_status, at in events:
        if to_status == "approved":
            approved[withdrawal_id] = at
        elif to_status in FINAL:
            final[withdrawal_id] = at
    return {w: (final[w] - approved[w]).total_seconds() for w in final if w in approved}


# Services: the database, Redis, the simulator, the workers.


def claim_redis_db(connection: Any, owner: str, forced: int | None) -> int:
    """A Redis db number for this run, claimed as the tests claim theirs, and empty."""
    for number in [forced] if forced is not None else REDIS_DBS:
        key = f"{REDIS_CLAIM_PREFIX}{number}"
        if not connection.set(key, owner, nx=True, ex=REDIS_CLAIM_S):
            continue
        if _db_size(connection, number) == 0:
            return number
        connection.delete(key)
    raise RuntimeError("no free, empty Redis db (1-15) to claim: give one with --redis-db")


def _db_size(connection: Any, number: int) -> int:
    """Keys in Redis db `number` (the claim connection stays on db 0)."""
    import redis

    kwargs = connection.connection_pool.connection_kwargs
    with redis.Redis(host=kwargs["host"], port=kwargs["port"], db=number) as other:
        return int(other.dbsize())


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def service_env(settings: dict[str, object]) -> dict[str, str]:
    """This process's environment without ZAMIO_*, plus `settings` as ZAMIO_* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZAMIO_")}
    return env | {f"ZAMIO_{k}": str(v) for k, v in settings.items()}


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """`python -m central COMMAND` as its own process group, its output appended to `log`."""
    with log.open("ab") as stream:
        return subprocess.Popen(
            [sys.executable, "-m", "central", *command], env=env, stdout=stream,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


def stop(process: subprocess.Popen) -> None:
    """SIGTERM the process (SIGKILL after 20 s) and reap it."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_http(url: str, process: subprocess.Popen) -> None:
    """Until `url` answers; RuntimeError if the process dies first or it takes too long."""
    import requests

    deadline = time.monotonic() + START_S_MAX
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            if process.poll() is not None:
                break
            time.sleep(0.2)
    raise RuntimeError(f"{url} never answered (exit {process.poll()})")


# The run.


@dataclass
class Timing:
    """Wall times of the run's phases, and what the sweep picked up."""

    setup_s: float = 0.0
    request_s: float = 0.0
    approve_s: float = 0.0
    settle_wall_s: float = 0.0  # first approval to the last withdrawal final
    swept: int = 0
    sweeps: int = 0
    refused_requests: list[str] = field(default_factory=list)


def setup(app: Any, plans: list[PartyPlan]) -> tuple[list[int], dict[str, int]]:
    """The admins (their user ids), the parties funded, their users and checked MoMo methods
    (party -> its user id)."""
    from central.auth import users
    from central.extensions import db
    from central.ledger import posting
    from central.ledger.accounts import account_spec, open_account
    from central.ledger.transfer import TransferRequest, credit, debit
    from central.payouts import actions
    from central.payouts.withdrawals import Actor

    with app.app_context():
        admins = [users.add_user(db.session, email, "admin").id for email in ADMIN_EMAILS]
        open_account(db.session, account_spec("settlement:bank", "settlement"))
        people: dict[str, int] = {}
        for n, plan in enumerate(plans):
            open_account(db.session, account_spec(plan.party, "artist_earnings"))
            total = sum(plan.amounts)
            posting.post_transfer(db.session, TransferRequest(
                FUNDING_KEY.format(party=plan.party), "royalty",
                (debit("settlement:bank", total), credit(plan.party, total)),
            ))  # fmt: skip
            people[plan.party] = users.add_user(
                db.session, plan.email, "artist", None, (), (plan.party,)
            ).id
            if n % SETUP_COMMIT_EVERY == 0:
                db.session.commit()
        db.session.commit()
        for plan in plans:  # commits each (a checked method: the provider's account check)
            user_id = people[plan.party]
            actor = Actor(f"user:{user_id}", "api", user_id)
            actions.add_momo_method(app, actor, plan.party, plan.msisdn, None)
    return admins, people


def run_parallel(
    items: list, step: Callable[[Any], None], clients: int, what: str
) -> tuple[float, list[str]]:
    """`step(item)` for every item from `clients` threads, each in its own app context (the
    step pushes it); wall seconds and the errors met."""
    started = time.monotonic()
    errors: list[str] = []
    done = [0]
    lock = threading.Lock()

    def one(item: Any) -> None:
        """One step, counted."""
        try:
            step(item)
        except Exception as error:  # noqa: BLE001 (reported: the audit counts what is missing)
            with lock:
                errors.append(f"{what} {item!r}: {type(error).__name__}: {error}")
        with lock:
            done[0] += 1
            if done[0] % 1000 == 0:
                print(f"  {done[0]:,} / {len(items):,} {what}", file=sys.stderr, flush=True)

    with ThreadPoolExecutor(clients, thread_name_prefix=what) as pool:
        list(pool.map(one, items))
    return time.monotonic() - started, errors


def request_all(app: Any, plans: list[PartyPlan], people: dict[str, int], clients: int) -> tuple:
    """Every planned withdrawal asked for, by its party's user: (wall s, errors)."""
    from central.payouts import actions
    from central.payouts.withdrawals import Actor

    asks = [(plan.party, i, amount) for plan in plans for i, amount in enumerate(plan.amounts)]
    rng = random.Random(len(asks))
    rng.shuffle(asks)  # parties interleaved, as people ask

    def ask(item: tuple[str, int, int]) -> None:
        """One request, under its own idempotency key."""
        party, i, amount = item
        actor = Actor(f"user:{people[party]}", "api", people[party])
        with app.app_context():
            actions.request_withdrawal(app, actor, party, amount, key=f"bench:{party}:{i}")

    return run_parallel(asks, ask, clients, "requested")


def approve_all(app: Any, admins: list[int], clients: int) -> tuple[float, list[str]]:
    """Every requested withdrawal approved (the second admin too where two are needed), in id
    order; each last approval enqueues its send_withdrawal: (wall s, errors)."""
    from sqlalchemy import select

    from central.extensions import db
    from central.payouts import actions
    from central.payouts.models import Withdrawal
    from central.payouts.withdrawals import Actor

    with app.app_context():
        query = select(Withdrawal.id, Withdrawal.approvals_needed).where(
            Withdrawal.status == "requested"
        )
        pending = list(db.session.execute(query.order_by(Withdrawal.id)))
        db.session.commit()
    by = [Actor(f"user:{admin}", "console", admin) for admin in admins]

    def approve(item: tuple[int, int]) -> None:
        """The approvals one withdrawal needs."""
        withdrawal_id, needed = item
        with app.app_context():
            for actor in by[:needed]:
                actions.approve(app, actor, withdrawal_id)

    return run_parallel([tuple(p) for p in pending], approve, clients, "approved")


def settle(
    app: Any, queue: Any, total: int, every_s: float, grace_s: float, timeout_s: float,
    timing: Timing,
) -> int:  # fmt: skip
    """Wait until every withdrawal is final (or `timeout_s`), sweeping every `every_s` as
    sweep_payouts does (disburse.due with `grace_s`, then check_withdrawal enqueued for each);
    how many are still not final."""
    from sqlalchemy import func, select

    from central import queues
    from central.extensions import db
    from central.payouts import disburse, jobs
    from central.payouts.models import Withdrawal

    deadline = time.monotonic() + timeout_s
    shown = swept = time.monotonic()
    while True:
        with app.app_context():
            left = db.session.scalar(select(func.count()).where(Withdrawal.status.not_in(FINAL)))
            sweep = bool(left) and time.monotonic() - swept >= every_s
            due = disburse.due(db.session, grace_s=grace_s) if sweep else []
            db.session.commit()
        if not left or time.monotonic() > deadline:
            return int(left or 0)
        if sweep:
            for withdrawal_id in due:
                queue.enqueue(jobs.check_withdrawal, withdrawal_id, retry=queues.retry())
            timing.swept += len(due)
            timing.sweeps += 1
            swept = time.monotonic()
        if time.monotonic() - shown > 10:
            print(f"  {total - left:,} / {total:,} final", file=sys.stderr, flush=True)
            shown = time.monotonic()
        time.sleep(POLL_S)


def collect(app: Any) -> tuple[list[Row], dict, list[tuple[int, int]], dict[int, float]]:
    """The end state: withdrawals, the ledger's resolutions, the settlement accounts' (posted,
    pending) credits, and each withdrawal's approval-to-final seconds."""
    from sqlalchemy import select

    from central.extensions import db
    from central.ledger.models import Account, Transfer
    from central.payouts.models import Withdrawal, WithdrawalEvent

    with app.app_context():
        w = Withdrawal
        rows = [
            Row(i, s, a, None if r is None else str(r), n, sa, c)
            for i, s, a, r, n, sa, c in db.session.execute(
                select(w.id, w.status, w.amount_minor, w.reference, w.approvals_needed,
                       w.submit_attempts, w.checks).order_by(w.id)
            )
        ]  # fmt: skip
        keys = db.session.execute(
            select(Transfer.idempotency_key, Transfer.state).where(
                Transfer.idempotency_key.startswith("payout:withdrawal:")
            )
        )
        ledger = ledger_resolutions(keys)
        settlement = list(db.session.execute(
            select(Account.credits_posted_minor, Account.credits_pending_minor).where(
                Account.code.startswith(SETTLEMENT_PREFIX)
            )
        ))  # fmt: skip
        events = db.session.execute(
            select(WithdrawalEvent.withdrawal_id, WithdrawalEvent.to_status, WithdrawalEvent.at)
        )
        times = settle_times_s(events)
        db.session.commit()
    return rows, ledger, [tuple(s) for s in settlement], times


def checks(app: Any, control: Any) -> dict[str, Any]:
    """`zamio ledger verify`'s and `zamio payouts reconcile`'s findings (faults off first)."""
    from central.extensions import db
    from central.ledger.verify import verify
    from central.payouts import jobs, reconcile

    control.faults(**{name: 0 for name in faults_for(0.0, 0) if name != "hold_ms"})
    with app.app_context():
        report = verify(db.session)
        db.session.commit()
        run = reconcile.reconcile(db.session, jobs.provider_for(app), "bench")
        db.session.commit()
        found = {
            "verify_ok": report.ok, "verify_problems": list(report.problems[:20]),
            "transfers": report.transfers, "entries": report.entries,
            "reconcile_checked": run.checked, "reconcile_mismatches": run.mismatches,
            "reconcile_unreachable": run.unreachable,
            "reconcile_report": json.loads(run.report_json)[:20],
        }  # fmt: skip
    return found


def report(
    checked: Audit, rows: list[Row], times: dict[int, float], timing: Timing,
    stats: dict[str, Any], found: dict[str, Any], args: argparse.Namespace,
) -> str:  # fmt: skip
    """The table of one run."""
    settle_ms = [s * 1000 for s in times.values()]
    faults = {k.removeprefix("fault_"): v for k, v in stats.items() if k.startswith("fault_")}
    n = len(rows)
    two = sum(r.approvals_needed == 2 for r in rows)
    rows_out: list[list[object]] = [
        ["withdrawals (parties x per party)",
         f"{n:,} ({-(-n // args.per_party):,} x {args.per_party})"],
        ["setup s (users, funding, checked methods)", round(timing.setup_s, 1)],
        ["requested in s (requests / s)", f"{timing.request_s:,.1f} ({n / timing.request_s:,.0f})"],
        ["approved in s (1 / 2 admins)", f"{timing.approve_s:,.1f} ({n - two:,} / {two:,})"],
        ["paid / failed (refund)", f"{checked.paid:,} / {checked.failed:,}"],
        ["transfer POSTs / status GETs",
         f"{stats.get('transfer_posts', 0):,} / {stats.get('status_gets', 0):,}"],
        [f"faults injected ({args.fault_rate:.0%} of each)", sum(faults.values())],
        ["  500 before storing / stored then 500 / held past timeout",
         f"{faults.get('fail', 0):,} / {faults.get('accept_then_500', 0):,}"
         f" / {faults.get('timeout', 0):,}"],
        ["  status GETs answered 500", faults.get("status", 0)],
        ["409 on a resend (already taken)", stats.get("conflicts", 0)],
        ["status checks recorded (withdrawal.checks)", sum(r.checks for r in rows)],
        [f"picked up by the sweep (grace {args.sweep_grace_s:g} s)", timing.swept],
        ["paid twice (must be 0)", len(checked.paid_twice)],
        ["lost: not final (must be 0)", len(checked.lost)],
        ["provider / ledger disagree (must be 0)",
         f"{len(checked.provider_disagrees)} / {len(checked.ledger_disagrees)}"],
        ["paid = settlement credits (GHS)",
         f"{checked.paid_minor / 100:,.2f} = {checked.settlement_credits_minor / 100:,.2f}"],
        ["ledger verify",
         "ok" if found["verify_ok"] else f"{len(found['verify_problems'])} problems"],
        ["reconcile: checked / mismatches / unreachable",
         f"{found['reconcile_checked']:,} / {found['reconcile_mismatches']} / "
         f"{found['reconcile_unreachable']}"],
        ["approval to final median / p95 / p99 / max ms",
         " / ".join(f"{pct(settle_ms, q):,.0f}" for q in (50, 95, 99, 100))],
        ["throughput (withdrawals final / s)",
         round(n / timing.settle_wall_s, 1) if timing.settle_wall_s else "-"],
        ["first approval to last final s", round(timing.settle_wall_s, 1)],
    ]  # fmt: skip
    title = (
        f"withdrawals through PostgreSQL, Redis, {args.workers} zamio workers and the MoMo "
        f"simulator ({'callbacks served' if args.callbacks else 'polling only'})"
    )
    return table(title, ["", "value"], rows_out)


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line of `--path withdrawals`."""
    from central.payouts.disburse import SWEEP_GRACE_S
    from central.payouts.jobs import SWEEP_PAYOUTS_S

    parser = argparse.ArgumentParser(
        prog="bench/payouts.py --path withdrawals", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--withdrawals", type=int, default=10_000)
    parser.add_argument("--per-party", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2, help="zamio worker processes")
    parser.add_argument("--clients", type=int, default=2, help="threads requesting, approving")
    parser.add_argument("--fault-rate", type=float, default=0.10)
    parser.add_argument("--failing", type=float, default=0.05, help="share of parties")
    parser.add_argument("--four-eyes", type=float, default=0.10, help="share needing 2 admins")
    parser.add_argument("--success-delay-ms", type=int, default=200)
    parser.add_argument("--client-timeout-s", type=int, default=1)
    parser.add_argument("--hold-ms", type=int, default=1500)
    parser.add_argument("--sweep-every-s", type=float, default=float(SWEEP_PAYOUTS_S))
    parser.add_argument("--sweep-grace-s", type=float, default=float(SWEEP_GRACE_S))
    parser.add_argument("--settle-timeout-s", type=float, default=1800.0)
    parser.add_argument("--callbacks", action="store_true", help="serve the API for callbacks")
    parser.add_argument("--redis-db", type=int, help="this Redis db number (claimed, flushed)")
    parser.add_argument("--redis-host", default="127.0.0.1")
    parser.add_argument("--redis-port", type=int, default=6379)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database")
    parser.add_argument("--json", type=Path, help="write the results here too")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the full-path benchmark; exit 1 if the audit, verify or reconcile found anything."""
    import redis

    from bench.pg import drop_database, make_database
    from central.payouts.momo_sim_control import start_process, stop_process

    args = parse(argv)
    logging.getLogger("central.payouts").setLevel(logging.ERROR)  # injected 500s: thousands
    logs = Path(tempfile.mkdtemp(prefix="zamio-bench-payouts-"))
    print(f"logs in {logs}", file=sys.stderr)
    owner = f"bench-payouts:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"
    claims = redis.Redis(host=args.redis_host, port=args.redis_port, db=0)
    number = claim_redis_db(claims, owner, args.redis_db)
    redis_url = f"redis://{args.redis_host}:{args.redis_port}/{number}"
    credentials = {"MOMO_API_USER": str(uuid.uuid4()), "MOMO_API_KEY": uuid.uuid4().hex,
                   "MOMO_SUBSCRIPTION_KEY": uuid.uuid4().hex}  # fmt: skip
    sim_args = ["--api-user", credentials["MOMO_API_USER"], "--api-key"]
    sim_args += [credentials["MOMO_API_KEY"], "--subscription-key"]
    sim_args += [credentials["MOMO_SUBSCRIPTION_KEY"], "--seed", str(args.seed)]
    sim_args += ["--success-delay-ms", str(args.success_delay_ms)]
    processes: list[subprocess.Popen] = []
    sim = database = None
    try:
        with (logs / "momo-sim.log").open("ab") as stream:
            sim_url, sim = start_process(sim_args, stream)
        print(f"simulator at {sim_url}; making the database", file=sys.stderr)
        database = make_database("zamio_bench_payouts")
        port = free_port()
        settings: dict[str, object] = {
            "DATABASE_URL": database, "REDIS_URL": redis_url, "MOMO_URL": sim_url,
            **credentials, "MOMO_TIMEOUT_S": args.client_timeout_s,
            "PUBLIC_URL": f"http://127.0.0.1:{port}",
        }  # fmt: skip
        return _run(args, settings, logs, processes, number)
    finally:
        for process in processes:
            stop(process)
        if sim is not None:
            stop_process(sim)
        if database is not None and not args.keep_db:
            drop_database(database)
        with redis.Redis(host=args.redis_host, port=args.redis_port, db=number) as ours:
            ours.flushdb()
        claims.eval(
            "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end",
            1, f"{REDIS_CLAIM_PREFIX}{number}", owner,
        )  # fmt: skip
        claims.close()


def _run(
    args: argparse.Namespace, settings: dict[str, object], logs: Path,
    processes: list[subprocess.Popen], redis_db: int,
) -> int:  # fmt: skip
    """The run, with the simulator and the database up; `processes` collects what it starts."""
    from central import create_app, queues
    from central.payouts.momo_sim_control import SimControl

    env = service_env(settings)
    if args.callbacks:
        port = str(settings["PUBLIC_URL"]).rsplit(":", 1)[1]
        processes.append(start(["serve", "--port", port], env, logs / "serve.log"))
        wait_http(f"{settings['PUBLIC_URL']}/health", processes[-1])
    for n in range(args.workers):
        processes.append(start(["worker"], env, logs / f"worker-{n}.log"))
    app = create_app(settings)
    control = SimControl(str(settings["MOMO_URL"]))
    zamio = app.config["ZAMIO"]
    plans = make_plan(
        args.withdrawals, args.per_party, args.failing, args.four_eyes,
        zamio.payouts_minimum_minor, zamio.payouts_four_eyes_minor, args.seed,
    )  # fmt: skip
    timing = Timing()
    print(f"setting up {len(plans):,} parties (Redis db {redis_db})", file=sys.stderr)
    started = time.monotonic()
    admins, people = setup(app, plans)
    timing.setup_s = time.monotonic() - started
    control.faults(**faults_for(args.fault_rate, args.hold_ms))
    print(f"requesting {args.withdrawals:,} withdrawals", file=sys.stderr)
    timing.request_s, timing.refused_requests = request_all(app, plans, people, args.clients)
    started = time.monotonic()
    print("approving", file=sys.stderr)
    timing.approve_s, approve_errors = approve_all(app, admins, args.clients)
    queue = queues.pipeline_queue(queues.redis_connection(str(settings["REDIS_URL"])))
    left = settle(
        app, queue, args.withdrawals, args.sweep_every_s, args.sweep_grace_s,
        args.settle_timeout_s, timing,
    )  # fmt: skip
    timing.settle_wall_s = time.monotonic() - started
    rows, ledger, settlement, times = collect(app)
    if times:  # from the first approval's event to the last final one
        timing.settle_wall_s = _event_span_s(app)
    listing = control.transfers()
    stats = control.stats()
    checked = audit(rows, ledger, listing, settlement)
    found = checks(app, control)
    print(report(checked, rows, times, timing, stats, found, args))
    for problem in [*timing.refused_requests[:5], *approve_errors[:5]]:
        print(f"  {problem}", file=sys.stderr)
    if left:
        print(f"  {left:,} withdrawals not final after {args.settle_timeout_s:g} s")
    if args.json:
        summary = {"audit": asdict(checked), "timing": asdict(timing), "checks": found,
                   "stats": stats, "args": vars(args), "approve_errors": approve_errors[:50],
                   "settle_ms": sorted(s * 1000 for s in times.values())}  # fmt: skip
        args.json.write_text(json.dumps(summary, default=str, indent=1))
    clean = checked.ok and found["verify_ok"] and not found["reconcile_mismatches"]
    return 0 if clean and not timing.refused_requests and not approve_errors else 1


def _event_span_s(app: Any) -> float:
    """Seconds from the first `approved` event to the last final one."""
    from sqlalchemy import func, select

    from central.extensions import db
    from central.payouts.models import WithdrawalEvent as E

    with app.app_context():
        first = db.session.scalar(select(func.min(E.at)).where(E.to_status == "approved"))
        last = db.session.scalar(select(func.max(E.at)).where(E.to_status.in_(FINAL)))
        db.session.commit()
    return (last - first).total_seconds() if first and last else 0.0


if __name__ == "__main__":
    sys.exit(main())
