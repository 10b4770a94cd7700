"""The play log's CSV and day: a header, one row per play record in order, catalogue text a
spreadsheet would run as a formula quoted, and a day's range from midnight to midnight UTC."""

from __future__ import annotations

import csv
import io
from datetime import date

from central.console.station import CSV_COLUMNS, csv_lines, day_span, safe_cell


def record(play_id: int, title: str) -> dict:
    """A play record shaped like plays.queries.play_record."""
    return {
        "id": play_id, "station": "joy-fm", "start": "2026-09-01T00:00:00.000Z",
        "end": "2026-09-01T00:03:00.000Z", "duration_ms": 180_000, "confidence": 0.9,
        "status": "closed", "closed_at": "2026-09-02T00:00:00.000Z",
        "track": {"external_id": "A", "title": title, "artist": None, "isrc": None},
    }  # fmt: skip


def test_csv_has_a_header_and_a_row_per_play_in_order() -> None:
    """Header first; every play once, in the order given, across chunk boundaries."""
    text = "".join(csv_lines(iter([record(n, f"Song {n}") for n in range(1, 451)])))
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [int(r[0]) for r in rows[1:]] == list(range(1, 451))
    assert rows[1][2] == "2026-09-01T00:00:00.000Z" and rows[1][7] == ""


def test_formula_text_is_quoted_and_plain_text_is_not() -> None:
    """=, +, -, @ and tab at the start get a leading '; other text stays as it is."""
    assert [safe_cell(t) for t in ("=1+1", "+x", "-x", "@x", "\tx", "Ama", None)] == [
        "'=1+1", "'+x", "'-x", "'@x", "'\tx", "Ama", ""
    ]  # fmt: skip


def test_a_day_is_midnight_to_midnight_utc() -> None:
    """2026-09-01 is [its 00:00, the next day's 00:00) in UTC ms."""
    span = day_span(date(2026, 9, 1))
    assert (span.since_ms, span.until_ms) == (1_788_220_800_000, 1_788_307_200_000)
