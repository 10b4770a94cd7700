"""sd_notify(3) without libsystemd: tell systemd we are ready, alive, or stopping.

systemd passes $NOTIFY_SOCKET to a Type=notify service; a datagram to it carries "READY=1",
"WATCHDOG=1" or "STOPPING=1". Outside systemd the variable is unset and notify does nothing.
"""

from __future__ import annotations

import os
import socket


def notify(state: str) -> bool:
    """Send `state` to systemd's notify socket; False when not running under systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        try:
            sock.sendto(state.encode(), address)
        except OSError:
            return False
    return True
