"""The simulator itself, over raw HTTP: MTN's checks (UUID v4 references, bearer tokens, bodies),
its control API refusing bad faults, its CLI flags, and the in-thread form the demo uses."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import pytest
import requests

from central.payouts.momo import MomoProvider
from central.payouts.momo_sim import SimConfig, start_in_thread
from central.payouts.provider import SUCCESSFUL, ProviderUnavailable
from tests.integration.payouts.conftest import MomoSim, launch, make_order, settled

pytestmark = pytest.mark.integration


def api_headers(momo_sim: MomoSim) -> dict[str, str]:
    """The headers of an authorised API call, with a fresh token."""
    answer = requests.post(
        f"{momo_sim.url}/disbursement/token/",
        auth=(momo_sim.api_user, momo_sim.api_key),
        headers={"Ocp-Apim-Subscription-Key": momo_sim.subscription_key},
        timeout=5,
    )
    assert answer.status_code == 200
    token = answer.json()
    assert token["token_type"] == "access_token" and token["expires_in"] == 3600
    return {
        "Authorization": f"Bearer {token['access_token']}",
        "Ocp-Apim-Subscription-Key": momo_sim.subscription_key,
        "X-Target-Environment": "sandbox",
    }


def post_transfer(momo_sim: MomoSim, headers: dict, body: dict) -> requests.Response:
    """POST a transfer as given."""
    return requests.post(
        f"{momo_sim.url}/disbursement/v1_0/transfer", json=body, headers=headers, timeout=5
    )


BODY = {
    "amount": "5.00",
    "currency": "GHS",
    "externalId": "w-1",
    "payee": {"partyIdType": "MSISDN", "partyId": "233241234567"},
    "payerMessage": "royalties",
    "payeeNote": "payout",
}


@pytest.mark.parametrize(
    "reference", [None, "not-a-uuid", str(uuid.uuid1()), str(uuid.uuid5(uuid.NAMESPACE_DNS, "x"))]
)
def test_a_reference_that_is_not_a_uuid4_is_refused(momo_sim: MomoSim, reference) -> None:
    """MTN's rule: X-Reference-Id is a UUID v4 (400 otherwise), and nothing is stored."""
    headers = api_headers(momo_sim)
    if reference is not None:
        headers["X-Reference-Id"] = reference
    answer = post_transfer(momo_sim, headers, BODY)
    assert answer.status_code == 400 and answer.json()["code"] == "BAD_REQUEST"
    assert momo_sim.control.transfers()["count"] == 0


@pytest.mark.parametrize(
    ("change", "word"),
    [
        ({"amount": "12.505"}, "amount"),
        ({"amount": "0"}, "amount"),
        ({"amount": 12.5}, "amount"),
        ({"payee": {"partyIdType": "EMAIL", "partyId": "a@b.c"}}, "payee"),
        ({"payee": {"partyIdType": "MSISDN", "partyId": "+233241234567"}}, "partyId"),
        ({"payerMessage": "x" * 161}, "160"),
        ({"payeeNote": "Kofi's royalties"}, "apostrophe"),
    ],
)
def test_a_bad_body_is_refused(momo_sim: MomoSim, change: dict, word: str) -> None:
    """400 BAD_REQUEST naming what is wrong, for bodies MTN refuses."""
    headers = {**api_headers(momo_sim), "X-Reference-Id": str(uuid.uuid4())}
    answer = post_transfer(momo_sim, headers, {**BODY, **change})
    assert answer.status_code == 400 and word in answer.json()["message"]


def test_calls_without_a_valid_token_or_key_are_401(momo_sim: MomoSim) -> None:
    """No bearer, a made-up bearer, or a wrong subscription key: 401, and no transfer."""
    headers = {**api_headers(momo_sim), "X-Reference-Id": str(uuid.uuid4())}
    for changed in (
        {k: v for k, v in headers.items() if k != "Authorization"},
        {**headers, "Authorization": "Bearer made-up"},
        {**headers, "Ocp-Apim-Subscription-Key": "wrong"},
    ):
        assert post_transfer(momo_sim, changed, BODY).status_code == 401
    assert post_transfer(momo_sim, headers, BODY).status_code == 202
    assert momo_sim.control.transfers()["count"] == 1


@pytest.mark.parametrize(
    "changes",
    [{"no_such_fault": 1}, {"error_rate": 1.5}, {"fail_next": -1}, {"fail_next": 1.5}, [1]],
)
def test_the_control_api_refuses_bad_faults(momo_sim: MomoSim, changes: object) -> None:
    """Unknown faults, probabilities outside [0, 1] and negative counts: 400, nothing changed."""
    answer = requests.post(f"{momo_sim.url}/_sim/faults", json=changes, timeout=5)
    assert answer.status_code == 400
    assert momo_sim.control.faults()["error_rate"] == 0.0


def test_fault_flags_of_the_cli_apply_and_reset_keeps_them(tmp_path: Path) -> None:
    """`zamio momo-sim --error-rate 1`: every transfer POST is a 500; a reset keeps the flags'
    faults, which the control API can still change."""
    sim, stop = launch(tmp_path / "momo-sim.log", "--error-rate", "1", "--currency", "EUR")
    try:
        provider = sim.provider()
        with pytest.raises(ProviderUnavailable, match="HTTP 500"):
            provider.submit(make_order(currency="EUR"))
        sim.control.reset()
        assert sim.control.faults()["error_rate"] == 1.0
        sim.control.faults(error_rate=0.0)
        order = make_order(currency="EUR")
        provider.submit(order)
        assert settled(provider, order.reference).state == SUCCESSFUL
        assert "fault_fail" not in sim.control.stats()  # counted since the reset
    finally:
        stop()


def test_a_simulator_in_a_thread_pays_and_stops() -> None:
    """start_in_thread (the demo's): a transfer paid through it; stop() frees its port."""
    config = SimConfig(str(uuid.uuid4()), "key", "sub-key", success_delay_ms=10)
    url, stop = start_in_thread(config)
    try:
        provider = MomoProvider(url, config.api_user, "key", "sub-key", timeout_s=5)
        order = make_order()
        provider.submit(order)
        assert settled(provider, order.reference).state == SUCCESSFUL
    finally:
        stop()
    host, port = url.removeprefix("http://").split(":")
    with pytest.raises(OSError), socket.create_connection((host, int(port)), timeout=1):
        pass
