"""Photos of feedback reports: checked by content like dossier attachments
(`dossiers.attachments.attachments_check`: sniffed bytes, size and count
limits), then decoded with Pillow (a file that does not decode, or would
decode into more than FEEDBACK_PHOTO_MAX_PIXELS, is refused).

Two files are kept per photo, outside the web root under random names:
- the original as sent, private (officials of the agency and the reporter
  download it): it may carry EXIF, GPS position included;
- a public copy, turned upright by its EXIF orientation, at most
  FEEDBACK_PHOTO_PUBLIC_MAX_PX on its long side, re-encoded as JPEG with no
  metadata at all (no EXIF, no GPS, no XMP, no ICC profile): what the public
  page shows once the report is published.

`photos_check(files)` returns the `CheckedPhoto`s that `feedback_submit`
takes (`photos=`), and the problems found (bilingual, for the field
`photos`)."""

from __future__ import annotations

import io
import re
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from django.conf import settings
from django.core.files.base import ContentFile
from PIL import Image, ImageOps, UnidentifiedImageError

from dossiers.attachments import CheckedFile, attachments_check
from gisportal.api import message
from gisportal.filestore import feedback_storage

PHOTO_TYPES = frozenset({"image/jpeg", "image/png"})
PHOTO_TYPES_DESCRIBED = "JPEG, PNG"


@dataclass(frozen=True)
class CheckedPhoto:
    original: CheckedFile
    public_jpeg: bytes
    width: int
    height: int


def _public_copy(original: bytes) -> tuple[bytes, int, int]:
    """Upright, bounded, metadata-free JPEG of a decodable image."""
    with Image.open(io.BytesIO(original)) as image:
        image.load()
        upright = ImageOps.exif_transpose(image)
    upright = upright.convert("RGB")
    upright.thumbnail((settings.FEEDBACK_PHOTO_PUBLIC_MAX_PX,) * 2)
    out = io.BytesIO()
    # A new image without `exif=`, `icc_profile=` or info carried over: Pillow
    # writes only the pixels.
    clean = Image.new("RGB", upright.size)
    clean.paste(upright)
    clean.save(out, format="JPEG", quality=85, optimize=True)
    return out.getvalue(), clean.width, clean.height


def _decodes(name: str, content: bytes) -> str | None:
    """A problem with the image itself, or None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content)) as image:
                if image.width * image.height > settings.FEEDBACK_PHOTO_MAX_PIXELS:
                    return message(f"{name}: ảnh quá lớn (số điểm ảnh).", f"{name}: too many pixels.")
                image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning):  # fmt: skip
        return message(f"{name}: không đọc được ảnh.", f"{name}: the image cannot be read.")
    return None


def photos_check(files: list) -> tuple[list[CheckedPhoto], list[str]]:
    """The uploaded photos checked and their public copies made; the problems found."""
    checked, problems = attachments_check(
        files,
        max_count=settings.FEEDBACK_PHOTO_MAX_COUNT,
        max_bytes=settings.FEEDBACK_PHOTO_MAX_BYTES,
        types=PHOTO_TYPES,
        described=PHOTO_TYPES_DESCRIBED,
    )
    photos: list[CheckedPhoto] = []
    for item in checked:
        problem = _decodes(item.original_name, item.content)
        if problem:
            problems.append(problem)
            continue
        try:
            public, width, height = _public_copy(item.content)
        except (OSError, ValueError) as error:
            problems.append(message(f"{item.original_name}: không đọc được ảnh.", f"{item.original_name}: {error}."))
            continue
        photos.append(CheckedPhoto(original=item, public_jpeg=public, width=width, height=height))
    return photos, problems


# --- storage -------------------------------------------------------------------


# In the feedback files' store (gisportal.filestore: a local folder or an
# object store), under `original/` and `public/`.
_STORED_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,79}")


def _name(kind: str, stored: str) -> str:
    if kind not in ("original", "public") or not _STORED_NAME.fullmatch(stored or ""):
        raise FileNotFoundError(stored)
    return f"{kind}/{stored}"


def photo_write(kind: str, content: bytes, suffix: str) -> str:
    """Writes the bytes under a new random name in `kind` ("original" or
    "public") and returns the name."""
    name = secrets.token_hex(16) + suffix
    feedback_storage().save(_name(kind, name), ContentFile(content))
    return name


def photo_open(kind: str, stored: str) -> IO[bytes]:
    """The stored photo, open for reading; FileNotFoundError when it is gone."""
    return feedback_storage().open(_name(kind, stored), "rb")


def photo_path(kind: str, stored: str) -> Path:
    """The photo's local path: only where the store is a local folder (tests)."""
    return Path(feedback_storage().path(_name(kind, stored)))


def photos_remove(written: list[tuple[str, str]]) -> None:
    storage = feedback_storage()
    for kind, stored in written:
        storage.delete(_name(kind, stored))
