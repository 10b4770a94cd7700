"""The MoMo simulator's rules, pure: what becomes of a transfer to a payee number, which faults
are injected, and what a transfer request must look like. The server is momo_sim.py; the
scheme is described in its docstring and the README."""

from __future__ import annotations

import dataclasses
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal
from random import Random
from typing import Any

PENDING, SUCCESSFUL, FAILED = "PENDING", "SUCCESSFUL", "FAILED"
# How long an outcome takes: the configured success delay, the slow delay, or the stuck time.
FAST, SLOW, STUCK = "fast", "slow", "stuck"
TEST_SUFFIX_DIGITS = 6  # the last six digits of the payee's number choose its outcome
NOTE_CHARS_MAX = 160  # MTN's limit on payerMessage and payeeNote
_UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", re.I)
_AMOUNT = re.compile(r"^[0-9]{1,12}(\.[0-9]{1,2})?$")
_MSISDN = re.compile(r"^[0-9]{6,15}$")


@dataclass(frozen=True)
class Outcome:
    """What a transfer to some payee becomes, and how soon."""

    state: str  # SUCCESSFUL | FAILED
    reason: str | None = None
    pace: str = FAST  # FAST | SLOW | STUCK
    active: bool = True  # what the account-holder check says of the payee


# MTN's sandbox test numbers are 46733123450..; here the last six digits decide, so a Ghanaian
# number ending in them (233241123450) plays the same part. Every other number succeeds.
TEST_NUMBERS: dict[str, Outcome] = {
    "123450": Outcome(FAILED, "INTERNAL_PROCESSING_ERROR"),
    "123451": Outcome(FAILED, "APPROVAL_REJECTED"),
    "123452": Outcome(FAILED, "EXPIRED", STUCK),  # PENDING for stuck_ms: a provider timeout
    "123453": Outcome(SUCCESSFUL, None, SLOW),  # ongoing: PENDING for slow_delay_ms, then paid
    "123454": Outcome(FAILED, "COULD_NOT_PERFORM_TRANSACTION", SLOW),  # pending, then failed
    "123455": Outcome(FAILED, "NOT_ENOUGH_FUNDS"),
    "123457": Outcome(FAILED, "PAYEE_NOT_FOUND", FAST, active=False),  # no (active) account
}
SUCCESS = Outcome(SUCCESSFUL)


def outcome_for(msisdn: str) -> Outcome:
    """The outcome of a transfer to `msisdn`, by its last six digits (TEST_NUMBERS)."""
    return TEST_NUMBERS.get(msisdn[-TEST_SUFFIX_DIGITS:], SUCCESS)


def delay_ms_of(pace: str, success_delay_ms: int, slow_delay_ms: int, stuck_ms: int) -> int:
    """How long a transfer of `pace` stays PENDING."""
    return {FAST: success_delay_ms, SLOW: slow_delay_ms, STUCK: stuck_ms}[pace]


@dataclass
class Faults:
    """Faults to inject. *_next count down one per request; *_rate are probabilities."""

    fail_next: int = 0  # transfer POSTs answered 500 before anything is stored
    accept_then_500_next: int = 0  # transfer POSTs stored, then answered 500
    timeout_next: int = 0  # transfer POSTs stored, then held for hold_ms (past the client)
    status_fail_next: int = 0  # transfer GETs answered 500
    error_rate: float = 0.0
    accept_then_500_rate: float = 0.0
    timeout_rate: float = 0.0
    status_error_rate: float = 0.0
    lose_callback_rate: float = 0.0  # a callback not sent at all
    duplicate_callback_rate: float = 0.0  # a callback sent twice
    delay_ms: int = 0  # added before every API answer (not the control API's)
    hold_ms: int = 20_000  # how long a 'timeout' holds its answer (then 202, too late)

    def as_dict(self) -> dict[str, Any]:
        """The faults as JSON."""
        return dataclasses.asdict(self)


FAULT_NAMES = tuple(field.name for field in dataclasses.fields(Faults))


def merged_faults(faults: Faults, changes: Any) -> Faults:
    """`faults` with `changes` (a JSON object of some fields) applied; ValueError naming the
    first bad field."""
    if not isinstance(changes, dict):
        raise ValueError("expected a JSON object of faults")
    values = faults.as_dict()
    for name, value in changes.items():
        if name not in values:
            raise ValueError(f"unknown fault {name!r}; known: {', '.join(FAULT_NAMES)}")
        values[name] = _fault_value(name, value)
    return Faults(**values)


def _fault_value(name: str, value: Any) -> int | float:
    """A checked value of fault `name`: a probability for *_rate, a count or ms otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name}: expected a number, got {value!r}")
    if name.endswith("_rate"):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name}: expected a probability in [0, 1], got {value}")
        return float(value)
    if value != int(value) or value < 0:
        raise ValueError(f"{name}: expected a whole number >= 0, got {value}")
    return int(value)


# What a transfer POST meets: nothing, a 500 before storing, or storing then a 500 or a hold.
FAIL, ACCEPT_THEN_500, TIMEOUT = "fail", "accept_then_500", "timeout"


def transfer_fault(faults: Faults, rng: Random) -> str | None:
    """The fault the next transfer POST meets (counting down faults' *_next in place)."""
    for kind, counter in ((FAIL, "fail_next"), (ACCEPT_THEN_500, "accept_then_500_next")):
        if getattr(faults, counter) > 0:
            setattr(faults, counter, getattr(faults, counter) - 1)
            return kind
    if faults.timeout_next > 0:
        faults.timeout_next -= 1
        return TIMEOUT
    draw = rng.random()
    for kind, rate in (
        (FAIL, faults.error_rate),
        (ACCEPT_THEN_500, faults.accept_then_500_rate),
        (TIMEOUT, faults.timeout_rate),
    ):
        if draw < rate:
            return kind
        draw -= rate
    return None


def status_fault(faults: Faults, rng: Random) -> bool:
    """Whether the next transfer GET is answered 500 (counting down status_fail_next)."""
    if faults.status_fail_next > 0:
        faults.status_fail_next -= 1
        return True
    return rng.random() < faults.status_error_rate


def callback_copies(faults: Faults, rng: Random) -> int:
    """How many times a transfer's callback is sent: 0 (lost), 1, or 2 (duplicated)."""
    if rng.random() < faults.lose_callback_rate:
        return 0
    return 2 if rng.random() < faults.duplicate_callback_rate else 1


def is_uuid4(text: str | None) -> bool:
    """Whether `text` is a UUID of version 4 in its canonical form, as MTN demands of
    X-Reference-Id."""
    return bool(text) and _UUID4.match(text) is not None


def is_uuid(text: str) -> bool:
    """Whether `text` is a UUID of any version."""
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


class BadTransfer(ValueError):
    """A transfer request MTN would answer 400 to, with the code of its answer."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class TransferRequest:
    """A checked body of POST /disbursement/v1_0/transfer."""

    amount: str  # as sent: MTN gives it back as it came
    amount_value: Decimal
    currency: str
    external_id: str
    msisdn: str
    payer_message: str
    payee_note: str


def parse_transfer(body: Any, currencies: tuple[str, ...]) -> TransferRequest:
    """The transfer in `body`; BadTransfer for anything MTN would answer 400 to."""
    if not isinstance(body, dict):
        raise BadTransfer("BAD_REQUEST", "the body must be a JSON object")
    amount = body.get("amount")
    if not isinstance(amount, str) or not _AMOUNT.match(amount) or Decimal(amount) <= 0:
        raise BadTransfer("BAD_REQUEST", f"amount: a positive decimal string, got {amount!r}")
    currency = body.get("currency")
    if currency not in currencies:
        raise BadTransfer("INVALID_CURRENCY", f"currency {currency!r} is not accepted here")
    payee = body.get("payee")
    if not isinstance(payee, dict) or payee.get("partyIdType") != "MSISDN":
        raise BadTransfer("BAD_REQUEST", "payee: {partyIdType: MSISDN, partyId} expected")
    msisdn = payee.get("partyId")
    if not isinstance(msisdn, str) or not _MSISDN.match(msisdn):
        raise BadTransfer("BAD_REQUEST", f"payee.partyId: 6 to 15 digits, got {msisdn!r}")
    texts = {name: body.get(name, "") for name in ("externalId", "payerMessage", "payeeNote")}
    for name, text in texts.items():
        _check_text(name, text)
    return TransferRequest(
        amount=amount,
        amount_value=Decimal(amount),
        currency=currency,
        external_id=texts["externalId"],
        msisdn=msisdn,
        payer_message=texts["payerMessage"],
        payee_note=texts["payeeNote"],
    )


def _check_text(name: str, text: Any) -> None:
    """MTN's rules for a free text field: a string of at most 160 characters, no apostrophe."""
    if not isinstance(text, str):
        raise BadTransfer("BAD_REQUEST", f"{name}: a string expected")
    if len(text) > NOTE_CHARS_MAX:
        raise BadTransfer("BAD_REQUEST", f"{name}: at most {NOTE_CHARS_MAX} characters")
    if "'" in text:
        raise BadTransfer("BAD_REQUEST", f"{name}: an apostrophe is not supported")


def money_text(value: Decimal) -> str:
    """A balance as MoMo shows it: a decimal string with two places."""
    return str(value.quantize(Decimal("0.01")))
