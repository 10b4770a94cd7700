"""CSV downloads, one way for every one of them: a header row, then rows, CRLF line ends,
yielded in chunks so a long file streams in flat memory; catalogue text quoted so that a
spreadsheet shows it rather than running it as a formula. Pure."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

ROWS_PER_CHUNK = 200
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run these


def rows_as_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The CSV text of `header` and `rows`, in chunks of ROWS_PER_CHUNK rows."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for n, row in enumerate(rows, 1):
        writer.writerow(row)
        if n % ROWS_PER_CHUNK == 0:
            yield _drain(out)
    yield _drain(out)


def safe_cell(text: str | None) -> str:
    """Catalogue text for a spreadsheet: a leading ' before what it would run as a formula."""
    if not text:
        return ""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _drain(out: io.StringIO) -> str:
    """What the writer wrote since the last drain."""
    text = out.getvalue()
    out.seek(0)
    out.truncate()
    return text
