"""The plain nearest look-up's lean path (`ServicePointNearestApi.plain_answer`)
answers exactly what DRF's path answers, its statement is prepared and still
logged with its values, and its distances are geodesic (pyproj)."""

import json

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from pyproj import Geod
from rest_framework.views import APIView

from layers.models import ServicePoint
from maps.nearest_apis import ServicePointNearestApi

URL = "/api/v1/service-points/nearest/"
GEOD = Geod(ellps="WGS84")


class DrfOnlyNearestApi(ServicePointNearestApi):
    """The same view with DRF's dispatch alone, as it answered before the lean path."""

    def dispatch(self, request, *args, **kwargs):
        return APIView.dispatch(self, request, *args, **kwargs)


lean_view = ServicePointNearestApi.as_view()
drf_view = DrfOnlyNearestApi.as_view()

QUERIES = [
    {"lon": "106.07", "lat": "21.18"},
    {"lon": "106.0763", "lat": "21.1861", "kind": "commune_desk", "limit": "13"},
    {"lon": " 105.95 ", "lat": "21.05", "kind": "post_office", "limit": "1"},
    {"lon": "106.5", "lat": "21.4", "kind": "provincial_centre", "limit": "50"},
    {"lon": "106.1", "lat": "21.1", "kind": "any", "limit": "7", "procedure": ""},  # empty: not sent
    {"lon": "-179.5", "lat": "-89.9", "limit": "2"},  # far from everything
]


def _answer(view, params: dict, **extra):
    request = RequestFactory().get(URL, params, REMOTE_ADDR="198.51.100.20", **extra)
    response = view(request)
    if hasattr(response, "render"):
        response.render()
    return response


@pytest.mark.django_db
@pytest.mark.parametrize("params", QUERIES)
def test_the_lean_path_answers_the_same_bytes_and_headers_as_drf(params):
    # A name with a line separator (DRF's renderer escapes it) and Vietnamese letters.
    point = ServicePoint.objects.filter(is_active=True).order_by("id").first()
    ServicePoint.objects.filter(pk=point.pk).update(name="Bưu điện\u2028Kinh Bắc \u2029 “số 1”")

    lean = _answer(lean_view, params)
    drf = _answer(drf_view, params)

    assert lean.status_code == drf.status_code == 200
    assert type(lean).__name__ == "HttpResponse"  # it did take the lean path
    assert lean.content == drf.content
    assert dict(lean.items()) == dict(drf.items())
    assert lean["Content-Type"] == "application/json"


@pytest.mark.django_db
def test_the_lean_path_carries_the_escaped_separator_as_drf_does():
    point = ServicePoint.objects.filter(is_active=True, kind="post_office").order_by("id").first()
    ServicePoint.objects.filter(pk=point.pk).update(name="A\u2028B")
    answer = _answer(lean_view, {"lon": point.geom.x, "lat": point.geom.y, "kind": "post_office", "limit": 1})
    assert b"A\\u2028B" in answer.content
    assert answer.content.decode().count("\u2028") == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params",
    [
        {"lon": "106.07"},  # lat missing: DRF's 400 names it
        {"lon": "x", "lat": "21"},
        {"lon": "106.07", "lat": "21.18", "procedure": "   "},  # white space only
        {"lon": "106.07", "lat": "21.18", "open_at": "2026-03-11T10:00"},  # a "now" answer
    ],
)
def test_other_requests_still_go_through_drf_with_the_same_answer(params):
    lean = _answer(lean_view, params)
    drf = _answer(drf_view, params)
    assert type(lean).__name__ == "Response"
    assert lean.status_code == drf.status_code
    if lean.status_code == 400:
        assert lean.content == drf.content
        assert set(json.loads(lean.content)) <= {"lon", "lat", "procedure"}
    else:
        assert json.loads(lean.content)["features"] and json.loads(drf.content)["features"]


@pytest.mark.django_db
def test_the_statement_is_prepared_once_and_logged_with_its_values(api):
    params = {"lon": 106.0713, "lat": 21.1822, "kind": "commune_desk", "limit": 3}
    api.get(URL, params)
    with CaptureQueriesContext(connection) as captured:
        first = api.get(URL, params)
    assert first.status_code == 200
    assert len(captured.captured_queries) == 1
    logged = captured.captured_queries[0]["sql"]
    assert "106.0713" in logged and "21.1822" in logged and "'commune_desk'" in logged
    assert "%(" not in logged and "$1" not in logged
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", ["%layers_servicepoint%"])
        assert cursor.fetchone()[0] >= 1  # PostgreSQL holds it for this session


@pytest.mark.django_db
def test_distances_are_geodesic_metres_to_a_tenth(api):
    lon, lat = 106.0431, 21.1567
    features = api.get(URL, {"lon": lon, "lat": lat, "limit": 10}).json()["features"]
    assert len(features) == 10
    for feature in features:
        x, y = feature["geometry"]["coordinates"]
        _, _, metres = GEOD.inv(lon, lat, x, y)
        assert feature["properties"]["distance_m"] == pytest.approx(metres, abs=0.051)
