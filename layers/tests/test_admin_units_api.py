"""Containment in both eras, checked with shapely on the source files."""

import json
import random
from pathlib import Path

import pytest
from django.conf import settings
from shapely.geometry import Point, shape

DATA = Path(settings.BASE_DIR) / "data" / "bacninh"


def _source(name: str, code_key: str) -> dict[str, object]:
    features = json.loads((DATA / name).read_text(encoding="utf-8"))["features"]
    return {f["properties"][code_key]: shape(f["geometry"]) for f in features}


def _points_well_inside(polygons: dict[str, object], *, per_unit: int, margin_deg: float, seed: int):
    """Random points at least `margin_deg` inside each unit (the pre-2025
    outlines are coarse, so border points are not a fair test)."""
    rng = random.Random(seed)
    for code, polygon in sorted(polygons.items()):
        core = polygon.buffer(-margin_deg)
        if core.is_empty:
            continue
        min_x, min_y, max_x, max_y = core.bounds
        found = 0
        for _ in range(200):
            p = Point(rng.uniform(min_x, max_x), rng.uniform(min_y, max_y))
            if core.contains(p):
                yield code, p
                found += 1
                if found == per_unit:
                    break


@pytest.mark.parametrize(
    ("era_day", "source", "code_key"),
    [
        ("2020-06-01", "bacninh_pre2025_communes_censusVN2009.geojson", "gso_commune_code"),
        ("2025-07-01", "bacninh_post2025_wards.geojson", "code"),
    ],
)
def test_points_inside_communes_return_that_commune(api, era_day, source, code_key):
    polygons = _source(source, code_key)
    checked = 0
    for code, point in _points_well_inside(polygons, per_unit=2, margin_deg=0.002, seed=7):
        response = api.get(
            "/api/v1/admin-units/", {"level": "commune", "on": era_day, "contains": f"{point.x},{point.y}"}
        )
        assert response.status_code == 200
        features = response.json()["features"]
        assert [f["properties"]["code"] for f in features] == [code], (code, point.wkt)
        checked += 1
    assert checked > len(polygons)  # most units had a core to sample


def test_contains_without_level_returns_each_level_in_force(api):
    # Centre of old Bắc Ninh city (ward Ninh Xá, 09184), checked with shapely.
    polygons = _source("bacninh_pre2025_communes_censusVN2009.geojson", "gso_commune_code")
    point = polygons["09184"].representative_point()
    response = api.get("/api/v1/admin-units/", {"on": "2024-01-01", "contains": f"{point.x},{point.y}"})
    levels = {f["properties"]["level"]: f["properties"] for f in response.json()["features"]}
    assert set(levels) == {"province", "district", "commune"}
    assert levels["commune"]["code"] == "09184"
    assert levels["commune"]["parent_code"] == "256"
    assert levels["district"]["parent_code"] == "27"
    assert levels["commune"]["valid_to"] == "2025-06-30"

    after = api.get("/api/v1/admin-units/", {"on": "2025-07-01", "contains": f"{point.x},{point.y}"}).json()
    assert {f["properties"]["level"] for f in after["features"]} == {"province", "commune"}
    province = next(f["properties"] for f in after["features"] if f["properties"]["level"] == "province")
    assert province["code"] == "24" and province["valid_from"] == "2025-07-01" and province["valid_to"] is None


def test_unit_properties_and_population(api):
    features = api.get("/api/v1/admin-units/", {"level": "commune", "on": "2020-01-01", "limit": 200}).json()[
        "features"
    ]
    assert len(features) == 126
    assert sum(f["properties"]["population"] for f in features) == 916_123
    for key in ("code", "name", "level", "parent_code", "valid_from", "valid_to", "population"):
        assert key in features[0]["properties"]
    new = api.get("/api/v1/admin-units/", {"level": "commune", "limit": 200}).json()["features"]
    assert len(new) == 99
    # Communes that took in old Bắc Giang communes have no known population.
    assert any(f["properties"]["population"] is None for f in new)


def test_list_is_paged_with_next_link(api):
    first = api.get("/api/v1/admin-units/", {"level": "commune", "on": "2020-01-01", "limit": 50}).json()
    assert first["numberReturned"] == 50 and first["next"]
    second = api.get(first["next"]).json()
    third = api.get(second["next"]).json()
    assert third["numberReturned"] == 26 and third["next"] is None
    codes = [f["properties"]["code"] for page in (first, second, third) for f in page["features"]]
    assert len(set(codes)) == 126


def test_detail_links_old_and_new_units(api):
    mapping = {}
    import csv

    with (DATA / "bacninh_merger_mapping_2025.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["old_province_code"] == "27":
                mapping.setdefault(row["new_commune_code"], set()).add(row["old_commune_code"])
    new_code, old_codes = sorted(mapping.items())[0]
    detail = api.get(f"/api/v1/admin-units/{new_code}/").json()
    assert detail["properties"]["era"] == "2025"
    assert old_codes <= {p["code"] for p in detail["properties"]["predecessors"]}
    old_code = sorted(old_codes)[0]
    old = api.get(f"/api/v1/admin-units/{old_code}/", {"era": "2019"}).json()
    assert [s["code"] for s in old["properties"]["successors"]] == [new_code]


def test_communes_missing_from_the_mapping_get_a_spatial_successor(api):
    # 09175 merged on 1 Mar 2025 and is absent from the 2025 mapping file.
    polygons_old = _source("bacninh_pre2025_communes_censusVN2009.geojson", "gso_commune_code")
    polygons_new = _source("bacninh_post2025_wards.geojson", "code")
    rep = polygons_old["09175"].representative_point()
    expected = [code for code, poly in polygons_new.items() if poly.contains(rep)]
    old = api.get("/api/v1/admin-units/09175/", {"era": "2019"}).json()
    assert [s["code"] for s in old["properties"]["successors"]] == expected


def test_unknown_unit_is_404(api):
    assert api.get("/api/v1/admin-units/99999/").status_code == 404
