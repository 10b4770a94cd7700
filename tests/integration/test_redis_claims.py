"""Concurrent test runs claim different Redis db numbers, and a released number is free again."""

from __future__ import annotations

import uuid

import pytest
import redis

from tests.integration.conftest import (
    HOST,
    REDIS_PORT,
    REDIS_TEST_DBS,
    claim_redis_db,
    release_redis_db,
    require_service,
)

pytestmark = pytest.mark.integration


def test_runs_claim_distinct_dbs_until_none_is_left() -> None:
    """Each claim gets a db no other run holds; when all are held there is none; a release frees
    exactly the releaser's db, and only the owner's release counts."""
    require_service("Redis", REDIS_PORT)
    prefix = f"zamio-test:claims-under-test:{uuid.uuid4().hex}:"  # not the real runs' claims
    with redis.Redis(host=HOST, port=REDIS_PORT, db=0) as claims:
        try:
            owners = [f"run-{n}" for n in REDIS_TEST_DBS]
            numbers = [claim_redis_db(claims, owner, prefix) for owner in owners]
            assert sorted(numbers) == list(REDIS_TEST_DBS)
            assert claim_redis_db(claims, "one-too-many", prefix) is None
            assert claims.ttl(f"{prefix}{numbers[0]}") > 0  # a killed run's claim expires
            release_redis_db(claims, numbers[3], "not-the-owner", prefix)
            assert claim_redis_db(claims, "late", prefix) is None
            release_redis_db(claims, numbers[3], owners[3], prefix)
            assert claim_redis_db(claims, "late", prefix) == numbers[3]
        finally:
            claims.delete(*(f"{prefix}{n}" for n in REDIS_TEST_DBS))
