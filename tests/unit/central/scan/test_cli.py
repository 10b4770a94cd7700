"""`zamio scan` refuses to start on what it cannot scan, before it starts anything."""

from __future__ import annotations

from pathlib import Path

from flask.testing import FlaskCliRunner

from central.cli import cli


def test_an_unknown_forced_station_is_an_error(runner: FlaskCliRunner, tmp_path: Path) -> None:
    """A typo in --station stops the command at once instead of scanning nothing."""
    state_dir = tmp_path / "scan"
    result = runner.invoke(cli, ["scan", "--state-dir", str(state_dir), "--station", "ghost"])
    assert result.exit_code == 1
    assert "no such station: ghost" in result.output
    assert not state_dir.exists()


def test_scan_is_a_zamio_command_with_a_status_subcommand(runner: FlaskCliRunner) -> None:
    """`zamio scan --help` lists its options and the status subcommand."""
    result = runner.invoke(cli, ["scan", "--help"])
    assert result.exit_code == 0, result.output
    for word in ("--state-dir", "--max-agents", "--station", "status"):
        assert word in result.output
