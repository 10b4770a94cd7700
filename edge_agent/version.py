"""The installed agent's version, for the heartbeat and `zamio-agent --version` (stdlib only)."""

from __future__ import annotations

from importlib import metadata


def agent_version() -> str:
    """The installed zamio distribution's version."""
    try:
        return metadata.version("zamio")
    except metadata.PackageNotFoundError:
        return "unknown"
