"""The ledger's invariants, checked over a journal read in seq order (pure: no I/O).

Per transfer: seq follows the last one; prev_hash is the last chain hash; the content hash and
chain hash recompute; debits equal credits, both there; its accounts exist and keep its
currency; a post or void repeats the legs of a pending transfer before it, a reversal mirrors
the legs of a posted transfer before it. At the end: the chain head is the last transfer, every
account's four totals equal the sums of its entries (by EFFECTS), and no account is below its
floor. verify.py reads the database and feeds an Audit.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass

from central.ledger import balances, chain
from central.ledger.balances import AccountState, rule_broken
from central.ledger.money import format_minor
from central.ledger.transfer import (
    CREDIT,
    DEBIT,
    EFFECTS,
    MONEY_STATES,
    PENDING,
    POSTED,
    POSTED_FROM_PENDING,
    VOIDED,
    Leg,
    mirror,
)

PROBLEMS_MAX = 200  # listed in a report; the rest are counted


@dataclass(frozen=True)
class JournalTransfer:
    """A stored transfer's fields, as an audit reads them (ids as text)."""

    seq: int
    id: str
    idempotency_key: str
    code: str
    state: str
    currency: str
    pending_id: str | None
    reverses_id: str | None
    metadata_json: str
    content_hash: str
    prev_hash: str
    hash: str
    created_at_us: int


EntryRow = tuple[int, str, int]  # (account_id, side, amount_minor), in leg order


def _name(t: JournalTransfer) -> str:
    """How a problem names a transfer."""
    return f"transfer seq {t.seq} ({t.idempotency_key})"


@dataclass(frozen=True)
class Report:
    """What verify found: counts, the chain head, and every problem (the first PROBLEMS_MAX)."""

    transfers: int
    entries: int
    accounts: int
    head_seq: int
    head_hash: str
    problems: tuple[str, ...]
    problems_omitted: int

    @property
    def ok(self) -> bool:
        """True when no invariant is broken."""
        return not self.problems

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready dict, with `ok`."""
        return {"ok": self.ok, **asdict(self)}


class Audit:
    """Feed transfers in seq order with `transfer`, then call `finish` for the Report."""

    def __init__(self, accounts: Mapping[int, AccountState], referenced: Collection[str]) -> None:
        self.accounts = accounts
        self.referenced = referenced  # ids some later transfer resolves or reverses
        self.codes = {account_id: a.code for account_id, a in accounts.items()}
        self.currencies = {account_id: a.currency for account_id, a in accounts.items()}
        self.sums = {account_id: [0, 0, 0, 0] for account_id in accounts}
        self.kept: dict[str, tuple[str, tuple[Leg, ...]]] = {}
        self.problems: list[str] = []
        self.omitted = 0
        self.transfers = self.entries = self.last_seq = 0
        self.last_hash = chain.GENESIS_HASH

    def problem(self, text: str) -> None:
        """Record a problem (counted only, past PROBLEMS_MAX)."""
        if len(self.problems) < PROBLEMS_MAX:
            self.problems.append(text)
        else:
            self.omitted += 1

    def transfer(self, t: JournalTransfer, entries: Sequence[EntryRow]) -> None:
        """Check one transfer and add its entries to the account sums."""
        self.transfers += 1
        self.entries += len(entries)
        self._check_chain(t)
        legs = self._legs(t, entries)
        if legs is not None:
            content = chain.content_hash(
                t.id, t.idempotency_key, t.code, t.state, t.currency, t.pending_id,
                t.reverses_id, legs, t.metadata_json,
            )  # fmt: skip
            if content != t.content_hash:
                self.problem(
                    f"{_name(t)}: content hash does not recompute: fields or entries changed"
                )
            self._check_links(t, legs)
            if t.id in self.referenced:
                self.kept[t.id] = (t.state, tuple(Leg(*leg) for leg in legs))
        self._add(t, entries)
        self.last_seq, self.last_hash = t.seq, t.hash

    def _check_chain(self, t: JournalTransfer) -> None:
        """seq without a gap, prev_hash linking to the last hash, the chain hash itself."""
        if t.seq != self.last_seq + 1:
            self.problem(f"{_name(t)}: follows seq {self.last_seq}: transfers are missing")
        if t.prev_hash != self.last_hash:
            self.problem(
                f"{_name(t)}: prev_hash is not the hash of seq {self.last_seq}: chain broken"
            )
        if chain.chain_hash(t.seq, t.prev_hash, t.content_hash, t.created_at_us) != t.hash:
            self.problem(f"{_name(t)}: its chain hash does not recompute: its row was changed")

    def _legs(self, t: JournalTransfer, entries: Sequence[EntryRow]) -> list[chain.LegTuple] | None:
        """(code, side, amount) per entry, checked for balance and currency; None if unreadable."""
        codes, currencies = self.codes, self.currencies
        if not entries or any(a not in codes for a, _, _ in entries):
            unknown = [a for a, _, _ in entries if a not in codes]
            self.problem(f"{_name(t)}: entries on unknown accounts {unknown} or no entries")
            return None
        debits = credits = 0
        for _, side, amount in entries:
            if side == DEBIT:
                debits += amount
            elif side == CREDIT:
                credits += amount
        if debits != credits or not debits or any(amount <= 0 for _, _, amount in entries):
            self.problem(f"{_name(t)}: unbalanced: debits {debits} != credits {credits}")
        if any(currencies[a] != t.currency for a, _, _ in entries):
            other = sorted({codes[a] for a, _, _ in entries if currencies[a] != t.currency})
            self.problem(f"{_name(t)}: in {t.currency}, but on accounts of another: {other}")
        return [(codes[a], side, amount) for a, side, amount in entries]

    def _check_links(self, t: JournalTransfer, legs: list[chain.LegTuple]) -> None:
        """Posts and voids repeat a pending transfer before them; reversals mirror one."""
        resolves = t.state in (POSTED_FROM_PENDING, VOIDED)
        if resolves != (t.pending_id is not None) or t.state not in EFFECTS:
            self.problem(f"{_name(t)}: state {t.state} with pending_id {t.pending_id}")
        if t.pending_id is None and t.reverses_id is None:
            return
        own = tuple(Leg(*leg) for leg in legs)
        if t.pending_id is not None:
            kept = self.kept.get(t.pending_id)
            if kept is None or kept[0] != PENDING or kept[1] != own:
                self.problem(
                    f"{_name(t)}: does not repeat the legs of a pending transfer before it"
                )
        if t.reverses_id is not None:
            kept = self.kept.get(t.reverses_id)
            if t.state != POSTED or kept is None or kept[0] not in MONEY_STATES:
                self.problem(f"{_name(t)}: reverses no posted transfer before it")
            elif mirror(kept[1]) != own:
                self.problem(f"{_name(t)}: does not mirror the legs of the transfer it reverses")

    def _add(self, t: JournalTransfer, entries: Sequence[EntryRow]) -> None:
        """Add the entries' effects to the sums of their accounts."""
        posted_sign, pending_sign = EFFECTS.get(t.state, (0, 0))
        for account_id, side, amount in entries:
            sums = self.sums.get(account_id)
            if sums is None:
                continue
            column = 0 if side == DEBIT else 1
            sums[column] += posted_sign * amount
            sums[column + 2] += pending_sign * amount

    def finish(self, head: tuple[int, str] | None) -> Report:
        """Check the chain head and every account; the Report."""
        head_seq, head_hash = head if head is not None else (0, chain.GENESIS_HASH)
        if (head_seq, head_hash) != (self.last_seq, self.last_hash):
            self.problem(
                f"chain head: seq {head_seq} hash {head_hash[:12]}, but the journal ends at seq"
                f" {self.last_seq} hash {self.last_hash[:12]}: transfers are missing or changed"
            )
        for account_id, account in sorted(self.accounts.items(), key=lambda item: item[1].code):
            self._check_account(account, self.sums[account_id])
        return Report(
            self.transfers, self.entries, len(self.accounts), head_seq, head_hash,
            tuple(self.problems), self.omitted,
        )  # fmt: skip

    def _check_account(self, account: AccountState, sums: list[int]) -> None:
        """Its totals are its entries' sums; no pending sum below zero; not below its floor."""
        for column, stored, summed in zip(balances.TOTALS, account.totals, sums):
            if stored != summed:
                self.problem(f"account {account.code}: {column} {stored} != {summed} from entries")
        if min(sums[2], sums[3]) < 0:
            self.problem(f"account {account.code}: its entries release more than they held")
        if rule_broken(account):
            self.problem(
                f"account {account.code}: available"
                f" {format_minor(account.available_minor, account.currency)} is below its floor"
                f" {format_minor(account.balance_min_minor or 0, account.currency)}"
            )
