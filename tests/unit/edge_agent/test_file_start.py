"""A file source's `start_ms`: a recording placed at its own time, for file sources only."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.errors import SettingsError
from edge_agent.settings import START_MS_MAX, START_MS_MIN, parse_settings


def _settings(tmp_path: Path, source: dict) -> object:
    return parse_settings(
        {"device_id": "pi-1", "station_id": "joy-fm", "source": [source],
         "spool": {"path": str(tmp_path / "spool.db")}},
        {}, base_dir=tmp_path,
    )  # fmt: skip


def test_a_file_source_takes_the_utc_ms_of_its_first_sample(tmp_path: Path) -> None:
    """start_ms is read as given; unset, it is None (the file is heard as it is read)."""
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    file = {"id": "log", "kind": "file", "path": "a.wav"}
    assert _settings(tmp_path, {**file, "start_ms": 1_795_000_000_000}).sources[0].start_ms == (
        1_795_000_000_000
    )
    assert _settings(tmp_path, file).sources[0].start_ms is None


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ({"id": "fm", "kind": "stream", "url": "http://r/a", "start_ms": 1}, "start_ms"),
        ({"id": "log", "kind": "file", "path": "a.wav", "start_ms": -1}, "start_ms"),
    ],
)
def test_start_ms_is_refused_where_it_means_nothing(
    tmp_path: Path, source: dict, problem: str
) -> None:
    """Only a file has a first sample of its own; a time before 1970 is a mistake."""
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    with pytest.raises(SettingsError, match=problem):
        _settings(tmp_path, source)


@pytest.mark.parametrize(
    ("start_ms", "year"),
    [
        (99_999_999_999_999, "5138"),  # the mistake seen in the field
        (1_795_000_000, "1970"),  # seconds, not milliseconds
        (1_795_000_000_000_000, "58851"),  # microseconds
        (START_MS_MAX, "2100"),
        (START_MS_MIN - 1, "1999"),
    ],
)
def test_start_ms_outside_2000_to_2100_is_refused(tmp_path: Path, start_ms: int, year: str) -> None:
    """A start_ms before 2000 or from 2100 on is refused, saying the year it would mean."""
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    source = {"id": "log", "kind": "file", "path": "a.wav", "start_ms": start_ms}
    with pytest.raises(SettingsError) as raised:
        _settings(tmp_path, source)
    (problem,) = raised.value.problems
    assert "start_ms: must be UTC milliseconds from 2000-01-01 to 2100-01-01" in problem
    assert f"in the year {year}" in problem


def test_start_ms_bounds_are_inclusive_below_exclusive_above(tmp_path: Path) -> None:
    """2000-01-01T00:00:00Z and the last ms before 2100 are both accepted."""
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    for start_ms in (START_MS_MIN, START_MS_MAX - 1):
        source = {"id": "log", "kind": "file", "path": "a.wav", "start_ms": start_ms}
        assert _settings(tmp_path, source).sources[0].start_ms == start_ms
