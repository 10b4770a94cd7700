"""Errors raised by the edge agent, one class per way things go wrong."""


class BatchEncodeError(ValueError):
    """A HashBatch that cannot be encoded: a field out of range or arrays that disagree."""


class BatchDecodeError(Exception):
    """A batch payload that cannot be trusted; `reason` is a short stable tag for quarantine."""

    reason = "invalid"


class BadMagicError(BatchDecodeError):
    """The payload does not start with b"ZHB"."""

    reason = "bad_magic"


class UnknownWireVersionError(BatchDecodeError):
    """The payload's wire version is one this code does not read."""

    reason = "unknown_wire_version"


class TruncatedBatchError(BatchDecodeError):
    """The payload is shorter than its header says."""

    reason = "truncated"


class TrailingBytesError(BatchDecodeError):
    """The payload is longer than its header says."""

    reason = "trailing_bytes"


class OversizedBatchError(BatchDecodeError):
    """The payload is longer than the receiver accepts."""

    reason = "oversized"


class ChecksumMismatchError(BatchDecodeError):
    """The payload's checksum does not match its bytes."""

    reason = "checksum_mismatch"


class BatchLimitError(BatchDecodeError):
    """A count or length in the payload is beyond a named *_max limit."""

    reason = "limit_exceeded"


class MalformedBatchError(BatchDecodeError):
    """A value in the payload is invalid: out of order, overflowing, outside the window."""

    reason = "malformed"


class BatchFileError(Exception):
    """A batch file (b"ZHBS") that is not one, or is cut short."""


class DecodeError(Exception):
    """Audio that cannot be used: not found, no ffmpeg, corrupt, empty, too short or silent."""


class SpoolError(Exception):
    """The on-disk outbox cannot be used: corrupt, another schema version, or a SQLite failure."""


class SpoolFullError(SpoolError):
    """The disk holding the spool is full and dropping the oldest messages did not make room."""


class SettingsError(Exception):
    """The agent's configuration is invalid; `problems` lists every problem, secrets left out."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class CaptureError(Exception):
    """A source stopped giving audio: ffmpeg exited, the stream stalled, the device vanished."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason  # short stable tag: ffmpeg_exit, stalled, no_ffmpeg, soundcard_open
        self.detail = detail


class SourceEnded(Exception):
    """A file source reached its end (not a failure)."""


class CommandError(ValueError):
    """A commands-topic payload that is no command we carry out; `kind` groups it for the log."""

    def __init__(self, kind: str, why: str) -> None:
        super().__init__(f"{kind}: {why}")
        self.kind = kind
