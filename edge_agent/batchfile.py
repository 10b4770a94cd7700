"""Batch files: a sequence of encoded HashBatch payloads on a byte stream, for tools and tests.

Layout, all integers little-endian:

    offset size  field
    0      4     magic b"ZHBS"
    4      1     file version, 1
    5      ...   records, repeated to the end of the stream:
                   4      u32 payload_bytes, 1..PAYLOAD_BYTES_MAX
                   n      one batch payload (edge_agent.batch wire format, self-checking)

The file adds 9 bytes to the first batch and 4 to each further one. Pure I/O on a binary stream
the caller opens; payloads are not decoded here.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from edge_agent.batch import PAYLOAD_BYTES_MAX
from edge_agent.errors import BatchFileError

FILE_MAGIC = b"ZHBS"
FILE_VERSION = 1
_LENGTH = struct.Struct("<I")


def write_batch_file(stream: BinaryIO, payloads: Iterable[bytes]) -> int:
    """Write the file header and one record per payload; return the bytes written."""
    written = stream.write(FILE_MAGIC + bytes([FILE_VERSION]))
    for payload in payloads:
        assert 0 < len(payload) <= PAYLOAD_BYTES_MAX, len(payload)
        written += stream.write(_LENGTH.pack(len(payload)) + payload)
    return written


def read_batch_file(
    stream: BinaryIO, payload_bytes_max: int = PAYLOAD_BYTES_MAX
) -> Iterator[bytes]:
    """Yield each payload in order; raise BatchFileError on a bad header or a cut record."""
    head = stream.read(len(FILE_MAGIC) + 1)
    if head[: len(FILE_MAGIC)] != FILE_MAGIC:
        raise BatchFileError(f"not a batch file: starts with {head[:4]!r}, not {FILE_MAGIC!r}")
    if len(head) < len(FILE_MAGIC) + 1:
        raise BatchFileError("batch file cut short in its header")
    if head[-1] != FILE_VERSION:
        raise BatchFileError(f"batch file version {head[-1]}, this code reads {FILE_VERSION}")
    index = 0
    while prefix := stream.read(_LENGTH.size):
        yield _read_record(stream, prefix, index, payload_bytes_max)
        index += 1


def _read_record(stream: BinaryIO, prefix: bytes, index: int, payload_bytes_max: int) -> bytes:
    """The payload after a length prefix, checked against the limit and the end of the stream."""
    if len(prefix) < _LENGTH.size:
        raise BatchFileError(f"record {index}: length prefix cut short")
    (size,) = _LENGTH.unpack(prefix)
    if not 0 < size <= payload_bytes_max:
        raise BatchFileError(f"record {index}: length {size} outside 1..{payload_bytes_max}")
    payload = stream.read(size)
    if len(payload) < size:
        raise BatchFileError(f"record {index}: {len(payload)} of {size} bytes, file cut short")
    return payload
