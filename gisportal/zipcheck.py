"""The one check of a ZIP container before anything opens its entries: the
registry importer (zipped shapefiles) and dossier attachments (DOCX) call it,
each with its own limits.

It reads the central directory only: entry count, paths (absolute, `..`,
backslashes, drive letters), declared sizes and compression ratio. The sizes
in a directory are whatever the sender wrote, so a caller that keeps the file
for others to open (an attachment) also asks for `inflate=True`: every entry
is decompressed as a stream, counted, never held, and must come out at the
size it declares and below the total limit."""

import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from gisportal.api import message

# Entries smaller than this are not judged by their ratio: a small file of
# repeated bytes compresses far beyond any limit and harms nobody.
RATIO_MIN_BYTES = 1024 * 1024
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class ZipLimits:
    max_entries: int
    max_total_bytes: int  # uncompressed, all entries together
    max_ratio: float  # uncompressed / compressed, per entry above RATIO_MIN_BYTES
    inflate: bool = False  # verify the declared sizes by decompressing


class ZipRefused(ValueError):
    """The container is broken or unsafe; `vi` and `en` say why."""

    def __init__(self, vi: str, en: str):
        super().__init__(message(vi, en))
        self.vi = vi
        self.en = en


def size_text(size: int) -> str:
    """2 GB, 100 MB, 512 KB: the way the limits are written in messages."""
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2)):
        if size >= factor:
            return f"{size / factor:g} {unit}"
    return f"{size / 1024:g} KB"


def _bomb(name: str, limits: ZipLimits) -> ZipRefused:
    return ZipRefused(
        f"Tệp zip bị nén bất thường ({name}: tỉ lệ nén trên {limits.max_ratio:g}), nghi là bom zip.",
        f"Suspicious compression in the zip ({name}: ratio above {limits.max_ratio:g}); looks like a zip bomb.",
    )


def _too_large(limits: ZipLimits) -> ZipRefused:
    limit = size_text(limits.max_total_bytes)
    return ZipRefused(
        f"Tệp zip khi giải nén vượt quá {limit}.", f"The zip would expand to more than {limit}; looks like a zip bomb."
    )


def _broken() -> ZipRefused:
    return ZipRefused("Tệp zip bị hỏng.", "The zip file is broken.")


def zip_path_unsafe(name: str) -> bool:
    """Whether an entry name could land outside the folder it is extracted to."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":")


def zip_check(source: str | Path | BinaryIO, *, limits: ZipLimits) -> list[zipfile.ZipInfo]:
    """The entries of a ZIP that is safe to open within `limits`; ZipRefused
    (bilingual) otherwise. `source` is a path or a seekable binary file."""
    try:
        with zipfile.ZipFile(source) as archive:
            entries = archive.infolist()
            if len(entries) > limits.max_entries:
                raise ZipRefused(
                    f"Tệp zip có quá nhiều mục (tối đa {limits.max_entries}).",
                    f"The zip has too many entries (at most {limits.max_entries}).",
                )
            total = 0
            for entry in entries:
                name = entry.filename
                if zip_path_unsafe(name):
                    raise ZipRefused(
                        f"Tệp zip chứa đường dẫn không an toàn: {name!r}.", f"The zip holds an unsafe path: {name!r}."
                    )
                total += entry.file_size
                if entry.file_size > limits.max_ratio * max(entry.compress_size, 1) and (
                    entry.file_size > RATIO_MIN_BYTES
                ):
                    raise _bomb(name, limits)
            if total > limits.max_total_bytes:
                raise _too_large(limits)
            if limits.inflate:
                _inflate_all(archive, entries, limits)
    except ZipRefused:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as error:
        # ValueError: offsets in a forged directory that point before the file.
        raise _broken() from error
    return entries


def _inflate_all(archive: zipfile.ZipFile, entries: list[zipfile.ZipInfo], limits: ZipLimits) -> None:
    """Decompress every entry from its raw bytes (not through ZipFile.open,
    which stops at the declared size and so trusts it), counting the output."""
    handle = archive.fp
    budget = limits.max_total_bytes
    for entry in entries:
        if entry.flag_bits & 0x1:  # encrypted: cannot be measured
            raise _broken()
        handle.seek(entry.header_offset)
        header = handle.read(_LOCAL_HEADER.size)
        if len(header) != _LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
            raise _broken()
        name_length, extra_length = _LOCAL_HEADER.unpack(header)[-2:]
        handle.seek(entry.header_offset + _LOCAL_HEADER.size + name_length + extra_length)
        if entry.compress_type == zipfile.ZIP_STORED:
            produced = _stored_size(handle, entry.compress_size)
        elif entry.compress_type == zipfile.ZIP_DEFLATED:
            produced = _inflated_size(handle, entry.compress_size, budget=budget)
        else:
            raise _broken()
        if produced > budget:
            raise _too_large(limits)
        if produced > limits.max_ratio * max(entry.compress_size, 1) and produced > RATIO_MIN_BYTES:
            raise _bomb(entry.filename, limits)
        if produced != entry.file_size:
            raise _broken()
        budget -= produced


def _stored_size(handle, size: int) -> int:
    remaining = size
    while remaining:
        chunk = handle.read(min(_CHUNK, remaining))
        if not chunk:
            raise _broken()
        remaining -= len(chunk)
    return size


def _inflated_size(handle, compressed: int, *, budget: int) -> int:
    """Bytes the raw deflate stream of `compressed` bytes produces; stops
    counting (and returns a number above `budget`) once past it."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    produced = 0
    remaining = compressed
    while remaining and not inflater.eof:
        data = handle.read(min(_CHUNK, remaining))
        if not data:
            raise _broken()
        remaining -= len(data)
        while data and not inflater.eof:
            try:
                produced += len(inflater.decompress(data, _CHUNK))
            except zlib.error as error:
                raise _broken() from error
            if produced > budget:
                return produced
            data = inflater.unconsumed_tail
    if not inflater.eof:
        raise _broken()
    return produced
