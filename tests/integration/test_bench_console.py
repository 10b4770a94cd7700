"""bench/console.py at a tiny size, so it does not rot: it builds its data set in a throwaway
PostgreSQL database, signs in each role through /login, and prints a row per page and per
role's live feed latency, every page answered 200."""

from __future__ import annotations

import pytest

from bench import console
from tests.integration.conftest import POSTGRES_PORT, require_service

pytestmark = pytest.mark.integration
TINY = ["--quick", "--plays", "3000", "--repeats", "1", "--latency-runs", "1"]


def test_a_tiny_run_times_every_page_and_the_feed(capsys: pytest.CaptureFixture) -> None:
    """Exit 0 (every page 200), a row per page and per role's feed latency."""
    require_service("PostgreSQL", POSTGRES_PORT)
    assert console.main(TINY) == 0
    out = capsys.readouterr().out
    assert "3,000 plays at 5 stations" in out
    for name in console.PAGES:
        assert name in out
    for role in console.POLLS:
        assert f"{role}: live feed fragment (a poll)" in out
        assert f"{role}: play stored -> shown by /live's poller" in out
