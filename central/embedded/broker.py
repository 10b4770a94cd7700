"""An MQTT broker inside this process: amqtt on its own asyncio loop, in a daemon thread.

amqtt speaks MQTT 3.1.1 only, so clients of the embedded broker use protocol "3.1.1" (the agent's
`[uplink] protocol`, the listener's `protocol`). It keeps sessions, queues and retained messages
in memory: what it holds is gone when the process ends, which is why production runs Mosquitto.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading

from central.errors import ConfigError

logger = logging.getLogger(__name__)

PROTOCOL = "3.1.1"  # the only MQTT version amqtt speaks
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0


class EmbeddedBroker:
    """An amqtt broker listening on host:port (port 0: a free one) until stop()."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="mqtt-broker", daemon=True)
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._broker = None

    @property
    def url(self) -> str:
        """The mqtt:// URL clients on this machine connect to."""
        return local_url(self.host, self.port)

    def start(self) -> EmbeddedBroker:
        """Start listening; ConfigError if the address cannot be bound."""
        logging.getLogger("amqtt").setLevel(logging.WARNING)  # it logs every connection at INFO
        logging.getLogger("transitions").setLevel(logging.WARNING)
        self._thread.start()
        if not self._started.wait(START_TIMEOUT_S) or self._error is not None:
            raise ConfigError(
                [
                    f"ZAMIO_MQTT_BIND: embedded broker cannot listen on {self.host}:{self.port}: "
                    f"{self._error or 'timed out'}"
                ]
            )
        logger.info("embedded broker: listening on %s:%d (MQTT %s)", self.host, self.port, PROTOCOL)
        return self

    def stop(self) -> None:
        """Close every session and the listener; end the thread."""
        if not self._thread.is_alive():
            return
        if self._broker is not None:
            done = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
            done.result(STOP_TIMEOUT_S)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(STOP_TIMEOUT_S)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._start())
        except Exception as error:  # reported by start()
            self._error = error
            self._started.set()
            return
        self._started.set()
        self._loop.run_forever()
        self._loop.close()

    async def _start(self) -> None:
        from amqtt.broker import Broker  # made on this loop: its futures belong to it

        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
        self._broker = Broker(config)
        await self._broker.start()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on now (the broker binds it a moment later)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def local_url(host: str, port: int) -> str:
    """mqtt:// URL of a broker listening on host:port, for a client on this machine: a wildcard
    address is reached on loopback, an IPv6 address in brackets."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"mqtt://[{host}]:{port}" if ":" in host else f"mqtt://{host}:{port}"
