"""Tests for central.config: layering, validation that reports everything, and no leaked secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from central.config import Settings, data_dir, load_settings, redact_url
from central.errors import ConfigError


def test_defaults_are_embedded() -> None:
    """With no settings: SQLite in $XDG_DATA_HOME/zamio/zamio.db, no Redis (jobs inline), no
    broker URL (ingest runs the embedded broker on 127.0.0.1:1883)."""
    settings = load_settings({"XDG_DATA_HOME": "/srv/data"})
    assert settings.database_url == "sqlite:////srv/data/zamio/zamio.db"
    assert settings.redis_url is None
    assert settings.mqtt_url is None
    assert settings.mqtt_bind == "127.0.0.1:1883"


def test_an_override_of_none_restores_an_embedded_default() -> None:
    """An override may unset an optional URL the environment set (the demo does), not others."""
    settings = load_settings({"ZAMIO_REDIS_URL": "redis://cache"}, {"REDIS_URL": None})
    assert settings.redis_url is None
    with pytest.raises(ConfigError, match="override MQTT_BIND: expected str, got NoneType"):
        load_settings({}, {"MQTT_BIND": None})


@pytest.mark.parametrize("bind", ["1883", "localhost:", ":1883", "host:99999", "host:http"])
def test_a_bind_address_needs_host_and_port(bind: str) -> None:
    """ZAMIO_MQTT_BIND is host:port; anything else is refused, naming the variable."""
    with pytest.raises(ConfigError, match="ZAMIO_MQTT_BIND: expected host:port"):
        load_settings({"ZAMIO_MQTT_BIND": bind})
    assert load_settings({"ZAMIO_MQTT_BIND": "[::]:1884"}).mqtt_bind == "[::]:1884"


def test_data_dir_falls_back_to_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without XDG_DATA_HOME (or with a relative one) the data dir is ~/.local/share/zamio."""
    monkeypatch.setenv("HOME", str(tmp_path))
    expected = tmp_path / ".local" / "share" / "zamio"
    assert data_dir({}) == expected
    assert data_dir({"XDG_DATA_HOME": "relative/dir"}) == expected


def test_environment_then_overrides() -> None:
    """ZAMIO_* variables replace defaults, and overrides replace both."""
    environ = {
        "ZAMIO_REDIS_URL": "redis://cache:6379/2",
        "ZAMIO_DATABASE_AUTO_UPGRADE": "off",
        "ZAMIO_MQTT_URL": "mqtt://broker:1883",
        "PATH": "/bin",
    }
    settings = load_settings(environ, {"MQTT_URL": "mqtts://other:8883", "testing": True})
    assert settings == Settings(
        database_url=settings.database_url,
        redis_url="redis://cache:6379/2",
        mqtt_url="mqtts://other:8883",
        database_auto_upgrade=False,
        testing=True,
    )


def test_every_problem_reported_at_once() -> None:
    """Unknown keys, bad values and bad URLs all appear in one ConfigError."""
    environ = {
        "ZAMIO_DATABSE_URL": "sqlite://",
        "ZAMIO_TESTING": "maybe",
        "ZAMIO_REDIS_URL": "http://cache",
        "ZAMIO_MQTT_URL": "mqtt://",
        "ZAMIO_DATABASE_URL": "mysql://db/zamio",
    }
    with pytest.raises(ConfigError) as caught:
        load_settings(environ, {"NO_SUCH_THING": 1, "DATABASE_AUTO_UPGRADE": "x"})
    problems = caught.value.problems
    assert len(problems) == 7, problems
    text = str(caught.value)
    for fragment in (
        "ZAMIO_DATABSE_URL: unknown setting",
        "ZAMIO_TESTING: expected one of",
        "ZAMIO_REDIS_URL: scheme must be one of",
        "ZAMIO_MQTT_URL: no host",
        "unsupported database 'mysql'",
        "override NO_SUCH_THING: unknown setting",
        "override DATABASE_AUTO_UPGRADE: expected one of",
    ):
        assert fragment in text


def test_override_of_the_wrong_type() -> None:
    """A non-string override must have the setting's type."""
    with pytest.raises(ConfigError, match="override TESTING: expected bool, got int"):
        load_settings({}, {"TESTING": 1})


def test_secrets_never_appear_in_errors_or_redacted_settings() -> None:
    """Passwords in URLs are replaced by *** wherever settings are shown."""
    secret = "hunter2-s3cret"
    with pytest.raises(ConfigError) as caught:
        load_settings({"ZAMIO_DATABASE_URL": f"oracle://zamio:{secret}@db/z"})
    assert secret not in str(caught.value)
    settings = load_settings(
        {},
        {
            "DATABASE_URL": f"postgresql://zamio:{secret}@db:5432/zamio",
            "REDIS_URL": f"redis://:{secret}@cache:6379/0",
        },
    )
    shown = repr(settings.redacted())
    assert secret not in shown
    assert "postgresql+psycopg2://zamio:***@db:5432/zamio" in shown


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgresql://zamio@db/zamio", "postgresql+psycopg2://zamio@db/zamio"),
        ("postgres://zamio:pw@db:5432/z", "postgresql+psycopg2://zamio:pw@db:5432/z"),
        ("postgresql+psycopg2://zamio@db/zamio", "postgresql+psycopg2://zamio@db/zamio"),
        ("postgresql+pg8000://zamio@db/zamio", "postgresql+pg8000://zamio@db/zamio"),
        ("sqlite:////tmp/z.db", "sqlite:////tmp/z.db"),
    ],
)
def test_plain_postgresql_urls_use_the_shipped_driver(given: str, used: str) -> None:
    """postgresql:// and postgres:// mean psycopg2 (SQLAlchemy 2.1 would pick psycopg 3, which
    ZamIO does not ship); an explicit driver is kept."""
    assert load_settings({"ZAMIO_DATABASE_URL": given}).database_url == used


def test_redact_url_leaves_passwordless_urls_alone() -> None:
    """A URL without a password is shown as given."""
    assert redact_url("sqlite:////tmp/z.db") == "sqlite:////tmp/z.db"
    assert redact_url("mqtt://u@h:1883") == "mqtt://u@h:1883"
