"""The lean path (gisportal/fastpath.py) answers exactly what Django answers:
for each request below, the WSGI application the server runs (`LeanPath`)
and Django's own WSGI handler give the same status, headers and body;
plain look-ups are answered in front of Django, everything else is handed
to it. (Django's answer is checked against pyproj in
maps/tests/test_nearest_plain_path.py.)"""

import gzip
import json
import math
import re

import pytest
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import connection, connections
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from gisportal.fastpath import NOT_ON_LEAN_PATH
from layers.models import Feature, Layer, ServicePoint
from layers.registries.tiles import recent_tiles
from tests.lean import (
    BEHIND_TLS_PROXY,
    HTTPS,
    PATH,
    VARIANTS,
    assert_same,
    call,
    environ,
    lean_and_django,
    refused_alike,
)

PLAIN = [
    {"lon": "106.07", "lat": "21.18"},
    {"lon": "106.0763", "lat": "21.1861", "kind": "commune_desk", "limit": "13"},
    {"lon": " 105.95 ", "lat": "21.05", "kind": "post_office", "limit": "1"},
    {"lon": "106.5", "lat": "21.4", "kind": "provincial_centre", "limit": "50"},
    {"lon": "106.1", "lat": "21.1", "kind": "any", "limit": "7", "procedure": ""},  # empty: not sent
    {"lon": "-179.5", "lat": "-89.9", "limit": "2"},  # far from everything
    {"lon": "106.07", "lat": "21.18", "lang": "en", "other": "ignored"},
]


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
    ({"address": "Kinh Bắc"}, "GET", "/api/v1/admin-units/match/"),
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


# --- the administrative units list ---------------------------------------------------

UNITS = "/api/v1/admin-units/"
UNIT_QUERIES = [
    {"level": "commune", "era": "2025", "geometry": "simplified"},  # the map's communes, 282 KB
    {"level": "province"},
    {"limit": "3", "offset": "2", "lang": "en"},  # next and previous links
    {"contains": "106.07,21.18", "geometry": "simplified"},
    {"era": "2019", "on": "2020-01-01", "level": "district"},
]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("query", UNIT_QUERIES)
def test_a_units_list_is_answered_in_front_of_django_with_django_s_answer(wsgi, query, variant):
    with override_settings(**BEHIND_TLS_PROXY):
        env = environ(query, path=UNITS, **VARIANTS[variant])
        lean_answer, django_answer, behind = lean_and_django(wsgi, env)
    assert_same(lean_answer, django_answer)
    assert behind.calls == 0
    if variant == "plain http":
        assert lean_answer[0].startswith("301")
        return
    assert lean_answer[0] == "200 OK"
    compressed = lean_answer[1].get("Content-Encoding") == "gzip"
    assert compressed == ("gzip" in VARIANTS[variant].get("HTTP_ACCEPT_ENCODING", "") and "token" not in variant)
    document = json.loads(gzip.decompress(lean_answer[2]) if compressed else lean_answer[2])
    assert document["type"] == "FeatureCollection" and document["features"]
    assert document["numberReturned"] == len(document["features"])


@pytest.mark.parametrize(
    "query", [{"level": "hamlet"}, {"limit": "0"}, {"contains": "106.07"}, {"on": "yesterday"}, {"era": "1990"}]
)
def test_a_units_list_with_a_bad_parameter_is_django_s_400_naming_it(wsgi, query):
    with override_settings(**BEHIND_TLS_PROXY):
        lean_answer, django_answer, behind = lean_and_django(wsgi, environ(query, path=UNITS, **HTTPS))
    assert_same(lean_answer, django_answer)
    assert lean_answer[0].startswith("400") and set(json.loads(lean_answer[2])) == set(query)
    assert behind.calls == 1


@override_settings(**BEHIND_TLS_PROXY, PUBLIC_LOOKUP_RATE="3/min")
def test_the_units_list_rate_limit_counts_and_refuses_alike(wsgi):
    lean, behind, django = wsgi()
    lean_answers, _ = refused_alike(lean, django, environ({"level": "province"}, path=UNITS, **HTTPS))
    for refusal in lean_answers[3:]:
        assert "Quá nhiều" in json.loads(refusal[2])["detail"]
    # The nearest look-up shares the public limit, on either path.
    assert call(lean, environ({"lon": "106.07", "lat": "21.18"}, **HTTPS))[0][:3] == "429"
    assert behind.calls == 0


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
    lean_answers, django_answers = refused_alike(lean, django, environ(query, **HTTPS))
    for lean_answer, django_answer in zip(lean_answers[3:], django_answers[3:], strict=True):
        # The message says the seconds left, which may differ by one between the two runs.
        lean_detail, django_detail = (json.loads(a[2])["detail"] for a in (lean_answer, django_answer))
        assert "Too many requests" in lean_detail and "Quá nhiều" in lean_detail
        assert lean_detail.split(" ")[0] == django_detail.split(" ")[0]
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


# --- registry tiles and OGC items: anonymous callers on the lean path ------------------

PUBLIC_LAYER, INTERNAL_LAYER, DEPARTMENT_LAYER = "hospitals", "land-parcels", "construction-permits"
# Anonymous variants answered on the lean path, and those left to Django (a session or a token).
ANONYMOUS = {
    "plain http": {},
    "https behind the proxy": HTTPS,
    "gzip": {**HTTPS, "HTTP_ACCEPT_ENCODING": "gzip, deflate"},
    "english cookie, csrf cookie": {**HTTPS, "HTTP_COOKIE": f"django_language=en; csrftoken={'c' * 32}"},
    "malformed csrf cookie": {**HTTPS, "HTTP_COOKIE": "csrftoken=abc", "HTTP_ACCEPT_ENCODING": "gzip"},
}
SIGNED_IN = {
    "bad session": {**HTTPS, "HTTP_COOKIE": "sessionid=abc", "HTTP_ACCEPT_ENCODING": "gzip"},
    "good-looking session": {**HTTPS, "HTTP_COOKIE": f"sessionid={'s' * 32}"},
    "empty session cookie": {**HTTPS, "HTTP_COOKIE": "sessionid="},
    "token": {**HTTPS, "HTTP_AUTHORIZATION": "Token nothing", "HTTP_ACCEPT_ENCODING": "gzip"},
}


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def _tile_path(slug: str, z: int, x: int, y: int) -> str:
    return f"/tiles/{slug}/{z}/{x}/{y}.pbf"


def _full_tile(slug: str = PUBLIC_LAYER, z: int = 14) -> str:
    """A tile holding a feature of the layer."""
    feature = Feature.objects.filter(layer__slug=slug).order_by("id").first()
    point = feature.geom.point_on_surface
    return _tile_path(slug, z, *_tile_of(point.x, point.y, z))


def _tokens_masked(answer: tuple[str, dict, bytes]) -> tuple[str, dict, bytes]:
    """The answer with its random CSRF tokens (a new cookie for a malformed
    one, the forms of an HTML page) replaced by a mark: they differ between
    any two answers of Django's own."""
    status, headers, body = answer
    # (and the new cookie's expiry, which may fall in the next second)
    headers = {k: re.sub(r"(csrftoken|expires)=[^;]+", r"\1=*", v) for k, v in headers.items()}
    if headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
        del headers["Content-Encoding"], headers["Content-Length"]
    if headers.get("Content-Type", "").startswith("text/html"):
        body = re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"csrf", body)
        headers.pop("Content-Length", None)
    return status, headers, body


def assert_same_but_tokens(lean: tuple[str, dict, bytes], django: tuple[str, dict, bytes]) -> None:
    if lean[1].get("Content-Encoding") == "gzip":
        assert django[1].get("Content-Encoding") == "gzip"
    assert_same(_tokens_masked(lean), _tokens_masked(django))


@pytest.mark.parametrize("variant", ANONYMOUS)
@pytest.mark.parametrize("z", [14, 10, 0])
def test_an_anonymous_tile_is_answered_in_front_of_django_with_django_s_answer(wsgi, variant, z):
    with override_settings(**BEHIND_TLS_PROXY):
        lean_answer, django_answer, behind = lean_and_django(
            wsgi, environ("", path=_full_tile(z=z), **ANONYMOUS[variant])
        )
    assert_same_but_tokens(lean_answer, django_answer)
    if variant == "plain http":
        assert lean_answer[0].startswith("301")
    else:
        assert lean_answer[0] == "200 OK"
        assert lean_answer[1]["Content-Type"] == "application/vnd.mapbox-vector-tile"
        assert lean_answer[1]["Cache-Control"] == "public, max-age=60"
        assert "Cookie" in lean_answer[1]["Vary"]  # the session was read (who is asking), as Django reads it
    assert behind.calls == 0


@pytest.mark.parametrize("variant", SIGNED_IN)
def test_a_tile_for_a_session_or_a_token_is_handed_to_django(wsgi, variant):
    with override_settings(**BEHIND_TLS_PROXY):
        lean_answer, django_answer, behind = lean_and_django(wsgi, environ("", path=_full_tile(), **SIGNED_IN[variant]))
    assert_same(lean_answer, django_answer)
    assert behind.calls == 1


TILE_CASES = {
    "empty tile: 204": lambda: _tile_path(PUBLIC_LAYER, 14, 0, 0),
    "query ignored": lambda: _full_tile() + "?v=3",
    "zoom out of range": lambda: _tile_path(PUBLIC_LAYER, 23, 0, 0),
    "x out of range": lambda: _tile_path(PUBLIC_LAYER, 3, 8, 0),
    "y out of range": lambda: _tile_path(PUBLIC_LAYER, 0, 0, 1),
    "missing layer": lambda: _tile_path("no-such-layer", 14, 0, 0),
    "officials' layer": lambda: _full_tile(INTERNAL_LAYER),
    "department's layer": lambda: _full_tile(DEPARTMENT_LAYER),
}


@pytest.mark.parametrize("case", TILE_CASES)
def test_empty_tiles_and_refusals_are_django_s(wsgi, case):
    path, _, query = TILE_CASES[case]().partition("?")
    with override_settings(**BEHIND_TLS_PROXY):
        lean_answer, django_answer, behind = lean_and_django(wsgi, environ(query, path=path, **HTTPS))
    assert_same(lean_answer, django_answer)
    status = lean_answer[0][:3]
    expected = {"empty tile: 204": "204", "query ignored": "200", "missing layer": "404"}
    assert status == expected.get(case, "400" if "range" in case else "404")
    if status in {"400", "404"}:
        body = json.loads(lean_answer[2])
        assert body  # the view's JSON, in both languages
    assert behind.calls == 0


def test_a_private_layer_s_tile_is_refused_on_the_lean_path_and_shown_to_its_officials(wsgi, make_user, client):
    path = _full_tile(INTERNAL_LAYER)
    with override_settings(**BEHIND_TLS_PROXY):
        lean, _, _ = wsgi()
        assert call(lean, environ("", path=path, **HTTPS))[0].startswith("404")
    client.force_login(make_user("fastpath-official", role="processing_officer", agency="so-y-te"))
    assert client.get(path, HTTP_X_FORWARDED_PROTO="https").status_code == 200


def test_a_tile_the_client_holds_is_a_304_and_other_methods_go_to_django(wsgi):
    path = _full_tile()
    with override_settings(**BEHIND_TLS_PROXY):
        lean, behind, django = wsgi()
        etag = call(lean, environ("", path=path, **HTTPS))[1]["ETag"]
        for headers in ({"HTTP_IF_NONE_MATCH": etag}, {"HTTP_IF_NONE_MATCH": f'"x", W/{etag}'}):
            answer = call(lean, environ("", path=path, **HTTPS, **headers))
            assert answer[0].startswith("304")
            assert_same(answer, call(django, environ("", path=path, **HTTPS, **headers)))
        assert behind.calls == 0
        for method in ("HEAD", "POST"):
            assert_same(
                call(lean, environ("", method=method, path=path, **HTTPS)),
                call(django, environ("", method=method, path=path, **HTTPS)),
            )
        assert behind.calls == 2
        density = "/tiles/analytics/density/14/13000/7000.pbf"  # under /tiles/, not a registry tile
        assert_same(call(lean, environ("", path=density, **HTTPS)), call(django, environ("", path=density, **HTTPS)))
        assert behind.calls == 3


@override_settings(**BEHIND_TLS_PROXY)
def test_a_lean_tile_is_kept_in_the_caches_once_sent_and_made_with_the_layer_s_read(wsgi, monkeypatch):
    """A tile is stored once its bytes are sent. A process that has not read
    the layer yet reads it, then makes the tile: two statements. Once it has,
    a tile missing from the caches is drawn by the statement that reads the
    layer (tiles.tile_source_read_drawing): one."""
    from layers.registries import tiles
    from layers.registries.tiles import TileAddress, tile_build, tile_cache_key, tile_source_read

    monkeypatch.setattr(tiles, "_last_read", {})
    path = _full_tile()
    lean, _, _ = wsgi()
    recent_tiles.clear()
    z, x, y = (int(part) for part in path.removesuffix(".pbf").split("/")[-3:])
    layer = tile_source_read(PUBLIC_LAYER)
    key = tile_cache_key(layer=layer, tile=TileAddress(z, x, y))
    server = GranianProtocol(lean)
    with CaptureQueriesContext(connection) as captured:
        assert server.serve(environ("", path=path, **HTTPS)) == 200
    assert len(captured.captured_queries) == 2  # the layer, the tile
    assert cache.get(key) is None  # not before the bytes are sent
    server.finish()  # the server, once they are
    assert server.body and cache.get(key) == server.body
    with CaptureQueriesContext(connection) as captured:
        assert call(lean, environ("", path=path, **HTTPS))[2] == server.body
    assert len(captured.captured_queries) == 1  # the layer (its version names the cached tile)

    neighbour = TileAddress(z, x + 1, y)
    with CaptureQueriesContext(connection) as captured:
        answer = call(lean, environ("", path=_tile_path(PUBLIC_LAYER, z, x + 1, y), **HTTPS))
    assert len(captured.captured_queries) == 1  # the layer and the tile, drawn together
    assert "drawn" in captured.captured_queries[0]["sql"]
    assert answer[2] == tile_build(layer=layer, tile=neighbour)
    assert cache.get(tile_cache_key(layer=layer, tile=neighbour)) == answer[2]


@override_settings(**BEHIND_TLS_PROXY)
def test_a_tile_drawn_with_the_layer_s_read_is_served_only_if_drawn_as_that_layer(wsgi, monkeypatch):
    """The statement that reads the layer draws the tile with the layer as
    this process last read it. When the layer read is another (its slug now
    names a new layer) or draws differently (its kind of geometry changed),
    that tile is thrown away and made again; a layer last read as hidden is
    not drawn for a caller who may not see it; and a layer made internal
    since is a 404 although its tile was drawn. The answers are Django's."""
    from dataclasses import replace

    from layers.registries import tiles
    from layers.registries.tiles import tile_source_read

    recent_tiles.clear()
    lean, behind, django = wsgi()
    path = _full_tile()
    public, other = tile_source_read(PUBLIC_LAYER), tile_source_read(INTERNAL_LAYER)
    assert public.geometry_type == "Point" and other.pk != public.pk

    def served(guess):
        monkeypatch.setattr(tiles, "_last_read", {PUBLIC_LAYER: guess})
        cache.clear()
        recent_tiles.clear()
        with CaptureQueriesContext(connection) as captured:
            answer = call(lean, environ("", path=path, **HTTPS))
        statements = [query["sql"] for query in captured.captured_queries]  # before Django's request resets them
        assert_same(answer, call(django, environ("", path=path, **HTTPS)))
        return answer, statements

    answer, statements = served(replace(public, pk=other.pk, version=public.version + 7))  # another layer's draw
    assert answer[0] == "200 OK" and len(statements) == 2 and "drawn" in statements[0]
    answer, statements = served(replace(public, geometry_type="Polygon"))  # drawn simplified
    assert answer[0] == "200 OK" and len(statements) == 2 and "drawn" in statements[0]
    answer, statements = served(replace(public, visibility="internal"))  # not drawn for this caller
    assert answer[0] == "200 OK" and len(statements) == 2 and "drawn" not in statements[0]
    answer, statements = served(public)
    assert answer[0] == "200 OK" and len(statements) == 1 and "drawn" in statements[0]

    Layer.objects.filter(slug=PUBLIC_LAYER).update(visibility="internal")
    answer, statements = served(public)
    assert answer[0].startswith("404") and "drawn" in statements[0]  # then the view's own read, its 404
    assert behind.calls == 0


class GranianProtocol:
    """The production server's (Granian's) own WSGI dispatch
    (`granian.wsgi._callback_wrapper`), with this object in the place of its
    Rust connection: a list answer is sent in one write and never closed; any
    other iterable is sent and then closed (`finish`)."""

    def __init__(self, application):
        from granian.wsgi import _callback_wrapper

        self.runner = _callback_wrapper(application, {})
        self.body, self.iterable = None, None

    def serve(self, env: dict) -> int:
        return self.runner(self, env)

    def response_bytes(self, status, headers, body):
        self.body = body

    def response_iter(self, status, headers, iterable):
        self.iterable, chunks = iterable, []
        while True:  # as Granian's Rust side reads it: __next__ until StopIteration
            try:
                chunks.append(iterable.__next__())
            except StopIteration:
                break
        self.body = b"".join(chunks)

    def finish(self):
        if self.iterable is not None:
            self.iterable.close()


def _items_path(slug: str = PUBLIC_LAYER, slash: str = "") -> str:
    return f"/ogc/collections/{slug}/items{slash}"


ITEMS_QUERIES = [
    {"limit": "5"},
    {"limit": "5", "offset": "3", "f": "json"},
    {"bbox": "105.9,20.9,106.3,21.4", "limit": "1000"},  # filtered: exact numberMatched, no next link
    {"bbox": "105.0,20.0,107.5,22.5", "limit": "3", "offset": "6"},  # filtered, next and prev links
    {"limit": "20000"},  # capped, not refused
    {"bbox": "0,0,1,1"},  # nothing
    {"datetime": "2020-01-01/..", "limit": "2"},
]


@pytest.fixture
def fixed_timestamp(monkeypatch):
    from layers.registries import ogc

    monkeypatch.setattr(ogc, "_timestamp", lambda: "2026-12-06T03:00:00Z")


@pytest.mark.parametrize("variant", ANONYMOUS)
@pytest.mark.parametrize("query", ITEMS_QUERIES)
def test_anonymous_items_are_answered_in_front_of_django_with_django_s_answer(wsgi, fixed_timestamp, query, variant):
    with override_settings(**BEHIND_TLS_PROXY):
        lean_answer, django_answer, behind = lean_and_django(
            wsgi, environ(query, path=_items_path(), **ANONYMOUS[variant])
        )
    assert_same_but_tokens(lean_answer, django_answer)
    assert behind.calls == 0
    if variant == "plain http":
        assert lean_answer[0].startswith("301")
        return
    assert lean_answer[0] == "200 OK" and lean_answer[1]["Content-Type"] == "application/geo+json"
    if "gzip" in variant:  # no secret in it: compressed, as Django compresses it
        assert lean_answer[1]["Content-Encoding"] == "gzip"
    body = lean_answer[2]
    document = json.loads(gzip.decompress(body) if lean_answer[1].get("Content-Encoding") == "gzip" else body)
    assert document["numberReturned"] == len(document["features"])
    assert {link["rel"] for link in document["links"]} >= {"self", "alternate", "collection"}


@pytest.mark.parametrize("variant", SIGNED_IN)
def test_items_for_a_session_or_a_token_are_handed_to_django(wsgi, fixed_timestamp, variant):
    with override_settings(**BEHIND_TLS_PROXY):
        env = environ({"limit": "3"}, path=_items_path(), **SIGNED_IN[variant])
        lean_answer, django_answer, behind = lean_and_django(wsgi, env)
    assert_same(lean_answer, django_answer)
    assert behind.calls == 1


ITEMS_ELSEWHERE = {
    "trailing slash": ({"limit": "2"}, _items_path(slash="/"), {}, "200"),
    "html by f": ({"f": "html", "limit": "2"}, _items_path(), {}, "200"),
    "html by Accept": ({"limit": "2"}, _items_path(), {"HTTP_ACCEPT": "text/html,application/xhtml+xml"}, "200"),
    "bad limit": ({"limit": "0"}, _items_path(), {}, "400"),
    "unknown parameter": ({"bedz": "3"}, _items_path(), {}, "400"),
    "bad bbox": ({"bbox": "1,2,3"}, _items_path(), {}, "400"),
    "NUL": ({"limit": "2\x00"}, _items_path(), {}, "400"),
    "missing layer": ({}, _items_path("no-such-layer"), {}, "404"),
    "officials' layer": ({"limit": "2"}, _items_path(INTERNAL_LAYER), {}, "404"),
    "department's layer": ({"limit": "2"}, _items_path(DEPARTMENT_LAYER), {}, "404"),
}


@pytest.mark.parametrize("case", ITEMS_ELSEWHERE)
def test_items_html_errors_and_hidden_layers_are_django_s(wsgi, fixed_timestamp, case):
    query, path, headers, status = ITEMS_ELSEWHERE[case]
    with override_settings(**BEHIND_TLS_PROXY):
        lean_answer, django_answer, behind = lean_and_django(wsgi, environ(query, path=path, **HTTPS, **headers))
    assert_same_but_tokens(lean_answer, django_answer)
    assert lean_answer[0][:3] == status
    if status != "200" and case != "NUL":
        assert json.loads(lean_answer[2])
    # The view answers on the lean path (the NUL: the middleware's 400 before it).
    assert behind.calls == 0


@override_settings(**BEHIND_TLS_PROXY, OGC_API_RATE="3/min")
def test_the_items_rate_limit_counts_and_refuses_alike(wsgi, fixed_timestamp):
    lean, behind, django = wsgi()
    path = _items_path()
    lean_answers = [call(lean, environ({"limit": "2"}, path=path, **HTTPS)) for _ in range(5)]
    cache.clear()
    django_answers = [call(django, environ({"limit": "2"}, path=path, **HTTPS)) for _ in range(5)]
    assert [a[0][:3] for a in lean_answers] == [a[0][:3] for a in django_answers] == ["200"] * 3 + ["429"] * 2
    for lean_answer, django_answer in zip(lean_answers, django_answers, strict=True):
        for headers in (lean_answer[1], django_answer[1]):
            headers.pop("Retry-After", None)
        if lean_answer[0].startswith("200"):
            assert_same(lean_answer, django_answer)
        else:
            lean_detail, django_detail = (json.loads(a[2])["detail"] for a in (lean_answer, django_answer))
            assert "Quá nhiều" in lean_detail and lean_detail.split(" ")[0] == django_detail.split(" ")[0]
            assert lean_answer[1] == django_answer[1]
    # A bad parameter and a missing layer count as on Django's path: the view's 429 now.
    assert call(lean, environ({"limit": "0"}, path=path, **HTTPS))[0][:3] == "429"
    assert call(lean, environ({}, path=_items_path("no-such-layer"), **HTTPS))[0][:3] == "429"
    # Another client has its own count; a tile is not rate-limited.
    assert call(lean, environ({"limit": "2"}, path=path, **HTTPS, HTTP_X_FORWARDED_FOR="198.51.100.21"))[0] == "200 OK"
    assert call(lean, environ("", path=_full_tile(), **HTTPS))[0] == "200 OK"
    assert behind.calls == 0


@override_settings(**BEHIND_TLS_PROXY)
def test_an_items_page_is_two_statements_and_one_rate_count(wsgi, fixed_timestamp):
    lean, _, _ = wsgi()
    env = {"bbox": "105.0,20.0,107.5,22.5", "limit": "10"}
    call(lean, environ(env, path=_items_path(), **HTTPS))
    with CaptureQueriesContext(connection) as captured:
        assert call(lean, environ(env, path=_items_path(), **HTTPS))[0] == "200 OK"
    assert len(captured.captured_queries) == 2  # the layer, the page with its count


def test_with_redis_the_count_runs_beside_the_read_and_refuses_alike(wsgi, private_redis, settings, monkeypatch):
    """With the production cache (Redis) the lean path sends the count before
    the database read and reads it after (maps.nearest_apis.plain_answer):
    the same 200s and 429s, the count kept in Redis, every reply read and its
    connection back in the pool, also when the read fails."""
    import redis

    import maps.nearest_apis
    from gisportal.settings import env

    # All through pytest-django's `settings`: mixed with an @override_settings decorator, its
    # teardown restored the decorator's settings after the decorator had, and the HTTPS redirect
    # leaked into every later test of the process.
    for name, value in {**BEHIND_TLS_PROXY, "PUBLIC_LOOKUP_RATE": "3/min"}.items():
        setattr(settings, name, value)
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


def test_with_redis_a_tile_asked_for_before_the_layer_is_read_serves_only_that_version(wsgi, private_redis, settings):
    """The lean tile sends its GET to Redis under the layer's version this
    process read last, before it reads the layer again
    (layers.registries.tiles.tile_prefetch). That answer is used only when the
    layer just read has that version and the caller may see it: after an edit
    written in plain SQL the new tile is served, a layer made internal is a
    404 although its tile is in Redis, and every Redis connection is back in
    its pool, also after a request that the middleware answers itself (the
    GET is sent before the middleware runs)."""
    import mapbox_vector_tile
    import redis

    from gisportal.settings import env

    for name, value in BEHIND_TLS_PROXY.items():
        setattr(settings, name, value)
    settings.CACHES = {"default": env.cache(private_redis.url(1))}
    settings.TILE_MEMORY_CACHE_BYTES = 0  # every tile from Redis or made
    server = redis.Redis.from_url(private_redis.url(1))
    pool = cache._cache.get_client(write=True).connection_pool
    lean, behind, django = wsgi()
    path = _full_tile()
    first = call(lean, environ("", path=path, **HTTPS))
    assert first[0] == "200 OK"

    def gets() -> int:
        return server.info("commandstats").get("cmdstat_get", {}).get("calls", 0)

    before = gets()
    with CaptureQueriesContext(connection) as captured:
        again = call(lean, environ("", path=path, **HTTPS))
    assert again[2] == first[2]
    assert len(captured.captured_queries) == 1  # the layer; the tile came from Redis
    assert gets() - before == 1  # asked for once, before the layer was read
    before = gets()
    assert call(lean, environ("", path=path))[0].startswith("301")  # plain HTTP: the middleware redirects
    assert gets() - before == 1 and not pool._in_use_connections  # asked for before it; the reply read all the same

    feature = Feature.objects.filter(layer__slug=PUBLIC_LAYER).order_by("id").first()
    with connection.cursor() as cursor:  # as a script or the benches write: no service, no signal
        cursor.execute(
            'UPDATE layers_feature SET properties = properties || \'{"name": "Đã sửa"}\' WHERE id = %s',
            [feature.pk],
        )
        cursor.execute("UPDATE layers_layer SET version = version + 1 WHERE slug = %s", [PUBLIC_LAYER])
    edited = call(lean, environ("", path=path, **HTTPS))
    assert edited[0] == "200 OK" and edited[2] != first[2]
    decoded = mapbox_vector_tile.decode(edited[2])[PUBLIC_LAYER]["features"]
    assert any(f["properties"].get("name") == "Đã sửa" for f in decoded)
    assert_same(edited, call(django, environ("", path=path, **HTTPS)))

    with connection.cursor() as cursor:  # hidden, its version unchanged: its tile still in Redis
        cursor.execute("UPDATE layers_layer SET visibility = 'internal' WHERE slug = %s", [PUBLIC_LAYER])
    hidden = call(lean, environ("", path=path, **HTTPS))
    assert hidden[0].startswith("404")
    assert edited[2] not in hidden[2]
    assert behind.calls == 0
    assert not pool._in_use_connections


# As a WSGI server gives PATH_INFO: the request's bytes, each as one character (PEP 3333).
NON_ASCII_PATHS = [
    "/tiles/trường-học/14/13040/7196.pbf".encode().decode("latin-1"),
    "/tiles/\x1f\xc2\x8b\xf1\x9b\x8f\xaf/80923/657/2023.pbf",  # found by schemathesis: was a 500
    "/tiles/\xe4\xa1\xb8?\xf2\xbb\xac\xb5.json",
    "/ogc/collections/trường-học/items".encode().decode("latin-1"),
]


@pytest.mark.parametrize("path", NON_ASCII_PATHS)
def test_a_path_of_any_bytes_under_a_lean_prefix_gets_django_s_answer(wsgi, path):
    """A request under /tiles/ or /ogc/collections/ that the lean path
    declines reaches Django with the path as the server gave it (WSGIRequest
    writes the decoded path into the environ it reads)."""
    lean, _, django = wsgi()
    env = environ("", path=path)
    lean_answer = call(lean, dict(env))
    assert lean_answer[0][:3] == "404"
    assert_same_but_tokens(lean_answer, call(django, dict(env)))


class _Connection:
    """A database connection as `reconnecting` sees it: open (kept from an
    earlier request) or not yet opened."""

    def __init__(self, opened: bool):
        self.connection = object() if opened else None
        self.in_atomic_block = False
        self.closed = 0

    def close(self):
        self.closed += 1
        self.connection = None


@pytest.mark.parametrize("kept", [True, False])
def test_a_read_is_tried_again_only_on_a_kept_connection_that_died(monkeypatch, kept):
    """A kept connection cut by a restart: one more try on a new one. A
    connection that could not be opened (a database that does not answer):
    no second try, which would cost the connect timeout twice."""
    from django.db import InterfaceError

    from gisportal import fastpath

    connection = _Connection(opened=kept)
    monkeypatch.setattr(fastpath.connections, "all", lambda initialized_only=False: [connection])
    calls = []

    def read():
        calls.append(1)
        if len(calls) == 1:
            raise InterfaceError("connection already closed")
        return "rows"

    if kept:
        assert fastpath.reconnecting(read) == "rows"
        assert len(calls) == 2 and connection.closed == 1
    else:
        with pytest.raises(InterfaceError):
            fastpath.reconnecting(read)
        assert len(calls) == 1 and connection.closed == 0


UNDER_LEAN_PREFIXES = [
    "/tiles/clinics/14/13040/7196.pbf",
    "/tiles/clinics/99/1/2.pbf",
    "/tiles/clinics.json",
    "/tiles/analytics/density/12/3258/1798.pbf",
    "/tiles/analytics/density/x/1/2.pbf",
    "/tiles/clinics/14/13040/7196.mvt",
    "/tiles/",
    "/tiles/a/b/c/d/e.pbf",
    "/tiles/trường-học/14/1/2.pbf",
    "/ogc/collections/",
    "/ogc/collections/clinics",
    "/ogc/collections/clinics/",
    "/ogc/collections/clinics/items",
    "/ogc/collections/clinics/items/",
    "/ogc/collections/clinics/items/42",
    "/ogc/collections/clinics/schema",
    "/ogc/collections/clinics/queryables",
    "/ogc/collections/clinics/items/42/extra",
    "/ogc/collections/trường-học/items",
]


@pytest.mark.parametrize("path", UNDER_LEAN_PREFIXES)
def test_a_path_under_a_lean_prefix_resolves_as_django_resolves_it(path):
    """The lean path resolves a path under its prefixes with only the URL
    patterns that may match there (`resolver_under`): the same view, name,
    route and arguments as the project's whole resolver, or no match alike."""
    from django.urls import get_resolver
    from django.urls.exceptions import Resolver404

    from gisportal.fastpath import resolver_under

    prefix = next(prefix for prefix in ("/tiles/", "/ogc/collections/") if path.startswith(prefix))
    pruned = resolver_under(prefix)
    assert len(pruned.url_patterns) < len(get_resolver().url_patterns)

    def resolved(resolver):
        try:
            match = resolver.resolve(path)
        except Resolver404:
            return None
        return match.func, match.args, match.kwargs, match.url_name, match.route, match.namespaces, match.app_names

    assert resolved(pruned) == resolved(get_resolver())


def test_an_include_deeper_than_the_prefix_is_kept_whole():
    """An include whose plain route goes past the prefix ("tiles/extra/"
    under "tiles/") is not pruned by the prefix: what is under it is
    relative to its own route."""
    from django.http import HttpResponse
    from django.urls import URLResolver, include, path
    from django.urls.resolvers import RegexPattern

    from gisportal.fastpath import _patterns_under

    def view(request):
        return HttpResponse()

    patterns = [
        path("tiles/extra/", include([path("a.pbf", view, name="deeper")])),
        path("tiles/", include([path("extra/a.pbf", view, name="shallower")])),
        path("other/", include([path("a.pbf", view, name="elsewhere")])),
    ]
    whole = URLResolver(RegexPattern(r"^/"), patterns)
    pruned = URLResolver(RegexPattern(r"^/"), _patterns_under(patterns, "tiles/"))
    assert len(pruned.url_patterns) == 2
    for path_info in ("/tiles/extra/a.pbf", "/tiles/extra/b.pbf"):
        try:
            expected = whole.resolve(path_info).url_name
        except Exception as error:  # Resolver404 alike
            expected = type(error)
        try:
            got = pruned.resolve(path_info).url_name
        except Exception as error:
            got = type(error)
        assert got == expected
    assert pruned.resolve("/tiles/extra/a.pbf").url_name == "deeper"
