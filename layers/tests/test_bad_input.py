"""Every bad parameter gets a 400 whose JSON names it; never a 500."""

import pytest

from layers.models import ServicePoint

NEAREST = "/api/v1/service-points/nearest/"
POINTS = "/api/v1/service-points/"
UNITS = "/api/v1/admin-units/"


@pytest.mark.parametrize(
    ("url", "params", "bad"),
    [
        (NEAREST, {"lat": "21.1"}, {"lon"}),
        (NEAREST, {"lon": "106"}, {"lat"}),
        (NEAREST, {}, {"lon", "lat"}),
        (NEAREST, {"lon": "abc", "lat": "21"}, {"lon"}),
        (NEAREST, {"lon": "106", "lat": "north"}, {"lat"}),
        (NEAREST, {"lon": "106", "lat": "90.5"}, {"lat"}),
        (NEAREST, {"lon": "106", "lat": "-91"}, {"lat"}),
        (NEAREST, {"lon": "180.01", "lat": "21"}, {"lon"}),
        (NEAREST, {"lon": "-181", "lat": "21"}, {"lon"}),
        (NEAREST, {"lon": "nan", "lat": "inf"}, {"lon", "lat"}),
        (NEAREST, {"lon": "106", "lat": "21", "kind": "bank"}, {"kind"}),
        (NEAREST, {"lon": "106", "lat": "21", "limit": "0"}, {"limit"}),
        (NEAREST, {"lon": "106", "lat": "21", "limit": "51"}, {"limit"}),
        (NEAREST, {"lon": "106", "lat": "21", "limit": "five"}, {"limit"}),
        (NEAREST, {"lon": "x", "lat": "y", "kind": "z", "limit": "-1"}, {"lon", "lat", "kind", "limit"}),
        (POINTS, {"bbox": "1,2,3"}, {"bbox"}),
        (POINTS, {"bbox": "a,b,c,d"}, {"bbox"}),
        (POINTS, {"bbox": "106.5,21,106,21.5"}, {"bbox"}),
        (POINTS, {"bbox": "106,21,106.5,95"}, {"bbox"}),
        (POINTS, {"kind": "school"}, {"kind"}),
        (POINTS, {"limit": "10001"}, {"limit"}),
        (POINTS, {"limit": "0"}, {"limit"}),
        (POINTS, {"offset": "-1"}, {"offset"}),
        (UNITS, {"level": "hamlet"}, {"level"}),
        (UNITS, {"on": "2025-13-01"}, {"on"}),
        (UNITS, {"on": "yesterday"}, {"on"}),
        (UNITS, {"contains": "106"}, {"contains"}),
        (UNITS, {"contains": "106,100"}, {"contains"}),
        (UNITS, {"era": "1990"}, {"era"}),
        (UNITS, {"limit": "100000"}, {"limit"}),
        (f"{UNITS}24/", {"on": "31/12/2025"}, {"on"}),
    ],
)
def test_bad_parameter_is_a_400_naming_it(api, url, params, bad):
    before = ServicePoint.objects.count()
    response = api.get(url, params)
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == bad
    for messages in body.values():
        assert messages and all(" / " in m for m in messages)  # Vietnamese / English
    assert ServicePoint.objects.count() == before


def test_service_points_bbox_and_paging(api):
    everything = api.get(POINTS, {"limit": 10000}).json()
    assert everything["numberReturned"] == ServicePoint.objects.count() and everything["next"] is None
    first = api.get(POINTS, {"kind": "post_office", "limit": 40}).json()
    assert first["numberReturned"] == 40 and first["next"]
    rest = api.get(first["next"]).json()
    rest2 = api.get(rest["next"]).json()
    assert rest2["next"] is None
    codes = [f["properties"]["code"] for page in (first, rest, rest2) for f in page["features"]]
    assert len(codes) == len(set(codes)) == ServicePoint.objects.filter(kind="post_office").count()

    bbox = (106.0, 21.1, 106.2, 21.25)
    inside = api.get(POINTS, {"bbox": ",".join(map(str, bbox)), "limit": 10000}).json()["features"]
    expected = {
        p.code for p in ServicePoint.objects.all() if bbox[0] <= p.geom.x <= bbox[2] and bbox[1] <= p.geom.y <= bbox[3]
    }
    assert {f["properties"]["code"] for f in inside} == expected and expected
