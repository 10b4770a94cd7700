"""Errors of stream scans."""


class ScanError(Exception):
    """A stream scan cannot run as asked: its state directory is in use or unusable."""
