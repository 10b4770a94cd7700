"""The edge agent's configuration for a stream scan (pure): device code, broker address, TOML.

A scan agent is an ordinary `zamio-agent run` process with one stream source; it publishes as
the station's scan device (`scan-<station code>`), so its batches take the same MQTT path, ACL
and ingest as a box's. Keys as in deploy/agent.example.toml.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import urlsplit

from central.config import bind_address
from central.embedded.broker import PROTOCOL, local_url
from central.scan.supervisor import LinkSpec
from central.stations.models import CODE_CHARS_MAX

SCAN_DEVICE_PREFIX = "scan-"
DIGEST_CHARS = 8  # of a long station code's hash, when `scan-<code>` would be too long
SOURCE_ID = "stream"
SPOOL_BYTES_MAX = 32 * 1024 * 1024  # per link: about 3 days of batches (~0.41 MB per hour)
HEARTBEAT_S = 60.0
MQTT_PORTS = {"mqtt": 1883, "mqtts": 8883}


def scan_device_code(station_code: str) -> str:
    """`scan-<station code>`; a code too long is cut and given a hash, so it stays unique."""
    code = SCAN_DEVICE_PREFIX + station_code
    if len(code) <= CODE_CHARS_MAX:
        return code
    digest = hashlib.sha256(station_code.encode("utf-8")).hexdigest()[:DIGEST_CHARS]
    keep = CODE_CHARS_MAX - len(SCAN_DEVICE_PREFIX) - 1 - DIGEST_CHARS
    return f"{SCAN_DEVICE_PREFIX}{station_code[:keep]}-{digest}"


def agent_broker(mqtt_url: str | None, mqtt_bind: str) -> tuple[str, str]:
    """(URL, MQTT protocol) of central's broker for an agent on this machine: ZAMIO_MQTT_URL with
    MQTT 5, or, when unset, the embedded broker of `zamio ingest` at ZAMIO_MQTT_BIND (3.1.1)."""
    if mqtt_url is not None:
        return agent_broker_url(mqtt_url), "5"
    return local_url(*bind_address(mqtt_bind)), PROTOCOL


def agent_broker_url(mqtt_url: str) -> str:
    """Central's broker URL as the agent takes it: scheme, host and port; no credentials (the
    agent logs in as its device) and no path."""
    parts = urlsplit(mqtt_url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6
        host = f"[{host}]"
    port = parts.port or MQTT_PORTS[parts.scheme]
    return f"{parts.scheme}://{host}:{port}"


def agent_toml(
    spec: LinkSpec, broker_url: str, password_file: Path, spool_path: Path, protocol: str = "5"
) -> str:
    """The agent's config file for `spec`; the password stays in `password_file`."""
    lines = [
        "# Written by `zamio scan`; rewritten on every refresh, do not edit.",
        f"device_id = {toml_string(spec.device_code)}",
        f"station_id = {toml_string(spec.station_code)}",
        'log_level = "info"',
        "",
        "[[source]]",
        f"id = {toml_string(SOURCE_ID)}",
        'kind = "stream"',
        f"url = {toml_string(spec.stream_url)}",
        "",
        "[uplink]",
        f"url = {toml_string(broker_url)}",
        f"protocol = {toml_string(protocol)}",
        f"username = {toml_string(spec.device_code)}",
        f"password_file = {toml_string(str(password_file))}",
        f"heartbeat_s = {HEARTBEAT_S}",
        "",
        "[spool]",
        f"path = {toml_string(str(spool_path))}",
        f"bytes_max = {SPOOL_BYTES_MAX}",
    ]
    return "\n".join(lines) + "\n"


def toml_string(text: str) -> str:
    """`text` as a TOML basic string: quotes, backslashes and control characters escaped."""
    out = []
    for char in text:
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'
