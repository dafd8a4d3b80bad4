"""Calling the WSGI application the server runs (gisportal/fastpath.py's
`LeanPath`) and Django's own handler on the same request, for the tests
that prove a lean answer is Django's answer (tests/test_fastpath.py and the
apps' own tests of their lean routes). The `wsgi` fixture is in the root
conftest.py."""

import gzip
import io
import re
import sys
from urllib.parse import urlencode

from django.core.handlers.wsgi import WSGIHandler

PATH = "/api/v1/service-points/nearest/"
# What the production settings add behind the TLS proxy.
BEHIND_TLS_PROXY = {
    "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https"),
    "SECURE_SSL_REDIRECT": True,
    "SECURE_HSTS_SECONDS": 31536000,
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
    "SECURE_HSTS_PRELOAD": True,
    "TRUSTED_PROXIES": ["127.0.0.1"],
}
HTTPS = {"HTTP_X_FORWARDED_PROTO": "https"}
_TIMESTAMP = re.compile(rb'"timeStamp": ?"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"')


def environ(query: dict | str, *, method: str = "GET", path: str = PATH, **headers) -> dict:
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query if isinstance(query, str) else urlencode(query),
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "testserver",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_X_FORWARDED_FOR": "198.51.100.20",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        **headers,
    }


class Counting:
    """Django's WSGI handler, counting the requests handed to it."""

    def __init__(self):
        self.handler = WSGIHandler()
        self.calls = 0

    def __call__(self, environ, start_response):
        self.calls += 1
        return self.handler(environ, start_response)


def call(application, env: dict) -> tuple[str, dict, bytes]:
    started = []
    result = application(env, lambda status, headers, exc_info=None: started.append((status, headers)))
    try:
        body = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    status, headers = started[0]
    return status, dict(headers), body


def assert_same(lean: tuple[str, dict, bytes], django: tuple[str, dict, bytes]) -> None:
    (lean_status, lean_headers, lean_body), (status, headers, body) = lean, django
    assert lean_status == status
    if headers.get("Content-Encoding") == "gzip":
        # Django's gzip pads its header with random bytes (BREACH): compare what it holds.
        lean_body, body = gzip.decompress(lean_body), gzip.decompress(body)
        del lean_headers["Content-Length"], headers["Content-Length"]
    assert lean_headers == headers
    # The OGC envelope's timeStamp is to the second: two answers made across a second's turn differ there only.
    assert _TIMESTAMP.sub(b'"timeStamp":"T"', lean_body) == _TIMESTAMP.sub(b'"timeStamp":"T"', body)


VARIANTS = {
    "plain http": {},
    "https behind the proxy": HTTPS,
    "gzip": {**HTTPS, "HTTP_ACCEPT_ENCODING": "gzip, deflate"},
    "english cookie": {**HTTPS, "HTTP_COOKIE": "django_language=en"},
    # Django deletes a bad session's cookie and replaces a malformed CSRF cookie.
    "bad cookies": {**HTTPS, "HTTP_COOKIE": "sessionid=abc; csrftoken=abc", "HTTP_ACCEPT_ENCODING": "gzip"},
    "good cookies": {**HTTPS, "HTTP_COOKIE": f"sessionid={'s' * 32}; csrftoken={'c' * 32}"},
    "token": {**HTTPS, "HTTP_AUTHORIZATION": "Token nothing", "HTTP_ACCEPT_ENCODING": "gzip"},
}


def refused_alike(lean, django, env: dict, *, within: int = 3, asked: int = 5) -> tuple[list, list]:
    """`asked` requests to the lean application, then as many to Django's
    handler with the rate-limit counts cleared between, under a limit of
    `within` a window: the same statuses (200s, then 429s) and, for the
    refusals, the same headers with a Retry-After within the minute. Returns
    both lists of answers."""
    from django.core.cache import cache

    lean_answers = [call(lean, env) for _ in range(asked)]
    cache.clear()
    django_answers = [call(django, env) for _ in range(asked)]
    expected = ["200"] * within + ["429"] * (asked - within)
    assert [a[0][:3] for a in lean_answers] == [a[0][:3] for a in django_answers] == expected
    for lean_answer, django_answer in zip(lean_answers[within:], django_answers[within:], strict=True):
        for headers in (lean_answer[1], django_answer[1]):
            assert 1 <= int(headers.pop("Retry-After")) <= 60
        assert lean_answer[1] == django_answer[1]
    return lean_answers, django_answers


def lean_and_django(wsgi, env: dict) -> tuple[tuple, tuple, Counting]:
    """The lean application's answer, then Django's to the same request, what
    either kept (tiles, answers, rate-limit counts) forgotten before each, so
    that both make the answer afresh; and the count of requests the lean
    application handed to Django."""
    lean, behind, django = wsgi()
    _forget_kept_answers()
    lean_answer = call(lean, env)
    _forget_kept_answers()
    return lean_answer, call(django, env), behind


def _forget_kept_answers() -> None:
    from django.core.cache import cache

    from gisportal.api import recent_answers
    from layers.registries.tiles import recent_tiles

    recent_tiles.clear()
    recent_answers.clear()
    cache.clear()


def answered_lean_as_django(wsgi, env: dict) -> tuple[str, dict, bytes]:
    """The lean application's answer to `env`, checked equal to Django's
    (`lean_and_django`) and made without Django's handler; its body
    decompressed if it came gzipped."""
    answer, django_answer, behind = lean_and_django(wsgi, env)
    assert_same(answer, django_answer)
    assert behind.calls == 0
    status, headers, body = answer
    return status, headers, gzip.decompress(body) if headers.get("Content-Encoding") == "gzip" else body
