"""Files central writes for other programs (broker credentials, agent configs, status): atomic."""

from __future__ import annotations

import os
from pathlib import Path


def write_private(path: Path, text: str, mode: int = 0o600) -> None:
    """Write `text` to `path` atomically, the file readable as `mode` says (owner only)."""
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as stream:
        stream.write(text)
    os.chmod(partial, mode)  # O_CREAT's mode does not apply to a leftover partial file
    os.replace(partial, path)
