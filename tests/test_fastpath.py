"""The lean path (gisportal/fastpath.py) answers exactly what Django answers:
for each request below, the WSGI application gunicorn runs (`LeanPath`)
and Django's own WSGI handler give the same status, headers and body;
plain look-ups are answered in front of Django, everything else is handed
to it. (Django's answer is checked against pyproj in
maps/tests/test_nearest_plain_path.py.)"""

import gzip
import io
import json
import sys
from urllib.parse import urlencode

import pytest
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection, connections
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from gisportal.fastpath import NOT_ON_LEAN_PATH, LeanPath
from layers.models import ServicePoint

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


@pytest.fixture
def wsgi(db):
    """(lean application, the Django handler behind it, a bare Django handler),
    built inside the test's settings; the connection signals are held off as
    Django's test client does (they would end the test's transaction)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    cache.clear()
    try:
        yield lambda: (lambda counting: (LeanPath(counting), counting, WSGIHandler()))(Counting())
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
        cache.clear()


def assert_same(lean: tuple[str, dict, bytes], django: tuple[str, dict, bytes]) -> None:
    (lean_status, lean_headers, lean_body), (status, headers, body) = lean, django
    assert lean_status == status
    if headers.get("Content-Encoding") == "gzip":
        # Django's gzip pads its header with random bytes (BREACH): compare what it holds.
        lean_body, body = gzip.decompress(lean_body), gzip.decompress(body)
        del lean_headers["Content-Length"], headers["Content-Length"]
    assert lean_headers == headers
    assert lean_body == body


PLAIN = [
    {"lon": "106.07", "lat": "21.18"},
    {"lon": "106.0763", "lat": "21.1861", "kind": "commune_desk", "limit": "13"},
    {"lon": " 105.95 ", "lat": "21.05", "kind": "post_office", "limit": "1"},
    {"lon": "106.5", "lat": "21.4", "kind": "provincial_centre", "limit": "50"},
    {"lon": "106.1", "lat": "21.1", "kind": "any", "limit": "7", "procedure": ""},  # empty: not sent
    {"lon": "-179.5", "lat": "-89.9", "limit": "2"},  # far from everything
    {"lon": "106.07", "lat": "21.18", "lang": "en", "other": "ignored"},
]
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


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("query", PLAIN)
def test_a_plain_look_up_is_answered_in_front_of_django_with_django_s_answer(wsgi, query, variant):
    # A name with a line separator (the renderer escapes it) and Vietnamese letters.
    point = ServicePoint.objects.filter(is_active=True).order_by("id").first()
    ServicePoint.objects.filter(pk=point.pk).update(name="Bưu điện\u2028Kinh Bắc \u2029 “số 1”")
    with override_settings(**BEHIND_TLS_PROXY):
        lean, behind, django = wsgi()
        env = environ(query, **VARIANTS[variant])
        lean_answer = call(lean, env)
        assert_same(lean_answer, call(django, env))
    if variant == "plain http":
        assert lean_answer[0].startswith("301")  # to https, as Django redirects
    else:
        assert lean_answer[0] == "200 OK"
        assert lean_answer[1]["Strict-Transport-Security"].startswith("max-age=31536000")
        assert lean_answer[1]["X-Frame-Options"] == "DENY"
    assert behind.calls == 0  # the lean path answered


DECLINED = [
    ({"lon": "106.07"}, "GET", PATH),  # lat missing: the view's 400 names it
    ({"lon": "x", "lat": "21"}, "GET", PATH),
    ({"lon": "106.07", "lat": "21.18", "limit": "51"}, "GET", PATH),
    ({"lon": "106.07", "lat": "21.18", "kind": "school"}, "GET", PATH),
    ({"lon": "106.07", "lat": "21.18", "procedure": "   "}, "GET", PATH),  # white space only
    ({"lon": "106.07", "lat": "21.18", "open_at": "2026-03-11T10:00"}, "GET", PATH),  # a "now" answer
    ({"lon": "106.07", "lat": "21.18", "rank": "balanced", "open_at": "2026-03-11T10:00"}, "GET", PATH),
    ({"lon": "106.07\x00", "lat": "21.18"}, "GET", PATH),  # NUL: the 400 of UnstorableInputMiddleware
    ({"lon": "106.07", "lat": "21.18"}, "HEAD", PATH),
    ({"lon": "106.07", "lat": "21.18"}, "POST", PATH),
    ({"lon": "106.07", "lat": "21.18"}, "GET", PATH.rstrip("/")),  # APPEND_SLASH's redirect
    ({"level": "province"}, "GET", "/api/v1/admin-units/"),
]


@pytest.mark.parametrize(("query", "method", "path"), DECLINED)
def test_everything_else_is_handed_to_django(wsgi, query, method, path):
    with override_settings(**BEHIND_TLS_PROXY):
        lean, behind, django = wsgi()
        env = environ(query, method=method, path=path, **HTTPS)
        lean_answer = call(lean, env)
        assert_same(lean_answer, call(django, env))
    assert behind.calls == 1
    if lean_answer[0].startswith("400"):
        assert set(json.loads(lean_answer[2])) & {"lon", "lat", "limit", "kind", "procedure"}


def test_unstorable_input_in_another_parameter_gets_the_middleware_s_400(wsgi):
    with override_settings(**BEHIND_TLS_PROXY):
        lean, behind, django = wsgi()
        env = environ({"lon": "106.07", "lat": "21.18", "note": "a\x00b"}, **HTTPS)
        answer = call(lean, env)
        assert_same(answer, call(django, env))
    assert answer[0].startswith("400") and json.loads(answer[2]) == {"note": [json.loads(answer[2])["note"][0]]}
    assert behind.calls == 0  # refused on the lean path by the same middleware


@override_settings(**BEHIND_TLS_PROXY, PUBLIC_LOOKUP_RATE="3/min")
def test_the_rate_limit_counts_and_refuses_alike(wsgi):
    query = {"lon": "106.07", "lat": "21.18"}
    lean, behind, django = wsgi()
    lean_answers = [call(lean, environ(query, **HTTPS)) for _ in range(5)]
    cache.clear()
    django_answers = [call(django, environ(query, **HTTPS)) for _ in range(5)]
    assert [a[0][:3] for a in lean_answers] == [a[0][:3] for a in django_answers] == ["200"] * 3 + ["429"] * 2
    for lean_answer, django_answer in zip(lean_answers[3:], django_answers[3:], strict=True):
        for headers in (lean_answer[1], django_answer[1]):
            assert 1 <= int(headers.pop("Retry-After")) <= 60
        # The message says the seconds left, which may differ by one between the two runs.
        lean_detail, django_detail = (json.loads(a[2])["detail"] for a in (lean_answer, django_answer))
        assert "Too many requests" in lean_detail and "Quá nhiều" in lean_detail
        assert lean_detail.split(" ")[0] == django_detail.split(" ")[0]
        assert lean_answer[1] == django_answer[1]
    # Another client behind the proxy has its own count, on either path.
    assert call(lean, environ(query, **HTTPS, HTTP_X_FORWARDED_FOR="198.51.100.21"))[0] == "200 OK"
    assert behind.calls == 0  # the refusals too: the view's own 429, called on the lean path


@override_settings(**BEHIND_TLS_PROXY)
def test_one_statement_a_look_up_no_request_signal_no_health_check(wsgi, monkeypatch):
    lean, _, _ = wsgi()
    env = {"lon": "106.0713", "lat": "21.1822", "kind": "commune_desk", "limit": "3"}
    call(lean, environ(env, **HTTPS))
    signals = []
    checks = []
    db = connections["default"]
    usable = db.is_usable
    monkeypatch.setattr(db, "is_usable", lambda: checks.append(1) or usable())
    monkeypatch.setattr(db, "health_check_enabled", True)  # as CONN_HEALTH_CHECKS sets it in production

    def count(**kwargs):
        signals.append(kwargs)

    request_started.connect(count)
    request_finished.connect(count)
    try:
        with CaptureQueriesContext(connection) as captured:
            for _ in range(3):
                assert call(lean, environ(env, **HTTPS))[0] == "200 OK"
    finally:
        request_started.disconnect(count)
        request_finished.disconnect(count)
    assert len(captured.captured_queries) == 3
    assert all("layers_servicepoint" in q["sql"] for q in captured.captured_queries)
    assert signals == [] and checks == []


def test_what_the_lean_path_leaves_out_is_in_the_settings(settings):
    """A name in NOT_ON_LEAN_PATH that the settings no longer hold would hide a rename."""
    assert set(NOT_ON_LEAN_PATH) <= set(settings.MIDDLEWARE)


@override_settings(**BEHIND_TLS_PROXY, PUBLIC_LOOKUP_RATE="3/min")
def test_with_redis_the_count_runs_beside_the_read_and_refuses_alike(wsgi, private_redis, settings, monkeypatch):
    """With the production cache (Redis) the lean path sends the count before
    the database read and reads it after (maps.nearest_apis.plain_answer):
    the same 200s and 429s, the count kept in Redis, every reply read and its
    connection back in the pool, also when the read fails."""
    import redis

    import maps.nearest_apis
    from gisportal.settings import env

    settings.CACHES = {"default": env.cache(private_redis.url(1))}
    query = {"lon": "106.07", "lat": "21.18"}
    lean, behind, _ = wsgi()
    statuses = [call(lean, environ(query, **HTTPS))[0][:3] for _ in range(5)]
    assert statuses == ["200"] * 3 + ["429"] * 2
    assert behind.calls == 0
    server = redis.Redis.from_url(private_redis.url(1))
    key = cache.make_key("window:public_lookup:198.51.100.20")
    assert int(server.get(key)) == 5  # a refusal is counted once, though the view answers it
    pool = cache._cache.get_client(write=True).connection_pool
    assert not pool._in_use_connections

    def failing(**kwargs):
        raise RuntimeError("the read failed")

    monkeypatch.setattr(maps.nearest_apis, "nearest_plain", failing)
    other = {"HTTP_X_FORWARDED_FOR": "198.51.100.30"}
    assert call(lean, environ(query, **HTTPS, **other))[0][:3] == "500"
    assert not pool._in_use_connections
    assert int(server.get(cache.make_key("window:public_lookup:198.51.100.30"))) == 1
    monkeypatch.undo()
    assert call(lean, environ(query, **HTTPS, **other))[0][:3] == "200"
    assert int(server.get(cache.make_key("window:public_lookup:198.51.100.30"))) == 2
