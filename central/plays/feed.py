"""The live feed's cursor: which rows a poll asks for so that none is repeated or skipped. Pure.

Row ids come from a sequence when a row is inserted, not when its transaction commits, so a row
with a smaller id can become visible after a larger one was shown (two stations' play builds, or
two matching workers, commit in either order). A cursor therefore holds the highest id seen
(`after`, over every row, in the caller's scope or not) and the ids below it that were missing
then (`held`); each poll asks for both. An id that never appears (an insert rolled back, a play
deleted when its airing was rebuilt) is let go once it is HELD_SPAN ids behind the highest, and
at most HELD_MAX are held (the newest), which bounds the poller's URL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from central.errors import QueryError

HELD_SPAN = 500  # ids behind the highest seen that may still commit; far more than in flight
HELD_MAX = 64  # held ids a cursor carries at most
ID_MAX = 2**31 - 1  # integer primary keys
_ID = re.compile(r"[0-9]{1,10}")


@dataclass(frozen=True)
class Cursor:
    """Where a feed left off: the highest id seen, and the missing ids below it, ascending."""

    after: int
    held: tuple[int, ...] = ()


def advance(cursor: Cursor, present: Iterable[int]) -> Cursor:
    """The cursor after a poll that found the ids `present` (every row the poll asked for that
    exists, in scope or not)."""
    found = set(present)
    top = max(found | {cursor.after})
    floor = top - HELD_SPAN
    missing = {i for i in range(max(cursor.after, floor) + 1, top + 1) if i not in found}
    held = {i for i in cursor.held if i not in found} | missing
    return Cursor(top, tuple(sorted(i for i in held if i > floor)[-HELD_MAX:]))


def start(top: int | None, present: Iterable[int]) -> Cursor:
    """The cursor of a feed opened now: `top` the highest id stored (None: none yet), `present`
    the ids stored within HELD_SPAN below it."""
    if top is None:
        return Cursor(0)
    return advance(Cursor(max(top - HELD_SPAN, 0)), [*present, top])


def parse(after: str | None, held: str | None) -> Cursor | None:
    """The cursor of a poller's `after` and `held` (ids joined by '.'), None without `after`,
    QueryError when either is malformed."""
    if after is None:
        return None
    if not _ID.fullmatch(after):
        raise QueryError("after: a row id")
    ids = [] if not held else held.split(".")
    if len(ids) > HELD_MAX or not all(_ID.fullmatch(i) for i in ids):
        raise QueryError(f"held: at most {HELD_MAX} row ids joined by '.'")
    top = int(after)
    values = sorted({int(i) for i in ids})
    if top > ID_MAX or any(not top - HELD_SPAN < i < top for i in values):
        raise QueryError("held: ids just below after")
    return Cursor(top, tuple(values))


def held_text(cursor: Cursor) -> str:
    """The cursor's held ids as a poller's `held` parameter."""
    return ".".join(str(i) for i in cursor.held)
