"""Dossier attachments: checked by content, stored outside the web root
under generated names, removed again if the submission fails."""

import hashlib
import io
import secrets
import zipfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from gisportal.api import message

# What a scanned or typed document may be; sniffed from the bytes, never
# taken from the name or the browser's content type.
_SIGNATURES = (
    (b"%PDF-", "application/pdf", ".pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
)
_DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ALLOWED_DESCRIPTION = "PDF, PNG, JPEG, DOCX"


@dataclass(frozen=True)
class CheckedFile:
    original_name: str
    content: bytes
    content_type: str
    suffix: str
    sha256: str


def _sniff(content: bytes) -> tuple[str, str] | None:
    for signature, content_type, suffix in _SIGNATURES:
        if content.startswith(signature):
            return content_type, suffix
    if content.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(content)) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, ValueError):
            return None
        if "[Content_Types].xml" in names and "word/document.xml" in names:
            return _DOCX, ".docx"
    return None


def _size(limit: int) -> str:
    return f"{limit / 1048576:g} MB" if limit >= 1048576 else f"{limit / 1024:g} KB"


def _clean_name(name: str) -> str:
    name = Path(name or "file").name.replace("\x00", "")
    return name[-200:] or "file"


def attachments_check(files: list) -> tuple[list[CheckedFile], list[str]]:
    """Reads and checks uploaded files; returns them and the problems found."""
    problems: list[str] = []
    if len(files) > settings.DOSSIER_ATTACHMENT_MAX_COUNT:
        problems.append(
            message(
                f"Tối đa {settings.DOSSIER_ATTACHMENT_MAX_COUNT} tệp đính kèm.",
                f"At most {settings.DOSSIER_ATTACHMENT_MAX_COUNT} attachments.",
            )
        )
        return [], problems
    checked: list[CheckedFile] = []
    limit = settings.DOSSIER_ATTACHMENT_MAX_BYTES
    for upload in files:
        name = _clean_name(getattr(upload, "name", "file"))
        if upload.size is not None and upload.size > limit:
            problems.append(message(f"{name}: quá {_size(limit)}.", f"{name}: larger than {_size(limit)}."))
            continue
        content = upload.read(limit + 1)
        if len(content) > limit:
            problems.append(message(f"{name}: quá {_size(limit)}.", f"{name}: larger than {_size(limit)}."))
            continue
        if not content:
            problems.append(message(f"{name}: tệp rỗng.", f"{name}: the file is empty."))
            continue
        sniffed = _sniff(content)
        if sniffed is None:
            problems.append(
                message(
                    f"{name}: loại tệp không được chấp nhận (chỉ {ALLOWED_DESCRIPTION}).",
                    f"{name}: file type not accepted (only {ALLOWED_DESCRIPTION}).",
                )
            )
            continue
        content_type, suffix = sniffed
        checked.append(CheckedFile(name, content, content_type, suffix, hashlib.sha256(content).hexdigest()))
    return checked, problems


def storage_root() -> Path:
    return Path(settings.DOSSIER_FILES_ROOT)


def attachment_write(checked: CheckedFile) -> str:
    """Writes the bytes under a new random name and returns that name."""
    root = storage_root()
    root.mkdir(parents=True, exist_ok=True)
    stored_name = secrets.token_hex(16) + checked.suffix
    (root / stored_name).write_bytes(checked.content)
    return stored_name


def attachment_path(stored_name: str) -> Path:
    path = (storage_root() / stored_name).resolve()
    if path.parent != storage_root().resolve():
        raise FileNotFoundError(stored_name)
    return path


def attachments_remove(stored_names: list[str]) -> None:
    for name in stored_names:
        attachment_path(name).unlink(missing_ok=True)
