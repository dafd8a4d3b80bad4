"""JSON answers, written by orjson (issue #13). DRF's JSONRenderer writes
through the standard library's encoder; for the nearest look-up's five
points (2.2 KB) that was 0.38 million instructions, a sixth of the lean
answer, and orjson writes the same bytes in about a sixth of those
(bench/README.md, session 12).

The same bytes as DRF's renderer (compact, UTF-8, U+2028 and U+2029
escaped; DRF's encoder's `default` for what JSON has no type for: dates
and times, decimals, lazy strings, query sets), but for one thing: NaN and
the infinities are written as null, where DRF's strict setting raised (a
500). What orjson writes otherwise, or does not take, is written by the
standard library as before: a float under 1e-4 in magnitude (orjson writes
0.00001 and 3.5e-7 where Python writes 1e-05 and 3.5e-07; an answer that
may hold one, `_MAYBE_TINY_FLOAT`, is written again), an integer beyond 64
bits, a dict key that is not a string, an indented answer.

Every JSON answer of the API goes through here (the default renderer, and
`json_body` for the answers made without DRF's dispatch), so a lean answer
and its view's are the same bytes. Kept out of gisportal/api.py: DRF
imports the default renderer while `rest_framework.views` loads, so this
module must not import that."""

import re

import orjson
from rest_framework import renderers

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
# As DRF's renderer: valid JSON, but not valid JavaScript.
_LINE_SEPARATORS = (("\u2028".encode(), b"\\u2028"), ("\u2029".encode(), b"\\u2029"))
# DRF's encoder's answer for what JSON has no type for (dates, decimals, lazy strings, query sets).
_DRF_DEFAULT = renderers.JSONRenderer.encoder_class().default
# How orjson writes a float under 1e-4 (3.5e-7, 0.00001); found in a string too, which costs a rewrite only.
_MAYBE_TINY_FLOAT = re.compile(rb"[0-9]e-[0-9]|(?<![0-9.])0\.0000")
# orjson writes UTF-8, compact: DRF's settings as shipped (UNICODE_JSON, COMPACT_JSON).
_ORJSON_FITS = not renderers.JSONRenderer.ensure_ascii and renderers.JSONRenderer.compact


def json_body(data) -> bytes:
    """The bytes of `JSONRenderer().render(data)` with no indent asked for."""
    if data is None:
        return b""
    if _ORJSON_FITS:
        try:
            body = orjson.dumps(data, default=_DRF_DEFAULT, option=_OPTIONS)
        except orjson.JSONEncodeError:
            pass  # the standard library writes it, or raises its own error
        else:
            if (b"e-" in body or b"0.0000" in body) and _MAYBE_TINY_FLOAT.search(body):
                return renderers.JSONRenderer().render(data)
            for raw, escaped in _LINE_SEPARATORS:
                if raw in body:
                    body = body.replace(raw, escaped)
            return body
    return renderers.JSONRenderer().render(data)


class JSONRenderer(renderers.JSONRenderer):
    """DRF's JSONRenderer writing through `json_body`; an indented answer
    (`Accept: application/json; indent=4`) as DRF writes it."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if self.get_indent(accepted_media_type, renderer_context or {}) is not None:
            return super().render(data, accepted_media_type, renderer_context)
        return json_body(data)
