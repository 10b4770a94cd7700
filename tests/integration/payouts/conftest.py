"""The MoMo simulator as its own process (`zamio momo-sim`), shared by the payout tests and reset
before each; a connector to it; payout orders with fresh references."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from central.payouts.momo import MomoProvider
from central.payouts.momo_sim_control import SimControl, start_process, stop_process
from central.payouts.provider import PENDING, PayoutOrder, ProviderTransfer, payout_reference

SUCCESS_DELAY_MS = 50  # transfers end fast here: PENDING, then their outcome
SLOW_DELAY_MS = 300
CLIENT_TIMEOUT_S = 1.0  # the connector's; an injected timeout holds its answer longer
PAID_MSISDN = "233241234567"


@dataclass
class MomoSim:
    """A running simulator: where it is, the credentials it takes, its control API."""

    url: str
    api_user: str = field(repr=False)
    api_key: str = field(repr=False)
    subscription_key: str = field(repr=False)
    control: SimControl

    def provider(self, **changes: object) -> MomoProvider:
        """A connector to this simulator (its credentials, or those in `changes`)."""
        values: dict = {
            "base_url": self.url,
            "api_user": self.api_user,
            "api_key": self.api_key,
            "subscription_key": self.subscription_key,
            "timeout_s": CLIENT_TIMEOUT_S,
        }
        values.update(changes)
        return MomoProvider(**values)


def launch(log_path: Path, *extra: str) -> tuple[MomoSim, Callable[[], None]]:
    """Start `zamio momo-sim` with fresh credentials and fast delays; the handle and a stop()."""
    api_user, api_key, key = str(uuid.uuid4()), secrets.token_hex(16), secrets.token_hex(16)
    args = ["--api-user", api_user, "--api-key", api_key, "--subscription-key", key]
    args += ["--success-delay-ms", str(SUCCESS_DELAY_MS), "--slow-delay-ms", str(SLOW_DELAY_MS)]
    with log_path.open("ab") as log:
        url, process = start_process([*args, *extra], log)
    return MomoSim(url, api_user, api_key, key, SimControl(url)), lambda: stop_process(process)


@pytest.fixture(scope="session")
def momo_sim_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MomoSim]:
    """One simulator process for the whole run."""
    sim, stop = launch(tmp_path_factory.mktemp("momo-sim") / "momo-sim.log")
    yield sim
    stop()


@pytest.fixture
def momo_sim(momo_sim_process: MomoSim) -> MomoSim:
    """The simulator, as it started: no tokens, no transfers, no faults."""
    momo_sim_process.control.reset()
    return momo_sim_process


@pytest.fixture
def provider(momo_sim: MomoSim) -> MomoProvider:
    """A connector to the simulator."""
    return momo_sim.provider()


def make_order(
    msisdn: str = PAID_MSISDN,
    amount_minor: int = 1250,
    currency: str = "GHS",
    callback_url: str | None = None,
) -> PayoutOrder:
    """A payout order under a fresh reference (made as payouts make it, from a hold's id)."""
    reference = payout_reference(uuid.uuid4())
    return PayoutOrder(
        reference=reference,
        amount_minor=amount_minor,
        currency=currency,
        msisdn=msisdn,
        external_id=f"wd-{reference.hex[:12]}",
        payer_message="ZamIO royalties",
        payee_note="Royalty payout",
        callback_url=callback_url,
    )


def settled(
    provider: MomoProvider, reference: uuid.UUID, timeout_s: float = 10.0
) -> ProviderTransfer:
    """Poll the transfer until it ends (as payouts do); fail the test if it never does."""
    deadline = time.monotonic() + timeout_s
    while True:
        transfer = provider.status(reference)
        if transfer is not None and transfer.state != PENDING:
            return transfer
        if time.monotonic() > deadline:
            pytest.fail(f"transfer {reference} still {transfer} after {timeout_s:g} s")
        time.sleep(0.02)


def wait_until(predicate: Callable[[], object], what: str, timeout_s: float = 10.0) -> None:
    """Poll `predicate` until true; fail the test saying `what` did not happen."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(0.02)
