"""Two listeners never ask for one gap twice: due gaps are claimed with FOR UPDATE SKIP LOCKED
on PostgreSQL."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from central.extensions import db
from central.ingest.accounting import Policy, claim_due
from central.ingest.store import STORED, ingest_payload
from tests.integration.central.ingest.conftest import TOPIC, now_ms, wire_batch

pytestmark = pytest.mark.integration


def test_a_gap_claimed_by_one_listener_is_skipped_by_another(pg_app: Flask, device) -> None:
    """While one transaction holds the claim, the other gets no request; after it commits the
    gap is not due again until its backoff ends."""
    policy = Policy(grace_s=0, interval_s=60, tries_max=5)
    start_ms = now_ms()
    with pg_app.app_context():
        for seq in (0, 5):
            assert (
                ingest_payload(db.session, TOPIC, wire_batch(seq), start_ms, policy).kind == STORED
            )
        db.session.commit()
        with Session(db.engine) as first, Session(db.engine) as second:
            (request,) = claim_due(first, start_ms + 1, policy)
            assert claim_due(second, start_ms + 1, policy) == []  # locked: skipped, not waited
            first.commit()
            second.rollback()
            assert claim_due(second, start_ms + 2, policy) == []  # next request in 60 s
            assert len(claim_due(second, start_ms + 61_000, policy)) == 1
            second.commit()
    assert b'"seq_from": 1, "seq_to": 4' in request.payload
