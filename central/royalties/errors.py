"""Errors of royalties: one class per way a rate card, a split, an accrual or a claim is refused."""

from __future__ import annotations


class RoyaltyError(Exception):
    """Base of every royalty error: nothing was written."""


class DocumentError(RoyaltyError):
    """A rate card or shares document that cannot be used; `problems` lists every problem."""

    def __init__(self, what: str, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__(f"{what}:\n" + "\n".join(f"  - {p}" for p in problems))


class RateCardError(RoyaltyError):
    """A rate card that cannot be stored: a version out of order, or none in force."""


class SharesError(RoyaltyError):
    """Rights shares that cannot be stored: unknown track, ISRC of another track, bad party."""


class AccrualError(RoyaltyError):
    """A play that cannot be accrued: unknown, still open, or of an unknown station."""


class HoldError(RoyaltyError):
    """A hold, release or void the accrual's state does not allow."""


class ClaimError(RoyaltyError):
    """A claim of suspense that cannot be made: bad code, nothing in suspense, key reused."""


class BlanketError(RoyaltyError):
    """A blanket distribution that cannot be made: bad month, no plays, already distributed."""
