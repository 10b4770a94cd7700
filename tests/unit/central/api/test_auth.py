"""Tests for the bootstrap token (ZAMIO_API_TOKEN) and bearer parsing: parsing, comparison."""

from __future__ import annotations

import pytest

from central import create_app
from central.auth.policy import _bootstrap_matches as token_matches
from central.auth.policy import bearer_token
from central.config import load_settings
from central.errors import ConfigError
from tests.conftest import disposed

TOKEN = "unit-test-token-0123456789abcdefghijklmnop"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (f"Bearer {TOKEN}", TOKEN),
        (f"bearer   {TOKEN}  ", TOKEN),
        (f"BEARER {TOKEN}", TOKEN),
        (None, None),
        ("", None),
        ("Bearer", None),
        ("Bearer    ", None),
        (f"Basic {TOKEN}", None),
        (TOKEN, None),
    ],
)
def test_bearer_token_from_the_header(header: str | None, expected: str | None) -> None:
    """Only the Bearer scheme (any case) with a non-empty token yields a token."""
    assert bearer_token(header) == expected


def test_token_matches_only_the_same_token() -> None:
    """Equal tokens match; a prefix, an extension or non-ASCII text does not (and never raises)."""
    assert token_matches(TOKEN, TOKEN)
    assert not token_matches(TOKEN[:-1], TOKEN)
    assert not token_matches(TOKEN + "x", TOKEN)
    assert not token_matches("tökén", TOKEN)


def test_token_comes_from_the_environment_and_is_redacted() -> None:
    """ZAMIO_API_TOKEN sets the token; repr and redacted() never show it."""
    settings = load_settings({"ZAMIO_API_TOKEN": TOKEN})
    assert settings.api_token == TOKEN
    assert TOKEN not in repr(settings)
    assert settings.redacted()["api_token"] == "***"
    assert load_settings({}).redacted()["api_token"] is None


@pytest.mark.parametrize("token", ["short", "x" * 31, "has space" + "x" * 40, "ü" * 40])
def test_a_weak_or_unsendable_token_is_a_config_error(token: str) -> None:
    """Tokens under 32 characters or outside the Bearer alphabet are refused, and not echoed."""
    with pytest.raises(ConfigError, match="ZAMIO_API_TOKEN: use at least 32") as caught:
        load_settings({"ZAMIO_API_TOKEN": token})
    assert token not in str(caught.value)


def test_an_empty_token_variable_is_a_config_error() -> None:
    """ZAMIO_API_TOKEN= set but empty is a mistake, not "no API"."""
    with pytest.raises(ConfigError, match="ZAMIO_API_TOKEN: must not be empty"):
        load_settings({"ZAMIO_API_TOKEN": " "})


def test_app_without_a_bootstrap_token_refuses_it(client) -> None:
    """The default app has no bootstrap token: the would-be one is refused like any unknown one."""
    response = client.get("/api/v1/stations", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"


def test_app_with_a_token_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """create_app reads ZAMIO_API_TOKEN: the right bearer token gets 200, none gets 401."""
    monkeypatch.setenv("ZAMIO_API_TOKEN", TOKEN)
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'z.db'}", "TESTING": True})
    try:
        client = app.test_client()
        ok = client.get("/api/v1/stations", headers={"Authorization": f"Bearer {TOKEN}"})
        assert (ok.status_code, ok.json) == (200, {"stations": []})
        assert client.get("/api/v1/stations").status_code == 401
    finally:
        disposed(app)
