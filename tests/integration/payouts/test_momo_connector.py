"""The MoMo connector against `zamio momo-sim` as its own process: transfers paid or failed with
their reason, a reused reference taken as submitted, and every fault that hides an outcome
(a timeout after acceptance, 5xx, a dead provider) raised as ProviderUnavailable, never as a
reason to make a second transfer."""

from __future__ import annotations

import uuid

import pytest

from central.payouts.momo import MomoProvider
from central.payouts.provider import (
    FAILED,
    PENDING,
    SUCCESSFUL,
    ProviderRefused,
    ProviderUnavailable,
    payout_reference,
)
from central.simulators import free_port
from tests.integration.payouts.conftest import MomoSim, make_order, settled

pytestmark = pytest.mark.integration


def test_a_transfer_is_pending_then_paid_with_its_amount(
    momo_sim: MomoSim, provider: MomoProvider
) -> None:
    """202, PENDING at first, then SUCCESSFUL with MTN's id and the amount in minor units."""
    order = make_order(amount_minor=1250)
    provider.submit(order)
    first = provider.status(order.reference)
    assert first is not None and first.state in (PENDING, SUCCESSFUL)
    paid = settled(provider, order.reference)
    assert (paid.state, paid.reason) == (SUCCESSFUL, None)
    assert (paid.amount_minor, paid.currency) == (1250, "GHS")
    assert paid.provider_id and paid.provider_id.isdigit()
    held = momo_sim.control.transfer(order.reference)
    assert held["amount"] == "12.50" and held["payee"]["partyId"] == order.msisdn
    assert held["externalId"] == order.external_id and held["posts"] == 1


@pytest.mark.parametrize(
    ("suffix", "reason"),
    [
        ("123450", "INTERNAL_PROCESSING_ERROR"),
        ("123451", "APPROVAL_REJECTED"),
        ("123454", "COULD_NOT_PERFORM_TRANSACTION"),
        ("123455", "NOT_ENOUGH_FUNDS"),
        ("123457", "PAYEE_NOT_FOUND"),
    ],
)
def test_a_test_number_fails_with_its_reason(
    provider: MomoProvider, suffix: str, reason: str
) -> None:
    """The payee number's last six digits choose the failure, for MTN's sandbox numbers and
    Ghanaian ones alike."""
    for msisdn in (f"46733{suffix}", f"233241{suffix}"):
        order = make_order(msisdn=msisdn)
        provider.submit(order)
        failed = settled(provider, order.reference)
        assert (failed.state, failed.reason, failed.provider_id) == (FAILED, reason, None)


def test_the_timeout_number_stays_pending(momo_sim: MomoSim, provider: MomoProvider) -> None:
    """...123452 stays PENDING (until the simulator's stuck time, 10 minutes by default)."""
    order = make_order(msisdn="233241123452")
    provider.submit(order)
    for _ in range(3):
        assert provider.status(order.reference).state == PENDING
    momo_sim.control.settle(order.reference, FAILED, "EXPIRED")
    assert provider.status(order.reference).reason == "EXPIRED"


def test_a_reused_reference_is_taken_as_submitted(
    momo_sim: MomoSim, provider: MomoProvider
) -> None:
    """A second POST under the same reference gets 409, which submit() takes as done: one
    transfer is held, POSTed twice."""
    order = make_order()
    provider.submit(order)
    provider.submit(order)
    assert settled(provider, order.reference).state == SUCCESSFUL
    listing = momo_sim.control.transfers(external_id=order.external_id)
    assert listing["count"] == 1 and listing["transfers"][0]["posts"] == 2
    assert momo_sim.control.stats()["conflicts"] == 1


def test_a_timeout_after_acceptance_leaves_one_transfer_found_by_its_reference(
    momo_sim: MomoSim, provider: MomoProvider
) -> None:
    """The simulator stores the transfer and holds its answer past the client's timeout: the
    connector says unavailable, the status finds the transfer, a retry gets 409, and there is
    one transfer, paid once."""
    momo_sim.control.faults(timeout_next=1, hold_ms=3000)
    order = make_order()
    with pytest.raises(ProviderUnavailable, match="no answer"):
        provider.submit(order)
    assert provider.status(order.reference) is not None
    provider.submit(order)  # the caller's retry, by the same reference: 409
    assert settled(provider, order.reference).state == SUCCESSFUL
    listing = momo_sim.control.transfers()
    assert listing["count"] == 1 and listing["duplicate_external_ids"] == []
    assert listing["transfers"][0]["posts"] == 2
    assert momo_sim.control.stats()["fault_timeout"] == 1


def test_a_500_after_acceptance_is_unavailable_and_the_transfer_exists(
    momo_sim: MomoSim, provider: MomoProvider
) -> None:
    """Stored, then answered 500: ProviderUnavailable; the transfer is there and is paid."""
    momo_sim.control.faults(accept_then_500_next=1)
    order = make_order()
    with pytest.raises(ProviderUnavailable, match="500 INTERNAL_PROCESSING_ERROR"):
        provider.submit(order)
    assert settled(provider, order.reference).state == SUCCESSFUL
    assert momo_sim.control.transfers()["count"] == 1


def test_a_500_before_acceptance_is_unavailable_and_a_retry_pays_once(
    momo_sim: MomoSim, provider: MomoProvider
) -> None:
    """A 500 before anything is stored: ProviderUnavailable, the reference unknown (None), and
    the retry under the same reference makes the one transfer."""
    momo_sim.control.faults(fail_next=2)
    order = make_order()
    for _ in range(2):
        with pytest.raises(ProviderUnavailable):
            provider.submit(order)
    assert provider.status(order.reference) is None
    provider.submit(order)
    assert settled(provider, order.reference).state == SUCCESSFUL
    listing = momo_sim.control.transfers()
    assert listing["count"] == 1 and listing["transfers"][0]["posts"] == 1


def test_a_status_answered_500_or_late_is_unavailable(
    momo_sim: MomoSim, provider: MomoProvider
) -> None:
    """GET answered 500, or after the client's timeout: ProviderUnavailable, not 'unknown'."""
    order = make_order()
    provider.submit(order)
    momo_sim.control.faults(status_fail_next=1)
    with pytest.raises(ProviderUnavailable, match="HTTP 500"):
        provider.status(order.reference)
    momo_sim.control.faults(delay_ms=1500)
    with pytest.raises(ProviderUnavailable, match="no answer"):
        provider.status(order.reference)
    momo_sim.control.faults(delay_ms=0)
    assert settled(provider, order.reference).state == SUCCESSFUL


def test_an_unknown_reference_is_none(provider: MomoProvider) -> None:
    """404 RESOURCE_NOT_FOUND: the provider never got that transfer."""
    assert provider.status(payout_reference(uuid.uuid4())) is None


def test_a_provider_nobody_answers_is_unavailable() -> None:
    """A refused connection: ProviderUnavailable for the token, so for every call."""
    provider = MomoProvider(f"http://127.0.0.1:{free_port()}", str(uuid.uuid4()), "k", "s")
    with pytest.raises(ProviderUnavailable, match="ConnectionError"):
        provider.submit(make_order())


def test_a_currency_not_accepted_is_refused(momo_sim: MomoSim, provider: MomoProvider) -> None:
    """400 INVALID_CURRENCY: ProviderRefused with that code, and nothing stored."""
    with pytest.raises(ProviderRefused) as refused:
        provider.submit(make_order(currency="EUR"))
    assert refused.value.reason == "INVALID_CURRENCY"
    assert momo_sim.control.transfers()["count"] == 0


def test_another_target_environment_is_refused(momo_sim: MomoSim) -> None:
    """MTN's 500 NOT_ALLOWED_TARGET_ENVIRONMENT is a refusal of the setup, not an unknown
    outcome."""
    provider = momo_sim.provider(environment="mtnghana")
    with pytest.raises(ProviderRefused) as refused:
        provider.submit(make_order())
    assert refused.value.reason == "NOT_ALLOWED_TARGET_ENVIRONMENT"
    assert momo_sim.control.transfers()["count"] == 0


def test_account_holder_check_and_balance(momo_sim: MomoSim, provider: MomoProvider) -> None:
    """An ordinary number is active, ...123457 is not; the balance falls by what is paid and a
    transfer it cannot cover fails with NOT_ENOUGH_FUNDS."""
    assert provider.account_active("233241234567") is True
    assert provider.account_active("233241123457") is False
    momo_sim.control.set_balance("20.00")
    paid, too_much = make_order(amount_minor=1250), make_order(amount_minor=1000)
    provider.submit(paid)
    assert provider.balance() == (750, "GHS")
    provider.submit(too_much)
    assert settled(provider, too_much.reference).reason == "NOT_ENOUGH_FUNDS"
    assert settled(provider, paid.reference).state == SUCCESSFUL
    assert provider.balance() == (750, "GHS")


def test_random_faults_with_retries_by_reference_pay_each_order_once(momo_sim: MomoSim) -> None:
    """Orders retried by their reference through 500s before and after acceptance and held
    answers, then polled through failing GETs: each is paid, by exactly one transfer."""
    momo_sim.control.faults(
        error_rate=0.2,
        accept_then_500_rate=0.2,
        timeout_rate=0.1,
        status_error_rate=0.2,
        hold_ms=600,
    )
    provider = momo_sim.provider(timeout_s=0.3)
    orders = [make_order(amount_minor=100 + n) for n in range(20)]
    for order in orders:
        while True:
            try:
                provider.submit(order)
                break
            except ProviderUnavailable:
                continue
    for order in orders:
        while True:
            try:
                transfer = settled(provider, order.reference)
                break
            except ProviderUnavailable:
                continue
        assert (transfer.state, transfer.amount_minor) == (SUCCESSFUL, order.amount_minor)
    listing = momo_sim.control.transfers()
    assert listing["count"] == len(orders) and listing["duplicate_external_ids"] == []
    stats = momo_sim.control.stats()
    assert stats["accepted"] == len(orders)
    assert stats.get("fault_fail", 0) + stats.get("fault_accept_then_500", 0) > 0
