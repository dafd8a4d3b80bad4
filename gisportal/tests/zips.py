"""Hostile ZIP containers for the tests, built the way an attacker would:
by hand, with whatever sizes the directory should claim."""

import functools
import struct
import zlib
from dataclasses import dataclass

_LOCAL = struct.Struct("<4s5H3L2H")
_CENTRAL = struct.Struct("<4s6H3L5H2L")
_END = struct.Struct("<4s4H2LH")
_DOS_DATE = (0 << 9) | (1 << 5) | 1  # 1980-01-01
_BLOCK = 16 * 1024 * 1024
STORED, DEFLATED = 0, 8


@dataclass(frozen=True)
class Entry:
    name: str
    data: bytes  # as stored in the archive (raw deflate when DEFLATED)
    method: int
    crc: int
    size: int  # the uncompressed size the archive claims
    flags: int = 0


def stored(name: str, content: bytes) -> Entry:
    return Entry(name, content, STORED, zlib.crc32(content), len(content))


def deflated(name: str, content: bytes) -> Entry:
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return Entry(name, packer.compress(content) + packer.flush(), DEFLATED, zlib.crc32(content), len(content))


@functools.cache
def _zero_block() -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return packer.compress(bytes(_BLOCK)) + packer.flush(zlib.Z_FULL_FLUSH)


@functools.cache
def deflated_zeros(size: int) -> tuple[bytes, int]:
    """(raw deflate stream, CRC-32) of `size` zero bytes, in well under a
    second for 1 GB: after a full flush the compressor starts afresh, so one
    compressed 16 MB block can simply be repeated."""
    whole, rest = divmod(size, _BLOCK)
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    stream = _zero_block() * whole + packer.compress(bytes(rest)) + packer.flush()
    zeros, crc = bytes(_BLOCK), 0
    for _ in range(whole):
        crc = zlib.crc32(zeros, crc)
    return stream, zlib.crc32(bytes(rest), crc)


def zeros(name: str, size: int, *, claimed_size: int | None = None) -> Entry:
    """`size` zero bytes, deflated; the directory claims `claimed_size`."""
    stream, crc = deflated_zeros(size)
    return Entry(name, stream, DEFLATED, crc, size if claimed_size is None else claimed_size)


def zip_bytes(entries: list[Entry]) -> bytes:
    out, directory = bytearray(), bytearray()
    for entry in entries:
        name = entry.name.encode()
        offset = len(out)
        fields = (entry.flags, entry.method, 0, _DOS_DATE, entry.crc, len(entry.data), entry.size, len(name), 0)
        out += _LOCAL.pack(b"PK\x03\x04", 20, *fields) + name + entry.data
        directory += _CENTRAL.pack(b"PK\x01\x02", 20, 20, *fields, 0, 0, 0, 0, offset) + name
    end = _END.pack(b"PK\x05\x06", 0, 0, len(entries), len(entries), len(directory), len(out), 0)
    return bytes(out + directory + end)


def docx(*extra: Entry, document: Entry | None = None) -> bytes:
    """A DOCX as the attachment check recognises it, with `extra` entries."""
    return zip_bytes(
        [
            deflated("[Content_Types].xml", b"<Types/>"),
            document or deflated("word/document.xml", "<w:document>Tờ khai</w:document>".encode()),
            *extra,
        ]
    )
