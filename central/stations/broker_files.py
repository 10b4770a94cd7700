"""Writing Mosquitto's files (dynamic-security config, or password and ACL files) so that the
broker never reads a bad one (I/O shell).

Each file is written to a temporary file in its own directory, flushed to disk, given its mode
and group, then renamed over the old one: Mosquitto, reading it at start (or on SIGHUP), sees
the old file or the new one, whole and readable, never a half-written or root-only one (an
unreadable file makes Mosquitto refuse to start, and on reload drop every client). The files
are 0640, of the group the broker's user belongs to: `--group`, else the group of the existing
file, else that of the directory.
"""

from __future__ import annotations

import grp
import os
import tempfile
from pathlib import Path

from central.errors import StationError

FILE_MODE = 0o640  # the owner writes, the broker's group reads, nobody else


def target_gid(path: Path, group: str | None) -> int:
    """The group id the file gets: `group` by name, else the current file's, else its dir's."""
    if group is not None:
        try:
            return grp.getgrnam(group).gr_gid
        except KeyError:
            raise StationError(f"--group {group}: no such group") from None
    existing = path if path.exists() else path.parent
    return existing.stat().st_gid


def write_broker_file(path: Path, text: str, gid: int) -> None:
    """Replace `path` atomically with `text`, mode 0640, group `gid`."""
    if not path.parent.is_dir():
        raise StationError(f"{path.parent} is not a directory")
    fd, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fchmod(stream.fileno(), FILE_MODE)
            if os.stat(partial).st_gid != gid:
                os.fchown(stream.fileno(), -1, gid)
            os.fsync(stream.fileno())
        os.replace(partial, path)
    except OSError as error:
        Path(partial).unlink(missing_ok=True)
        raise StationError(f"cannot write {path}: {error.strerror}") from None
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)  # the rename itself survives a power cut
    finally:
        os.close(fd)
