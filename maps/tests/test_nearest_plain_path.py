"""The plain nearest look-up: its statement is prepared and still logged with
its values, and its distances are geodesic (pyproj). Its lean path over HTTP
(gisportal/fastpath.py) is compared with this view in tests/test_fastpath.py."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pyproj import Geod

URL = "/api/v1/service-points/nearest/"
GEOD = Geod(ellps="WGS84")


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
