"""Cursors of list endpoints: opaque, url-safe, tagged with the list they belong to, so a cursor
of one list is refused by another (400) instead of silently misread."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from central.errors import QueryError

CURSOR_CHARS_MAX = 256
T = TypeVar("T")


def encode(kind: str, position: list[Any]) -> str:
    """A cursor for resuming list `kind` after `position` (ints and strings)."""
    text = json.dumps([kind, *position], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode(kind: str, cursor: str, arity: int) -> list[Any]:
    """The position a cursor of list `kind` holds, or QueryError (400)."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError):
        values = None
    if (
        len(cursor) > CURSOR_CHARS_MAX
        or not isinstance(values, list)
        or len(values) != arity + 1
        or values[0] != kind
        or not all(isinstance(v, int | str) and not isinstance(v, bool) for v in values[1:])
    ):
        raise QueryError("cursor: not a cursor of this list; pass next_cursor as given")
    return values[1:]


def split_page(
    rows: Sequence[T], limit: int, kind: str, position: Callable[[T], list[Any]]
) -> tuple[list[T], str | None]:
    """The page of `rows` fetched with `limit + 1`, and the cursor after it (None: the last)."""
    page = list(rows[:limit])
    if len(rows) <= limit:
        return page, None
    return page, encode(kind, position(page[-1]))
