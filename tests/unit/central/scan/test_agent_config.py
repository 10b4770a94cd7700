"""The agent config a stream scan writes: device codes, broker address, TOML the agent accepts."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from central.scan.agent_config import (
    SPOOL_BYTES_MAX,
    agent_broker,
    agent_broker_url,
    agent_toml,
    scan_device_code,
    toml_string,
)
from central.scan.supervisor import LinkSpec
from central.stations.models import CODE_CHARS_MAX
from central.stations.store import CODE
from edge_agent.settings import parse_settings


def test_scan_device_code_is_scan_dash_station() -> None:
    """A short station code gives `scan-<code>`."""
    assert scan_device_code("joy-fm") == "scan-joy-fm"


def test_long_station_codes_give_valid_distinct_device_codes() -> None:
    """Codes too long for `scan-` are cut to the limit with a hash: valid and still distinct."""
    first, second = "a" * 60 + "1", "a" * 60 + "2"
    codes = {scan_device_code(first), scan_device_code(second)}
    assert len(codes) == 2
    for code in codes:
        assert len(code) == CODE_CHARS_MAX and CODE.fullmatch(code) and code.startswith("scan-")
    assert scan_device_code(first) == scan_device_code(first), "stable across runs"


@pytest.mark.parametrize(
    ("central_url", "agent_url"),
    [
        ("mqtt://127.0.0.1:1883", "mqtt://127.0.0.1:1883"),
        ("mqtt://zamio-ingest:s3cr%40t@broker.example:1884/", "mqtt://broker.example:1884"),
        ("mqtts://broker.example", "mqtts://broker.example:8883"),
        ("mqtt://broker.example", "mqtt://broker.example:1883"),
        ("mqtt://[::1]:1883", "mqtt://[::1]:1883"),
    ],
)
def test_broker_url_drops_credentials_and_path(central_url: str, agent_url: str) -> None:
    """Central's own broker credentials never reach an agent config; TLS stays mqtts."""
    assert agent_broker_url(central_url) == agent_url


@pytest.mark.parametrize(
    ("mqtt_url", "mqtt_bind", "expected"),
    [
        ("mqtt://broker.example", "127.0.0.1:1883", ("mqtt://broker.example:1883", "5")),
        (None, "127.0.0.1:1884", ("mqtt://127.0.0.1:1884", "3.1.1")),
        (None, "0.0.0.0:1883", ("mqtt://127.0.0.1:1883", "3.1.1")),
        (None, "[::]:1883", ("mqtt://[::1]:1883", "3.1.1")),
    ],
)
def test_scan_agents_use_the_embedded_broker_when_none_is_configured(
    mqtt_url: str | None, mqtt_bind: str, expected: tuple[str, str]
) -> None:
    """No ZAMIO_MQTT_URL: scan agents connect to `zamio ingest`'s embedded broker, in MQTT 3.1.1,
    at its bind address (a wildcard address is reached on loopback)."""
    assert agent_broker(mqtt_url, mqtt_bind) == expected


def test_the_agent_accepts_the_config(tmp_path: Path) -> None:
    """The written TOML passes the agent's own validation, with the device's login and TLS."""
    password_file = tmp_path / "scan-joy-fm.password"
    password_file.write_text("pa55word\n")
    spec = LinkSpec("joy-fm", "scan-joy-fm", "http://user:pw@radio.example:8000/joy.mp3?x=1")
    text = agent_toml(spec, "mqtts://broker.example:8883", password_file, tmp_path / "spool.db")
    settings = parse_settings(tomllib.loads(text), {}, base_dir=tmp_path)
    assert (settings.device_id, settings.station_id) == ("scan-joy-fm", "joy-fm")
    assert [(s.kind, s.url, s.station_id) for s in settings.sources] == [
        ("stream", spec.stream_url, "joy-fm")
    ]
    uplink = settings.uplink
    assert (uplink.username, uplink.password, uplink.tls) == ("scan-joy-fm", "pa55word", True)
    assert settings.spool.path == tmp_path / "spool.db"
    assert settings.spool.bytes_max == SPOOL_BYTES_MAX
    assert "pa55word" not in text


@pytest.mark.parametrize(
    "text", ["plain", 'quote " and \\ backslash', "tab\tnew\nline\x00nul\x7fdel", "Ghana 🇬🇭 é"]
)
def test_toml_strings_round_trip(text: str) -> None:
    """Any URL or path, however odd, reads back from the TOML exactly as written."""
    assert tomllib.loads(f"value = {toml_string(text)}")["value"] == text
