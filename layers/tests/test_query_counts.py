"""List and map endpoints cost a fixed number of queries, whatever the page size."""

import pytest
from django.core.cache import cache


@pytest.mark.parametrize(
    ("url", "params", "queries"),
    [
        ("/api/v1/service-points/", {"limit": 10000}, 1),
        ("/api/v1/service-points/", {"kind": "post_office", "bbox": "105.9,20.9,106.9,21.7"}, 1),
        # The units' version, then the page (then kept under that version).
        ("/api/v1/admin-units/", {"level": "commune", "limit": 200, "geometry": "simplified"}, 2),
        ("/api/v1/admin-units/", {"on": "2020-01-01", "contains": "106.07,21.18"}, 2),
        ("/api/v1/service-points/nearest/", {"lon": 106.07, "lat": 21.18, "limit": 50}, 1),
    ],
)
def test_query_count_is_pinned(api, django_assert_num_queries, url, params, queries):
    cache.clear()
    with django_assert_num_queries(queries):
        response = api.get(url, params)
    assert response.status_code == 200
    assert response.json()["features"]


def test_a_kept_units_page_costs_one_query(api, django_assert_num_queries):
    cache.clear()
    params = {"level": "commune", "era": "2025", "geometry": "simplified"}
    first = api.get("/api/v1/admin-units/", params)
    with django_assert_num_queries(1):  # the version only
        again = api.get("/api/v1/admin-units/", params)
    assert again.content == first.content
