"""Fixtures of the ledger's PostgreSQL tests: a session, and a small chart of accounts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from central.extensions import db
from central.ledger.accounts import account_spec, open_account

# code: (kind, credit_limit_minor, unbounded)
CHART = {
    "settlement:bank": ("settlement", None, None),
    "station:joy-fm:wallet": ("station_wallet", 50_000, None),  # a GHS 500 credit limit
    "station:peace-fm:wallet": ("station_wallet", None, None),  # prepaid only: floor 0
    "artist:1:earnings": ("artist_earnings", None, None),
    "artist:2:earnings": ("artist_earnings", None, None),
    "rights_holder:7:earnings": ("rights_holder_earnings", None, None),
    "platform:fees": ("platform_fees", None, None),
    "society:ghamro:pool": ("society_pool", None, None),
    "suspense:composition": ("suspense", None, None),
}


def open_chart(session: Session, chart: dict[str, tuple[str, int | None, bool | None]]) -> None:
    """Open every account of `chart` and commit."""
    for code, (kind, limit_minor, unbounded) in chart.items():
        open_account(session, account_spec(code, kind, "GHS", limit_minor, unbounded))
    session.commit()


@pytest.fixture
def session(pg_app: Flask) -> Iterator[Session]:
    """The app's session in an app context, with CHART's accounts open."""
    with pg_app.app_context():
        open_chart(db.session, CHART)
        yield db.session
        db.session.rollback()
