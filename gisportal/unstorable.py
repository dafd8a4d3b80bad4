"""Input PostgreSQL cannot store: NUL characters and lone UTF-16 surrogates
(no UTF-8 form). Either one reaching a query raised inside the database
driver, a 500; the portal answers 400 naming the parameter instead.

`gisportal.middleware.UnstorableInputMiddleware` refuses it in paths, query
strings, headers, cookies, JSON and URL-encoded bodies and multipart page
forms before any view runs; `MultiPartParser` below in the API's multipart
bodies, once parsed (after authentication, so that an upload is not read
before its caller is known). Kept apart from `gisportal.api`: DRF imports
the parser named in its settings while `rest_framework.views` loads."""

import re

from rest_framework import parsers
from rest_framework.exceptions import ValidationError

from gisportal.messages import message

UNSTORABLE_MESSAGE = message(
    "Không được chứa ký tự NUL (0x00) hay ký tự không lưu trữ được (nửa cặp UTF-16).",
    "Must not contain NUL (0x00) or characters that cannot be stored (unpaired UTF-16 surrogates).",
)


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable(text: str) -> bool:
    """Whether PostgreSQL cannot store `text` in a text or JSONB column: a NUL
    character, or a lone UTF-16 surrogate (which has no UTF-8 form)."""
    return _UNSTORABLE.search(text) is not None


def printable_name(name: str) -> str:
    """A parameter name fit for a JSON key of an error answer."""
    return name.replace("\x00", "\\u0000").encode("utf-8", "backslashreplace").decode("utf-8")


def unstorable_fields(mapping) -> list[str]:
    """Names of the entries of a QueryDict (or a plain mapping of strings)
    whose name or any value cannot be stored."""
    lists = mapping.lists() if hasattr(mapping, "lists") else ((k, [v]) for k, v in mapping.items())
    return [
        printable_name(key)
        for key, values in lists
        if unstorable(key) or any(isinstance(v, str) and unstorable(v) for v in values)
    ]


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser, refusing text fields PostgreSQL cannot store
    with a 400 naming them (the default of REST_FRAMEWORK's parsers)."""

    def parse(self, stream, media_type=None, parser_context=None):
        parsed = super().parse(stream, media_type, parser_context)
        bad = unstorable_fields(parsed.data)
        if bad:
            raise ValidationError({name: [UNSTORABLE_MESSAGE] for name in bad})
        return parsed
