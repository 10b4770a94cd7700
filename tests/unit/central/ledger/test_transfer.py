"""central.ledger.transfer: requests made valid and canonical; holds and reversals as drafts."""

from __future__ import annotations

import uuid

import pytest

from central.ledger.errors import InvalidTransfer, UnbalancedTransfer
from central.ledger.transfer import (
    LEGS_MAX,
    PENDING,
    POSTED,
    POSTED_FROM_PENDING,
    REVERSAL_CODE,
    VOIDED,
    Leg,
    TransferRequest,
    credit,
    debit,
    draft,
    mirror,
    normalize_legs,
    resolution_draft,
    reversal_draft,
    transfer_id_for,
)

ROYALTY = (debit("station:a:wallet", 1000), credit("artist:1:earnings", 700),
           credit("platform:fees", 300))  # fmt: skip


def test_legs_are_merged_and_sorted() -> None:
    """Two credits to one account become one; debits come first, then by account code."""
    legs = normalize_legs([credit("b", 5), debit("z", 10), credit("a", 2), credit("b", 3)])
    assert legs == (debit("z", 10), credit("a", 2), credit("b", 8))


def test_unbalanced_or_one_sided_transfers_are_refused() -> None:
    """Debits must equal credits, and both sides must be there."""
    with pytest.raises(UnbalancedTransfer):
        normalize_legs([debit("a", 10), credit("b", 9)])
    with pytest.raises(UnbalancedTransfer):
        normalize_legs([])


@pytest.mark.parametrize(
    "leg",
    [Leg("a", "debit", 0), Leg("a", "debit", -5), Leg("a", "debit", True), Leg("a", "debit", 1.5),
     Leg("a", "up", 5), Leg("", "debit", 5), Leg("a", "debit", 10**16)],
)  # fmt: skip
def test_bad_legs_are_refused(leg: Leg) -> None:
    """Zero, negative, non-integer, huge amounts, unknown sides and empty accounts are refused."""
    with pytest.raises(InvalidTransfer):
        normalize_legs([leg, credit("b", 5)])


def test_too_many_legs_are_refused() -> None:
    """A transfer has at most LEGS_MAX legs."""
    legs = [debit("s", LEGS_MAX)] + [credit(f"a{i}", 1) for i in range(LEGS_MAX)]
    with pytest.raises(InvalidTransfer, match="at most"):
        normalize_legs(legs)


def test_same_request_in_any_leg_order_has_the_same_content() -> None:
    """Retries that list legs or metadata keys in another order are the same transfer."""
    one = draft(TransferRequest("royalty:play:1", "royalty", ROYALTY, metadata={"a": 1, "b": 2}))
    two = draft(
        TransferRequest("royalty:play:1", "royalty", ROYALTY[::-1], metadata={"b": 2, "a": 1})
    )
    assert one == two
    assert one.id == transfer_id_for("royalty:play:1")
    other = draft(TransferRequest("royalty:play:1", "royalty", ROYALTY, metadata={"a": 2}))
    assert other.content_hash != one.content_hash


def test_request_fields_are_checked() -> None:
    """Keys with spaces, bad codes, unknown currencies and non-JSON metadata are refused."""
    bad = [
        TransferRequest("has space", "royalty", ROYALTY),
        TransferRequest("k", "Royalty!", ROYALTY),
        TransferRequest("k", "royalty", ROYALTY, currency="XXX"),
        TransferRequest("k", "royalty", ROYALTY, metadata={"x": object()}),
        TransferRequest("k", "royalty", ROYALTY, metadata={"x": "y" * 20_000}),
    ]
    for request in bad:
        with pytest.raises(InvalidTransfer):
            draft(request)


def test_caller_made_id_is_kept() -> None:
    """A caller may make the id itself; then it is part of the content."""
    made = uuid.uuid4()
    assert draft(TransferRequest("k", "royalty", ROYALTY, transfer_id=made)).id == made


def test_resolution_repeats_the_pending_legs() -> None:
    """post_pending and void_pending drafts carry the hold's legs, code and a link to it."""
    hold = draft(TransferRequest("hold:1", "payout", ROYALTY, pending=True))
    assert hold.state == PENDING
    posted = resolution_draft(hold, True, "hold:1:post")
    voided = resolution_draft(hold, False, "hold:1:void")
    assert (posted.state, voided.state) == (POSTED_FROM_PENDING, VOIDED)
    assert posted.legs == voided.legs == hold.legs
    assert posted.pending_id == hold.id and posted.code == "payout"


def test_reversal_mirrors_the_original() -> None:
    """A reversal is posted, coded 'reversal', with every leg on the other side."""
    original = draft(TransferRequest("royalty:play:1", "royalty", ROYALTY))
    undo = reversal_draft(original, "royalty:play:1:reversal")
    assert (undo.state, undo.code, undo.reverses_id) == (POSTED, REVERSAL_CODE, original.id)
    assert undo.legs == mirror(original.legs)
    assert mirror(undo.legs) == original.legs
