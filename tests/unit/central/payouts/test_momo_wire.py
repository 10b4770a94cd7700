"""The connector's pure parts: amounts between minor units and MoMo's decimal strings, the
transfer body, status bodies read safely, error codes, the token margin and the settings."""

from __future__ import annotations

import uuid

import pytest

from central.config import load_settings
from central.payouts.momo import (
    MomoProvider,
    amount_minor_of,
    amount_text,
    error_code,
    note_text,
    provider_from_settings,
    token_margin_s,
    transfer_body,
    transfer_of,
)
from central.payouts.provider import (
    FAILED,
    PENDING,
    SUCCESSFUL,
    PayoutOrder,
    ProviderUnavailable,
    payout_reference,
)


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [(1250, "GHS", "12.50"), (1, "GHS", "0.01"), (100000, "EUR", "1000.00"), (5000, "UGX", "5000")],
)
def test_amounts_go_to_decimal_strings_and_back(minor: int, currency: str, text: str) -> None:
    """Minor units to MoMo's string and back, exactly (currencies without decimals too)."""
    assert amount_text(minor, currency) == text
    assert amount_minor_of(text, currency) == minor


def test_amounts_that_are_not_whole_minor_units_are_refused() -> None:
    """12.505 GHS and non-numbers are not amounts; nor is a transfer of nothing."""
    for text in ("12.505", "abc", "NaN", "Infinity"):
        with pytest.raises(ValueError):
            amount_minor_of(text, "GHS")
    assert amount_minor_of("12.5", "GHS") == 1250
    with pytest.raises(ValueError):
        amount_text(0, "GHS")


def test_the_transfer_body_is_mtns() -> None:
    """The body of POST /transfer, notes cleaned of apostrophes and cut to 160 characters."""
    order = PayoutOrder(
        payout_reference(uuid.uuid4()), 1250, "GHS", "233241234567", "wd-7", "Kofi's pay", "n" * 200
    )
    body = transfer_body(order)
    assert body == {
        "amount": "12.50",
        "currency": "GHS",
        "externalId": "wd-7",
        "payee": {"partyIdType": "MSISDN", "partyId": "233241234567"},
        "payerMessage": "Kofi\u2019s pay",
        "payeeNote": "n" * 160,
    }
    assert note_text("a'b") == "a\u2019b"


def test_status_bodies_are_read() -> None:
    """MTN's GET body as a ProviderTransfer; the reason as a string or an ErrorReason object."""
    paid = transfer_of(
        {"amount": "12.50", "currency": "GHS", "status": "SUCCESSFUL", "financialTransactionId": 7}
    )
    assert (paid.state, paid.amount_minor, paid.provider_id, paid.reason) == (
        SUCCESSFUL,
        1250,
        "7",
        None,
    )
    failed = transfer_of({"status": "FAILED", "reason": {"code": "PAYEE_NOT_FOUND"}})
    assert (failed.state, failed.reason, failed.amount_minor) == (FAILED, "PAYEE_NOT_FOUND", None)
    assert transfer_of({"status": "FAILED"}).reason == "UNKNOWN"
    assert transfer_of({"status": "ONGOING"}).state == PENDING


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {},
        {"status": 3},
        {"status": "REVERSED"},
        {"status": "SUCCESSFUL", "amount": "1.234", "currency": "GHS"},
    ],
)
def test_a_status_body_that_says_nothing_usable_is_unavailable(body: object) -> None:
    """An unknown status word or a malformed body is not an answer: ask again later (never
    taken as failed, which would give the money back)."""
    with pytest.raises(ProviderUnavailable):
        transfer_of(body)


def test_error_codes() -> None:
    """MTN's code, the token endpoint's error, APIM's subscription message, else the status."""
    assert error_code(409, {"code": "RESOURCE_ALREADY_EXIST"}) == "RESOURCE_ALREADY_EXIST"
    assert error_code(401, {"error": "login_failed"}) == "LOGIN_FAILED"
    message = {"statusCode": 401, "message": "Access denied due to invalid subscription key."}
    assert error_code(401, message) == "INVALID_SUBSCRIPTION_KEY"
    assert error_code(401, {}) == "UNAUTHORIZED"
    assert error_code(502, None) == "HTTP_502"


def test_tokens_are_renewed_a_tenth_of_their_life_early_at_most_a_minute() -> None:
    """The renewal margin: 60 s of an hour's token, 0.1 s of a one-second one."""
    assert token_margin_s(3600) == 60
    assert token_margin_s(1) == pytest.approx(0.1)


def test_the_provider_comes_from_the_settings() -> None:
    """No ZAMIO_MOMO_URL: no provider; with it, a connector to it, its secrets kept out of
    its repr."""
    assert provider_from_settings(load_settings({})) is None
    user = str(uuid.uuid4())
    settings = load_settings(
        {
            "ZAMIO_MOMO_URL": "http://127.0.0.1:8090/",
            "ZAMIO_MOMO_API_USER": user,
            "ZAMIO_MOMO_API_KEY": "secret-api-key",
            "ZAMIO_MOMO_SUBSCRIPTION_KEY": "secret-sub-key",
            "ZAMIO_MOMO_ENVIRONMENT": "mtnghana",
            "ZAMIO_MOMO_TIMEOUT_S": "7",
        }
    )
    provider = provider_from_settings(settings)
    assert isinstance(provider, MomoProvider) and provider.name == "mtn-momo"
    assert (provider.base_url, provider.environment, provider.timeout_s) == (
        "http://127.0.0.1:8090",
        "mtnghana",
        7,
    )
    assert "secret" not in repr(provider) and user in repr(provider)
