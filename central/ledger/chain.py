"""The journal's hashes: a content hash per transfer, and a hash chain over the journal.

Content hash: SHA-256 (hex) of the canonical JSON (no spaces, UTF-8) of

    ["zamio.ledger.transfer.v1", id, idempotency_key, code, state, currency,
     pending_id or null, reverses_id or null, [[account_code, side, amount_minor], ...],
     metadata_json]

with the legs in their stored order (debits first, then by account code) and metadata_json the
stored canonical JSON text of the metadata. Two requests with the same key are "the same
content" when their content hashes are equal.

Chain hash: SHA-256 (hex) of the UTF-8 text

    "zamio.ledger.chain.v1\\n{seq}\\n{prev_hash}\\n{content_hash}\\n{created_at_us}"

where seq is the transfer's place in the journal (1, 2, ...), prev_hash the chain hash of seq - 1
(GENESIS_HASH, 64 zeros, for seq 1) and created_at_us its creation time in UTC microseconds. So a
changed amount changes a content hash, and a changed, removed or inserted transfer breaks every
link after it. Worked example (frozen by tests/unit/central/ledger/test_chain.py): a transfer
with content hash "ab" * 32 at seq 1, created at 1_790_000_000_000_000 us, chains to
CHAIN_EXAMPLE_HASH. Changing this layout means a new version tag and a migration of the chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from central.times import as_utc

GENESIS_HASH = "0" * 64
HASH_CHARS = 64
CONTENT_TAG = "zamio.ledger.transfer.v1"
CHAIN_TAG = "zamio.ledger.chain.v1"
CHAIN_EXAMPLE_HASH = "5509e934e5b583a29ecca127fa6cc53a817e8b32f528df5019a58347e6188fdf"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

LegTuple = tuple[str, str, int]  # (account_code, side, amount_minor)


def content_hash(
    transfer_id: str,
    idempotency_key: str,
    code: str,
    state: str,
    currency: str,
    pending_id: str | None,
    reverses_id: str | None,
    legs: Sequence[LegTuple],
    metadata_json: str,
) -> str:
    """The SHA-256 hex of a transfer's canonical content (layout in the module docstring)."""
    body = [
        CONTENT_TAG,
        transfer_id,
        idempotency_key,
        code,
        state,
        currency,
        pending_id,
        reverses_id,
        [list(leg) for leg in legs],
        metadata_json,
    ]
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def chain_hash(seq: int, prev_hash: str, content: str, created_at_us: int) -> str:
    """The chain hash of the transfer at `seq` (layout in the module docstring)."""
    text = f"{CHAIN_TAG}\n{seq}\n{prev_hash}\n{content}\n{created_at_us}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def instant_us(moment: datetime) -> int:
    """UTC microseconds since the epoch; a naive datetime (as SQLite returns them) is UTC."""
    return (as_utc(moment) - _EPOCH) // _MICROSECOND


def canonical_json(value: object) -> str:
    """JSON with sorted keys and no spaces: one text per value, as hashed and stored."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
