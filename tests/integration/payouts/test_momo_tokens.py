"""The connector's OAuth token against `zamio momo-sim`: fetched once and reused, renewed before
it expires, renewed once when the API refuses it; bad credentials refused; no key or token in
the logs."""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from central.payouts.momo import MomoProvider
from central.payouts.provider import SUCCESSFUL, ProviderRefused
from tests.integration.payouts.conftest import MomoSim, launch, make_order, settled

pytestmark = pytest.mark.integration
SHORT_TOKEN_TTL_S = 1


@pytest.fixture(scope="module")
def short_token_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MomoSim]:
    """A simulator of its own whose tokens last one second."""
    log = tmp_path_factory.mktemp("momo-sim-ttl") / "momo-sim.log"
    sim, stop = launch(log, "--token-ttl-s", str(SHORT_TOKEN_TTL_S))
    yield sim
    stop()


def test_one_token_serves_many_calls(momo_sim: MomoSim, provider: MomoProvider) -> None:
    """A token is fetched once, then reused while valid."""
    order = make_order()
    provider.submit(order)
    settled(provider, order.reference)
    provider.account_active(order.msisdn)
    stats = momo_sim.control.stats()
    assert stats["tokens_issued"] == 1 and "bad_token" not in stats


def test_a_token_is_renewed_before_it_expires(short_token_sim: MomoSim) -> None:
    """Past its lifetime (less a margin) the connector gets a new token before calling, so the
    API never sees an expired one."""
    provider = short_token_sim.provider()
    assert provider.account_active("233241234567")
    time.sleep(SHORT_TOKEN_TTL_S + 0.1)
    assert provider.account_active("233241234567")
    stats = short_token_sim.control.stats()
    assert stats["tokens_issued"] == 2 and "bad_token" not in stats


def test_a_refused_token_is_renewed_once_and_the_call_goes_through(
    momo_sim: MomoSim, provider: MomoProvider
) -> None:
    """The provider drops its tokens early (MTN may): the 401 is answered by one new token and
    the same request again, under the same reference."""
    provider.account_active("233241234567")
    assert momo_sim.control.expire_tokens() == 1
    order = make_order()
    provider.submit(order)
    assert settled(provider, order.reference).state == SUCCESSFUL
    stats = momo_sim.control.stats()
    assert (stats["tokens_issued"], stats["bad_token"], stats["accepted"]) == (2, 1, 1)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"api_key": "not-the-key"}, "LOGIN_FAILED"),
        ({"api_user": "9f0c0b7e-3c55-4d61-8a2f-0d6f1b2a3c4d"}, "LOGIN_FAILED"),
        ({"subscription_key": "not-the-key"}, "INVALID_SUBSCRIPTION_KEY"),
    ],
)
def test_bad_credentials_are_refused(momo_sim: MomoSim, changes: dict, reason: str) -> None:
    """401 from the token endpoint: ProviderRefused with the reason, and no transfer."""
    provider = momo_sim.provider(**changes)
    with pytest.raises(ProviderRefused) as refused:
        provider.submit(make_order())
    assert refused.value.reason == reason
    assert momo_sim.control.transfers()["count"] == 0


def test_no_key_or_token_reaches_the_log(
    momo_sim: MomoSim, provider: MomoProvider, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """Every connector log line of a paid transfer, a refused token and a 409 is free of the
    API key, the subscription key, the Basic credentials and 'Bearer'."""
    caplog.set_level(logging.DEBUG)
    order = make_order()
    provider.submit(order)
    momo_sim.control.expire_tokens()
    provider.submit(order)
    settled(provider, order.reference)
    with pytest.raises(ProviderRefused):
        momo_sim.provider(api_key="wrong-key-123").account_active(order.msisdn)
    basic = base64.b64encode(f"{momo_sim.api_user}:{momo_sim.api_key}".encode()).decode()
    text = caplog.text + repr(provider)
    assert "momo: new access token" in caplog.text and "submitted before" in caplog.text
    for secret in (momo_sim.api_key, momo_sim.subscription_key, basic, "wrong-key-123", "Bearer"):
        assert secret not in text
