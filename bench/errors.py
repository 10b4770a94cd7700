"""Errors raised by the benchmarks, one class per way things go wrong."""


class BenchError(Exception):
    """Base class of every benchmark error."""


class ManifestError(BenchError):
    """A track manifest that cannot be used: missing, malformed, or too few usable tracks."""


class ToolError(BenchError):
    """An external tool (ffmpeg, sox, espeak-ng, zamio) failed; the message ends with its stderr."""
