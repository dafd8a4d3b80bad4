"""Dossier attachments: checked by content, stored outside the web root
under generated names, removed again if the submission fails, and sent back
as downloads named by their checked type."""

import hashlib
import io
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from django.conf import settings
from django.core.files.base import ContentFile

from gisportal.api import message
from gisportal.filestore import dossier_storage
from gisportal.zipcheck import ZipLimits, ZipRefused, size_text, zip_check

# What a scanned or typed document may be; sniffed from the bytes, never
# taken from the name or the browser's content type.
_SIGNATURES = (
    (b"%PDF-", "application/pdf", ".pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
)
_DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ALLOWED_DESCRIPTION = "PDF, PNG, JPEG, DOCX"
SUFFIX_BY_TYPE = {content_type: suffix for _, content_type, suffix in _SIGNATURES} | {_DOCX: ".docx"}
# A DOCX is a ZIP: at most 10 MB arrives, and a document that inflates past
# 100 MB (or one part past 100 times its packed size) is a bomb, not a form.
# Its entries are decompressed once to check: an official opening it later
# must not meet sizes other than the declared ones.
_STORED_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,79}")
DOCX_ZIP_LIMITS = ZipLimits(max_entries=1000, max_total_bytes=100 * 1024 * 1024, max_ratio=100, inflate=True)


@dataclass(frozen=True)
class CheckedFile:
    original_name: str
    content: bytes
    content_type: str
    suffix: str
    sha256: str


def _sniff(content: bytes) -> tuple[str, str] | None:
    """(content type, suffix), None for a type not accepted; ZipRefused for
    a ZIP that is broken or unsafe."""
    for signature, content_type, suffix in _SIGNATURES:
        if content.startswith(signature):
            return content_type, suffix
    if content.startswith(b"PK\x03\x04"):
        entries = zip_check(io.BytesIO(content), limits=DOCX_ZIP_LIMITS)
        names = {entry.filename for entry in entries}
        if "[Content_Types].xml" in names and "word/document.xml" in names:
            return _DOCX, ".docx"
    return None


def _clean_name(name: str) -> str:
    name = Path(name or "file").name.replace("\x00", "")
    return name[-200:] or "file"


def attachments_check(
    files: list,
    *,
    max_count: int | None = None,
    max_bytes: int | None = None,
    types: frozenset[str] | None = None,
    described: str = ALLOWED_DESCRIPTION,
) -> tuple[list[CheckedFile], list[str]]:
    """Reads and checks uploaded files; returns them and the problems found.
    Dossier attachments by default (DOSSIER_ATTACHMENT_MAX_COUNT and _BYTES,
    every accepted type); other uploads (feedback photos) pass their own
    limits and the content types they accept (`described` names them)."""
    problems: list[str] = []
    max_count = settings.DOSSIER_ATTACHMENT_MAX_COUNT if max_count is None else max_count
    if len(files) > max_count:
        problems.append(message(f"Tối đa {max_count} tệp đính kèm.", f"At most {max_count} attachments."))
        return [], problems
    checked: list[CheckedFile] = []
    limit = settings.DOSSIER_ATTACHMENT_MAX_BYTES if max_bytes is None else max_bytes
    for upload in files:
        name = _clean_name(getattr(upload, "name", "file"))
        if upload.size is not None and upload.size > limit:
            problems.append(message(f"{name}: quá {size_text(limit)}.", f"{name}: larger than {size_text(limit)}."))
            continue
        content = upload.read(limit + 1)
        if len(content) > limit:
            problems.append(message(f"{name}: quá {size_text(limit)}.", f"{name}: larger than {size_text(limit)}."))
            continue
        if not content:
            problems.append(message(f"{name}: tệp rỗng.", f"{name}: the file is empty."))
            continue
        try:
            sniffed = _sniff(content)
        except ZipRefused as refused:
            problems.append(message(f"{name}: {refused.vi}", f"{name}: {refused.en}"))
            continue
        if sniffed is None or (types is not None and sniffed[0] not in types):
            problems.append(
                message(
                    f"{name}: loại tệp không được chấp nhận (chỉ {described}).",
                    f"{name}: file type not accepted (only {described}).",
                )
            )
            continue
        content_type, suffix = sniffed
        checked.append(CheckedFile(name, content, content_type, suffix, hashlib.sha256(content).hexdigest()))
    return checked, problems


def attachment_write(checked: CheckedFile) -> str:
    """Stores the bytes under a new random name in the dossier files' store
    (gisportal.filestore: a local folder or an object store) and returns that name."""
    stored_name = secrets.token_hex(16) + checked.suffix
    return dossier_storage().save(stored_name, ContentFile(checked.content))


def stored_file_fields(checked: CheckedFile, *, written: list[str]) -> dict:
    """Writes `checked` (attachment_write), adds its stored name to `written`
    (what the caller removes if its transaction fails) and returns the
    fields every stored file's row holds (attachments, results, the
    citizen's documents)."""
    stored = attachment_write(checked)
    written.append(stored)
    return {
        "original_name": checked.original_name,
        "stored_name": stored,
        "content_type": checked.content_type,
        "size": len(checked.content),
        "sha256": checked.sha256,
    }


def _checked_name(stored_name: str) -> str:
    """A stored name is a plain file name: nothing that leaves the store."""
    if not _STORED_NAME.fullmatch(stored_name or ""):
        raise FileNotFoundError(stored_name)
    return stored_name


def attachment_open(stored_name: str) -> IO[bytes]:
    """The stored file, open for reading; FileNotFoundError when it is gone."""
    return dossier_storage().open(_checked_name(stored_name), "rb")


def attachment_read(stored_name: str) -> bytes:
    with attachment_open(stored_name) as handle:
        return handle.read()


def attachment_exists(stored_name: str) -> bool:
    try:
        return dossier_storage().exists(_checked_name(stored_name))
    except FileNotFoundError:
        return False


def attachment_path(stored_name: str) -> Path:
    """The file's local path: only where the store is a local folder (tests
    that damage a file on disk)."""
    return Path(dossier_storage().path(_checked_name(stored_name)))


def attachment_download_name(*, original_name: str, content_type: str) -> str:
    """The sender's name with the extension of the checked type: a PDF sent
    as `x.html` downloads as `x.pdf`, never as a page."""
    stem = Path(_clean_name(original_name)).stem or "file"
    return stem + SUFFIX_BY_TYPE.get(content_type, ".bin")


def attachments_remove(stored_names: list[str]) -> None:
    storage = dossier_storage()
    for name in stored_names:
        storage.delete(_checked_name(name))
