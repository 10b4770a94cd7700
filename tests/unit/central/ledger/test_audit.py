"""central.ledger.audit: a consistent journal passes; each kind of damage is named."""

from __future__ import annotations

import dataclasses

from central.ledger import chain
from central.ledger.audit import Audit, JournalTransfer, Report
from central.ledger.balances import AccountState, apply
from central.ledger.transfer import (
    Draft,
    TransferRequest,
    credit,
    debit,
    draft,
    resolution_draft,
    reversal_draft,
)

T0_US = 1_790_000_000_000_000
OPEN = {
    "bank": AccountState(1, "bank", "GHS", "debit", None),
    "wallet": AccountState(2, "wallet", "GHS", "credit", 0),
    "artist": AccountState(3, "artist", "GHS", "credit", 0),
}


def drafts() -> list[Draft]:
    """A top-up, two royalties, a payout hold posted, a hold voided, a royalty reversed."""
    topup = draft(
        TransferRequest("topup:1", "topup", (debit("bank", 5000), credit("wallet", 5000)))
    )
    royalty = draft(
        TransferRequest("royalty:1", "royalty", (debit("wallet", 800), credit("artist", 800)))
    )
    royalty2 = draft(
        TransferRequest("royalty:2", "royalty", (debit("wallet", 200), credit("artist", 200)))
    )
    hold = draft(
        TransferRequest(
            "payout:1", "payout", (debit("artist", 300), credit("bank", 300)), pending=True
        )
    )
    hold2 = draft(
        TransferRequest(
            "payout:2", "payout", (debit("artist", 100), credit("bank", 100)), pending=True
        )
    )
    return [
        topup, royalty, royalty2, hold, resolution_draft(hold, True, "payout:1:post"), hold2,
        resolution_draft(hold2, False, "payout:2:void"), reversal_draft(royalty2, "royalty:2:undo"),
    ]  # fmt: skip


def journal(
    items: list[Draft],
) -> tuple[list[tuple[JournalTransfer, list]], dict[int, AccountState]]:
    """The rows a correct posting of `items` stores, and the accounts' totals after them."""
    states, rows, prev = dict(OPEN), [], chain.GENESIS_HASH
    for seq, d in enumerate(items, start=1):
        states |= apply(states, d.legs, d.state)
        link = chain.chain_hash(seq, prev, d.content_hash, T0_US + seq)
        t = JournalTransfer(
            seq, str(d.id), d.idempotency_key, d.code, d.state, d.currency,
            str(d.pending_id) if d.pending_id else None,
            str(d.reverses_id) if d.reverses_id else None,
            d.metadata_json, d.content_hash, prev, link, T0_US + seq,
        )  # fmt: skip
        rows.append((t, [(states[leg.account].id, leg.side, leg.amount_minor) for leg in d.legs]))
        prev = link
    return rows, {s.id: s for s in states.values()}


def audited(
    rows: list, accounts: dict[int, AccountState], head: tuple[int, str] | None = None
) -> Report:
    """Run an Audit over rows; the head defaults to the last transfer."""
    referenced = {
        str(d.pending_id or d.reverses_id) for d in drafts() if d.pending_id or d.reverses_id
    }
    audit = Audit(accounts, referenced)
    for t, entries in rows:
        audit.transfer(t, entries)
    if head is None and rows:
        head = (rows[-1][0].seq, rows[-1][0].hash)
    return audit.finish(head)


def test_a_consistent_journal_passes() -> None:
    """Postings, holds posted and voided, and a reversal: no problem."""
    rows, accounts = journal(drafts())
    report = audited(rows, accounts)
    assert report.problems == ()
    assert (report.transfers, report.entries, report.accounts) == (8, 16, 3)


def test_a_changed_amount_is_found() -> None:
    """An entry's amount changed in place: content hash, balance and totals all disagree."""
    rows, accounts = journal(drafts())
    t, entries = rows[1]
    rows[1] = (t, [entries[0], (entries[1][0], entries[1][1], entries[1][2] + 1)])
    problems = "\n".join(audited(rows, accounts).problems)
    assert "seq 2 (royalty:1): unbalanced" in problems
    assert "seq 2 (royalty:1): content hash does not recompute" in problems
    assert "account artist: credits_posted_minor" in problems


def test_a_removed_transfer_breaks_the_chain() -> None:
    """Deleting a transfer leaves a gap in seq and a broken link."""
    rows, accounts = journal(drafts())
    del rows[4]
    problems = "\n".join(audited(rows, accounts).problems)
    assert "seq 6 (payout:2): follows seq 4: transfers are missing" in problems
    assert "chain broken" in problems


def test_a_rehashed_transfer_still_breaks_the_next_link() -> None:
    """A forger who recomputes one transfer's hashes still breaks the link after it."""
    rows, accounts = journal(drafts())
    t, entries = rows[1]
    forged = dataclasses.replace(t, code="fee")
    content = chain.content_hash(
        forged.id, forged.idempotency_key, "fee", forged.state, forged.currency, None, None,
        [("wallet", "debit", 800), ("artist", "credit", 800)], forged.metadata_json,
    )  # fmt: skip
    link = chain.chain_hash(t.seq, t.prev_hash, content, t.created_at_us)
    rows[1] = (dataclasses.replace(forged, content_hash=content, hash=link), entries)
    problems = audited(rows, accounts).problems
    assert problems == (
        "transfer seq 3 (royalty:2): prev_hash is not the hash of seq 2: chain broken",
    )


def test_head_and_floor_problems_are_reported() -> None:
    """A head behind the journal and an account below its floor are both named."""
    rows, accounts = journal(drafts())
    wallet = accounts[2]
    accounts[2] = dataclasses.replace(
        wallet, debits_posted_minor=wallet.debits_posted_minor + 10**6
    )
    problems = "\n".join(audited(rows, accounts, head=(3, "f" * 64)).problems)
    assert "chain head: seq 3" in problems
    assert "account wallet: debits_posted_minor" in problems
    assert "account wallet: available GHS" in problems and "below its floor" in problems


def test_a_void_without_its_hold_is_found() -> None:
    """A resolution whose pending transfer is not before it is reported."""
    items = drafts()
    rows, accounts = journal(items[:3] + items[6:7])
    problems = "\n".join(audited(rows, accounts).problems)
    assert "does not repeat the legs of a pending transfer before it" in problems
    assert "its entries release more than they held" in problems
