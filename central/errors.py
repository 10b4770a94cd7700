"""Errors raised by central, one class per way things go wrong."""


class ConfigError(Exception):
    """The configuration is invalid; `problems` lists every problem found, secrets redacted."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


class SchemaError(Exception):
    """The database schema does not match the code: behind (run `zamio db upgrade`) or newer."""


class ManifestError(Exception):
    """A catalogue manifest that cannot be read: missing, malformed, or with invalid entries."""


class FingerprintVersionError(Exception):
    """Hashes of one fingerprint version met an index or catalogue of another: never mixed."""


class StationError(Exception):
    """A station or device that cannot be added, found or changed as asked."""


class QueryError(Exception):
    """A read query asked for something it cannot have: a bad time, range, limit or cursor."""


class UploadError(Exception):
    """A track upload refused before it was stored; `problems` lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


class ReviewError(Exception):
    """A review decision that cannot be made: unknown review, already decided, or unfit."""
