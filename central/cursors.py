"""Cursors of keyset pages as two whole numbers (`start_ms:id`, `seq:leg`): opaque url-safe
base64, checked strictly on the way back. Pure."""

from __future__ import annotations

import base64
import binascii
import re

from central.errors import QueryError

CURSOR_CHARS_MAX = 64
REFUSED = "cursor: not a cursor this API gave out (pass next_cursor unchanged)"


def encode_pair(first: int, second: int) -> str:
    """The cursor of the position (first, second)."""
    return base64.urlsafe_b64encode(f"{first}:{second}".encode()).decode().rstrip("=")


def decode_pair(cursor: str, shape: re.Pattern[str]) -> tuple[int, int]:
    """The two numbers of a cursor made by encode_pair whose text fits `shape` (two groups of
    digits), or QueryError."""
    if not 1 <= len(cursor) <= CURSOR_CHARS_MAX or not cursor.isascii():
        raise QueryError(REFUSED)
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.b64decode(padded, altchars=b"-_", validate=True).decode("ascii")
    except (binascii.Error, ValueError):
        raise QueryError(REFUSED) from None
    found = shape.fullmatch(text)
    if found is None:
        raise QueryError(REFUSED)
    return int(found.group(1)), int(found.group(2))
