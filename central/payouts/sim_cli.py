"""`zamio momo-sim`: MTN MoMo's Disbursement API simulated in the foreground (momo_sim.py), for
the demo, the tests and a laptop without MTN credentials. It needs no database."""

from __future__ import annotations

import signal
import uuid
from decimal import Decimal, InvalidOperation

import click

from central.payouts.momo_sim import SimConfig, serve
from central.payouts.momo_sim_rules import FAULT_NAMES, Faults

RATE = click.FloatRange(0.0, 1.0)
COUNT = click.IntRange(min=0)


def _uuid(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """The API user as MTN gives it: a UUID."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise click.BadParameter(f"expected a UUID, got {value!r}") from None


def _amount(ctx: click.Context, param: click.Parameter, value: str) -> Decimal:
    """A non-negative decimal amount in major units (12.50)."""
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise click.BadParameter(f"expected a decimal amount, got {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise click.BadParameter(f"expected an amount >= 0, got {value!r}")
    return amount


def _raise_interrupt(signum: int, frame: object) -> None:
    """SIGTERM: stop like Ctrl-C (the server closes its socket on the way out)."""
    raise KeyboardInterrupt


@click.command("momo-sim")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8090,
    show_default=True,
    help="Port to listen on (0: any free port; the URL printed says which).",
)
@click.option("--api-user", required=True, callback=_uuid, help="The API user's UUID.")
@click.option("--api-key", required=True, help="The API user's key (Basic password).")
@click.option("--subscription-key", required=True, help="Ocp-Apim-Subscription-Key expected.")
@click.option(
    "--environment", default="sandbox", show_default=True, help="X-Target-Environment expected."
)
@click.option(
    "--currency",
    "currencies",
    multiple=True,
    default=["GHS"],
    show_default=True,
    help="A currency accepted (repeat for more; MTN's own sandbox takes EUR).",
)
@click.option(
    "--success-delay-ms",
    type=COUNT,
    default=200,
    show_default=True,
    help="How long a transfer stays PENDING before its outcome.",
)
@click.option(
    "--slow-delay-ms",
    type=COUNT,
    default=5000,
    show_default=True,
    help="The same for the slow test numbers (…123453, …123454).",
)
@click.option(
    "--stuck-ms",
    type=COUNT,
    default=600_000,
    show_default=True,
    help="How long …123452 stays PENDING before it expires.",
)
@click.option(
    "--token-ttl-s",
    type=click.IntRange(min=1),
    default=3600,
    show_default=True,
    help="Lifetime of an access token.",
)
@click.option(
    "--balance",
    callback=_amount,
    default="100000000.00",
    show_default=True,
    help="Money the account can pay out, in major units.",
)
@click.option("--error-rate", type=RATE, default=0.0, help="500 before a transfer is stored.")
@click.option(
    "--accept-then-500-rate", type=RATE, default=0.0, help="Transfer stored, then answered 500."
)
@click.option(
    "--timeout-rate",
    type=RATE,
    default=0.0,
    help="Transfer stored, then the answer held --hold-ms (past the client).",
)
@click.option("--status-error-rate", type=RATE, default=0.0, help="500 to a status GET.")
@click.option("--lose-callback-rate", type=RATE, default=0.0, help="A callback never sent.")
@click.option("--duplicate-callback-rate", type=RATE, default=0.0, help="A callback sent twice.")
@click.option("--delay-ms", type=COUNT, default=0, help="Added before every API answer.")
@click.option(
    "--hold-ms",
    type=COUNT,
    default=20_000,
    show_default=True,
    help="How long an injected timeout holds its answer.",
)
@click.option("--seed", type=int, default=None, help="Seed of the fault draws (repeatable).")
def momo_sim_command(host: str, port: int, currencies: tuple[str, ...], **options: object) -> None:
    """Simulate MTN MoMo's Disbursement API (token, transfer, status, account holder, balance)
    and its faults, in the foreground; the payee number's last six digits choose the outcome."""
    faults = Faults(**{name: options.pop(name) for name in FAULT_NAMES if name in options})
    config = SimConfig(currencies=tuple(currencies), **options)  # type: ignore[arg-type]
    signal.signal(signal.SIGTERM, _raise_interrupt)

    def announce(url: str) -> None:
        """Say where the simulator listens (the tests read this line)."""
        click.echo(
            f"momo-sim: MTN MoMo Disbursement simulator at {url}"
            f" (environment {config.environment}, currencies {', '.join(config.currencies)})"
        )

    serve(config, faults, host, port, announce)
