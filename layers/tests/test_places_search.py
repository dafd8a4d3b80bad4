"""GET /api/v1/places/search/?q=: communes and wards of the current map and
service points by name, typed with or without diacritics; bad input a 400
naming `q`; rate-limited like the other public look-ups."""

import pytest
from django.core.cache import cache
from django.test import override_settings
from shapely import wkb
from shapely.geometry import Point as ShapelyPoint

from layers.models import AdministrativeUnit, ServicePoint

pytestmark = pytest.mark.django_db

SEARCH = "/api/v1/places/search/"


def _ward(code: str) -> AdministrativeUnit:
    return AdministrativeUnit.objects.get(era="2025", level="commune", code=code)


@pytest.mark.parametrize("q", ["Kinh Bắc", "kinh bac", "KINH BAC", "phuong kinh bac", "Phường Kinh Bắc", "kinh b"])
def test_a_ward_is_found_with_or_without_diacritics(api, q):
    response = api.get(SEARCH, {"q": q})
    assert response.status_code == 200
    first = response.json()["results"][0]
    assert (first["type"], first["code"], first["detail"]) == ("commune", "09187", "Phường Kinh Bắc")
    # Its point lies inside the ward and its box holds the ward (shapely on the stored polygon).
    ward = wkb.loads(bytes(_ward("09187").geom.wkb))
    assert ward.contains(ShapelyPoint(first["point"]["coordinates"]))
    west, south, east, north = first["bbox"]
    assert (west, south, east, north) == pytest.approx(ward.bounds, abs=1e-9)


def test_only_communes_of_the_current_map(api):
    # Tiền Ninh Vệ ward was merged into Kinh Bắc on 1 July 2025: no unit of that name today.
    results = api.get(SEARCH, {"q": "tien ninh ve"}).json()["results"]
    assert all(
        r["type"] != "commune"
        or r["code"] in set(AdministrativeUnit.objects.filter(era="2025").values_list("code", flat=True))
        for r in results
    )
    assert "Tiền Ninh Vệ" not in [r["name"] for r in results if r["type"] == "commune"]


def test_service_points_by_name_and_address(api):
    desk = ServicePoint.objects.get(code="DESK-09169")
    # By its name as written, its name without diacritics, and its address.
    for q in (desk.name, "trung tam phuc vu hanh chinh cong phuong vu ninh", "tru so ubnd phuong vu ninh"):
        results = api.get(SEARCH, {"q": q, "limit": 20}).json()["results"]
        found = [r for r in results if r["type"] == "service_point" and r["code"] == desk.code]
        assert found, (q, [r["name"] for r in results])
        assert found[0]["point"]["coordinates"] == [pytest.approx(desk.geom.x), pytest.approx(desk.geom.y)]
        assert found[0]["commune_code"] == "09169" and found[0]["bbox"] is None


def test_diacritics_as_typed_rank_first(api):
    # Same letters without marks: both wards match, the one typed exactly comes first.
    with_marks = api.get(SEARCH, {"q": "Vũ Ninh"}).json()["results"]
    assert with_marks[0]["code"] == "09169"


@pytest.mark.parametrize(
    "params",
    [{}, {"q": ""}, {"q": "   "}, {"q": "x" * 101}, {"q": "kinh bac", "limit": 0}, {"q": "kinh bac", "limit": "a"}],
)
def test_bad_input_is_a_400_naming_the_field(api, params):
    response = api.get(SEARCH, params)
    assert response.status_code == 400
    body = response.json()
    field = "limit" if "limit" in params else "q"
    assert list(body) == [field] and " / " in body[field][0]


def test_punctuation_alone_finds_nothing(api):
    assert api.get(SEARCH, {"q": "!!!"}).json()["results"] == []


@override_settings(PUBLIC_LOOKUP_RATE="3/min")
def test_search_beyond_the_rate_is_429(api):
    cache.clear()
    assert [api.get(SEARCH, {"q": "kinh bac"}).status_code for _ in range(3)] == [200, 200, 200]
    refused = api.get(SEARCH, {"q": "kinh bac"})
    assert refused.status_code == 429 and "Too many requests" in refused.json()["detail"]
    cache.clear()
