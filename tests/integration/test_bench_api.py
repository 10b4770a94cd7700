"""bench/api.py at a tiny size, so it does not rot: it builds its data set in a throwaway
PostgreSQL database, finds it consistent (totals equal entries, the rollup its rebuild, the
breakdown the statement) and prints a row per query."""

from __future__ import annotations

import pytest

from bench import api
from tests.integration.conftest import POSTGRES_PORT, require_service

pytestmark = pytest.mark.integration
TINY = ["--stations", "3", "--plays", "2000", "--days", "45", "--tracks", "30",
        "--artists", "6", "--repeats", "2"]  # fmt: skip


def test_a_tiny_run_is_consistent_and_prints_every_query(capsys: pytest.CaptureFixture) -> None:
    """Exit 0 (no inconsistency), one table row per domain query, the database dropped."""
    require_service("PostgreSQL", POSTGRES_PORT)
    assert api.main(TINY) == 0
    out = capsys.readouterr().out
    assert "2,000 plays at 3 stations over 45 days" in out and "INCONSISTENT" not in out
    size = api.api_data.Size(3, 2000, 45, 30, 6)
    for name in api.cases(size):
        assert name in out
