"""Driving a MoMo simulator from outside, for the tests and the benchmark: start `zamio momo-sim`
as its own process, and a client of its control API (/_sim/...)."""

from __future__ import annotations

import os
import re
import selectors
import subprocess
import sys
import time
from typing import IO, Any

import requests

START_S_MAX = 30.0  # `zamio momo-sim` imports central's CLI before it listens
CONTROL_TIMEOUT_S = 30.0
_ANNOUNCED_URL = re.compile(r"simulator at (http://\S+)")


class SimControl:
    """A client of a simulator's control API."""

    def __init__(self, url: str) -> None:
        """The simulator at `url`."""
        self.url = url.rstrip("/")
        self._http = requests.Session()

    def _call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        """One control request; its JSON answer (HTTPError for a refusal)."""
        answer = self._http.request(
            method, f"{self.url}/_sim{path}", json=body, params=params, timeout=CONTROL_TIMEOUT_S
        )
        answer.raise_for_status()
        return answer.json()

    def faults(self, **changes: Any) -> dict[str, Any]:
        """Change some faults (none: just read them); the faults now."""
        return self._call("POST", "/faults", changes) if changes else self._call("GET", "/faults")

    def transfers(self, **filters: str) -> dict[str, Any]:
        """The transfers held ({"count", "transfers", "duplicate_external_ids"}), filtered by
        reference= or external_id=."""
        return self._call("GET", "/transfers", **filters)

    def transfer(self, reference: object) -> dict[str, Any] | None:
        """The simulator's listing of one transfer, or None."""
        listed = self.transfers(reference=str(reference))["transfers"]
        return listed[0] if listed else None

    def settle(self, reference: object, status: str, reason: str | None = None) -> dict:
        """End a pending transfer now."""
        return self._call(
            "POST", f"/transfers/{reference}/settle", {"status": status, "reason": reason}
        )

    def expire_tokens(self) -> int:
        """Expire every token issued; how many there were."""
        return self._call("POST", "/tokens/expire")["expired"]

    def set_balance(self, available: str) -> None:
        """Set the money left to pay out ("12.50")."""
        self._call("POST", "/balance", {"availableBalance": available})

    def stats(self) -> dict[str, Any]:
        """What the simulator counted."""
        return self._call("GET", "/stats")

    def reset(self) -> None:
        """Everything as the simulator started."""
        self._call("POST", "/reset")


def start_process(args: list[str], log: IO[bytes]) -> tuple[str, subprocess.Popen]:
    """Run `zamio momo-sim ARGS` (with --port 0 unless given) as its own process, its stderr to
    `log`; its URL once it listens, and the process (the caller stops it)."""
    if "--port" not in args:
        args = [*args, "--port", "0"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZAMIO_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "central", "momo-sim", *args],
        stdout=subprocess.PIPE,
        stderr=log,
        env=env,
    )
    try:
        return _announced_url(process), process
    except BaseException:
        process.kill()
        process.wait()
        raise


def _announced_url(process: subprocess.Popen) -> str:
    """The URL the simulator prints on its first line; RuntimeError if it dies or is silent."""
    assert process.stdout is not None
    deadline = time.monotonic() + START_S_MAX
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if selector.select(timeout=0.2):
                line = process.stdout.readline().decode(errors="replace")
                if not line:
                    break
                found = _ANNOUNCED_URL.search(line)
                if found:
                    return found.group(1)
            if process.poll() is not None:
                break
    raise RuntimeError(f"zamio momo-sim did not start (exit {process.poll()}): see its log")


def stop_process(process: subprocess.Popen) -> None:
    """SIGTERM the simulator and reap it (SIGKILL after 10 s)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stdout is not None:
        process.stdout.close()
