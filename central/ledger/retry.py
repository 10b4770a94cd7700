"""Run a unit of work in a transaction, again from the start when the database asks for it."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)
T = TypeVar("T")

ATTEMPTS_MAX = 8
BACKOFF_S_MAX = 0.05  # per attempt: the n-th retry sleeps up to n * this, jittered
# PostgreSQL SQLSTATEs that mean "nothing was done, try the transaction again".
RETRYABLE_SQLSTATES = ("40001", "40P01")  # serialization_failure, deadlock_detected
SQLITE_RETRYABLE = ("database is locked",)


def is_retryable(error: DBAPIError) -> bool:
    """True for a deadlock, a serialization failure, or a locked SQLite database."""
    code = getattr(error.orig, "pgcode", None)
    return code in RETRYABLE_SQLSTATES or any(text in str(error.orig) for text in SQLITE_RETRYABLE)


def run_in_transaction(
    session: Session, work: Callable[[Session], T], attempts_max: int = ATTEMPTS_MAX
) -> T:
    """work(session), committed; rolled back and rerun (at most attempts_max times) on a
    retryable error, rolled back and raised on any other."""
    for attempt in range(1, attempts_max + 1):
        try:
            result = work(session)
            session.commit()
            return result
        except DBAPIError as error:
            session.rollback()
            if attempt == attempts_max or not is_retryable(error):
                raise
            logger.warning("ledger: attempt %d failed, retrying: %s", attempt, error.orig)
            time.sleep(random.uniform(0, BACKOFF_S_MAX * attempt))
        except BaseException:
            session.rollback()
            raise
    raise AssertionError("unreachable")  # the loop returns or raises
