"""Sending a file as a download: the one place that sets the headers every
file of the portal goes out with (attachments, slips, exports, reports,
procedure forms).

- `Content-Disposition: attachment` (slips alone are `inline`, to print),
  with the name in ASCII and, when it has Vietnamese letters, also in
  RFC 5987 `filename*` (UTF-8, percent-encoded);
- `X-Content-Type-Options: nosniff`, so a browser never guesses HTML;
- a content type that cannot run as a page: HTML, XHTML, SVG, XML and
  script types become `application/octet-stream`."""

import re
import unicodedata
from typing import BinaryIO
from urllib.parse import quote

from django.http import FileResponse, HttpResponse

# Types a browser would render or run in the portal's origin.
ACTIVE_CONTENT_TYPES = {
    "text/html",
    "application/xhtml+xml",
    "image/svg+xml",
    "text/xml",
    "application/xml",
    "text/javascript",
    "application/javascript",
    "application/ecmascript",
    "text/ecmascript",
}
_UNSAFE_ASCII = re.compile(r"[^A-Za-z0-9._()+ -]+")


def ascii_filename(filename: str) -> str:
    """The name without diacritics, with anything else unusual as `_`:
    `Tờ khai đăng ký.pdf` → `To khai dang ky.pdf`."""
    plain = filename.replace("đ", "d").replace("Đ", "D")
    plain = "".join(c for c in unicodedata.normalize("NFKD", plain) if not unicodedata.combining(c))
    plain = _UNSAFE_ASCII.sub("_", plain).strip(" .")
    return plain or "download"


def content_disposition(filename: str, *, inline: bool = False) -> str:
    kind = "inline" if inline else "attachment"
    fallback = ascii_filename(filename)
    if fallback == filename:
        return f'{kind}; filename="{fallback}"'
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def safe_content_type(content_type: str) -> str:
    base = content_type.split(";", 1)[0].strip().lower()
    return "application/octet-stream" if base in ACTIVE_CONTENT_TYPES or not base else content_type


def download_response(
    body: bytes | BinaryIO, *, filename: str, content_type: str, inline: bool = False, private: bool = False
) -> HttpResponse | FileResponse:
    """`body` as a file named `filename`: bytes in one response, an open
    binary file streamed (and closed when sent). `private`: personal data,
    kept out of shared and browser caches."""
    content_type = safe_content_type(content_type)
    if isinstance(body, bytes):
        response: HttpResponse | FileResponse = HttpResponse(body, content_type=content_type)
    else:
        response = FileResponse(body, content_type=content_type)
    response["Content-Disposition"] = content_disposition(filename, inline=inline)
    response["X-Content-Type-Options"] = "nosniff"
    if private:
        response["Cache-Control"] = "private, no-store"
    return response
