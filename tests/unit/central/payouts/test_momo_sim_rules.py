"""The simulator's pure rules: outcomes by the payee number's last six digits, faults counted
down or drawn, their validation, and MTN's checks of a transfer body."""

from __future__ import annotations

import uuid
from random import Random

import pytest
from click.testing import CliRunner

from central.payouts.momo_sim_rules import (
    ACCEPT_THEN_500,
    FAIL,
    FAILED,
    SLOW,
    STUCK,
    SUCCESSFUL,
    TIMEOUT,
    BadTransfer,
    Faults,
    callback_copies,
    is_uuid4,
    merged_faults,
    outcome_for,
    parse_transfer,
    status_fault,
    transfer_fault,
)
from central.payouts.provider import payout_reference
from central.payouts.sim_cli import momo_sim_command


def test_outcomes_follow_the_last_six_digits() -> None:
    """MTN's sandbox numbers and Ghanaian numbers ending alike share an outcome; others pay."""
    for prefix in ("46733", "233241", "23355"):
        assert outcome_for(f"{prefix}123450").reason == "INTERNAL_PROCESSING_ERROR"
        assert outcome_for(f"{prefix}123452").pace == STUCK
        assert outcome_for(f"{prefix}123453").state == SUCCESSFUL
        assert outcome_for(f"{prefix}123453").pace == SLOW
        assert outcome_for(f"{prefix}123457").active is False
    assert outcome_for("233241234567").state == SUCCESSFUL
    assert outcome_for("233241123456").state == SUCCESSFUL
    assert outcome_for("233241123455").state == FAILED


def test_counted_faults_come_first_then_run_out() -> None:
    """fail_next, accept_then_500_next and timeout_next are used up in that order."""
    faults = Faults(fail_next=1, accept_then_500_next=1, timeout_next=1)
    rng = Random(1)
    assert [transfer_fault(faults, rng) for _ in range(4)] == [FAIL, ACCEPT_THEN_500, TIMEOUT, None]
    assert (faults.fail_next, faults.accept_then_500_next, faults.timeout_next) == (0, 0, 0)


def test_fault_rates_are_drawn_in_their_proportions() -> None:
    """error 0.1, accept-then-500 0.05, timeout 0.05 over 20,000 draws, within 1 point."""
    faults, rng = Faults(error_rate=0.1, accept_then_500_rate=0.05, timeout_rate=0.05), Random(7)
    draws = [transfer_fault(faults, rng) for _ in range(20_000)]
    for kind, rate in ((FAIL, 0.1), (ACCEPT_THEN_500, 0.05), (TIMEOUT, 0.05)):
        assert abs(draws.count(kind) / len(draws) - rate) < 0.01


def test_status_and_callback_faults() -> None:
    """status_fail_next counts down; callbacks lost at rate 1, doubled at rate 1."""
    faults, rng = Faults(status_fail_next=1), Random(3)
    assert [status_fault(faults, rng) for _ in range(2)] == [True, False]
    assert callback_copies(Faults(lose_callback_rate=1.0), rng) == 0
    assert callback_copies(Faults(duplicate_callback_rate=1.0), rng) == 2
    assert callback_copies(Faults(), rng) == 1


@pytest.mark.parametrize(
    "changes",
    [{"nope": 1}, {"error_rate": 2}, {"error_rate": True}, {"fail_next": -1}, {"hold_ms": 0.5}, 3],
)
def test_bad_fault_changes_are_refused(changes: object) -> None:
    """Unknown names, probabilities out of [0, 1], negative or fractional counts: ValueError."""
    with pytest.raises(ValueError):
        merged_faults(Faults(), changes)


def test_fault_changes_merge() -> None:
    """Only the fields given change."""
    faults = merged_faults(Faults(error_rate=0.5), {"fail_next": 2, "delay_ms": 10.0})
    assert (faults.error_rate, faults.fail_next, faults.delay_ms) == (0.5, 2, 10)


def test_only_uuid4_references_pass_and_ours_are_uuid4() -> None:
    """MTN's X-Reference-Id rule, met by payout_reference (deterministic, one per hold)."""
    hold = uuid.uuid4()
    assert payout_reference(hold) == payout_reference(hold) != payout_reference(uuid.uuid4())
    assert payout_reference(hold).version == 4 and is_uuid4(str(payout_reference(hold)))
    assert not is_uuid4(str(uuid.uuid5(uuid.NAMESPACE_DNS, "x"))) and not is_uuid4(None)
    assert not is_uuid4(str(uuid.uuid4()).replace("-", ""))


def test_a_transfer_body_is_checked() -> None:
    """A good body parses; another currency is INVALID_CURRENCY; a float amount BAD_REQUEST."""
    body = {
        "amount": "1.5",
        "currency": "GHS",
        "payee": {"partyIdType": "MSISDN", "partyId": "233241234567"},
    }
    parsed = parse_transfer(body, ("GHS",))
    assert (parsed.amount, str(parsed.amount_value), parsed.external_id) == ("1.5", "1.5", "")
    with pytest.raises(BadTransfer) as bad:
        parse_transfer({**body, "currency": "EUR"}, ("GHS",))
    assert bad.value.code == "INVALID_CURRENCY"
    with pytest.raises(BadTransfer) as bad:
        parse_transfer({**body, "amount": 1.5}, ("GHS",))
    assert bad.value.code == "BAD_REQUEST"


def test_the_cli_refuses_bad_flags() -> None:
    """A non-UUID API user or a rate above 1 stop `zamio momo-sim` before it listens."""
    runner = CliRunner()
    base = ["--api-key", "k", "--subscription-key", "s"]
    answer = runner.invoke(momo_sim_command, ["--api-user", "nope", *base])
    assert answer.exit_code == 2 and "expected a UUID" in answer.output
    user = str(uuid.uuid4())
    answer = runner.invoke(momo_sim_command, ["--api-user", user, *base, "--error-rate", "2"])
    assert answer.exit_code == 2 and "--error-rate" in answer.output
