"""Nearest service points against a brute-force geodesic ranking (pyproj)."""

import random

import pytest
from django.db import connection
from pyproj import Geod

from layers.models import ServicePoint, ServicePointKind

GEOD = Geod(ellps="WGS84")
KINDS = [*ServicePointKind.values, "any"]


def _brute_force(lon: float, lat: float, kind: str) -> list[tuple[float, str]]:
    points = ServicePoint.objects.filter(is_active=True)
    if kind != "any":
        points = points.filter(kind=kind)
    ranked = []
    for code, geom in points.values_list("code", "geom"):
        _, _, metres = GEOD.inv(lon, lat, geom.x, geom.y)
        ranked.append((metres, code))
    return sorted(ranked)


def _assert_matches_brute_force(features: list[dict], truth: list[tuple[float, str]], limit: int) -> None:
    assert len(features) == min(limit, len(truth))
    truth_by_code = {code: metres for metres, code in truth}
    distances = [f["properties"]["distance_m"] for f in features]
    assert distances == sorted(distances)
    for feature, (expected_m, _) in zip(features, truth[:limit], strict=False):
        code = feature["properties"]["code"]
        reported = feature["properties"]["distance_m"]
        # The reported distance is this point's true geodesic distance...
        assert reported == pytest.approx(truth_by_code[code], rel=0.005, abs=1.0)
        # ...and the k-th answer is as near as the true k-th nearest (ties allowed).
        assert reported == pytest.approx(expected_m, rel=0.005, abs=1.0)
    assert len({f["properties"]["code"] for f in features}) == len(features)


@pytest.mark.parametrize("kind", KINDS)
def test_nearest_matches_geodesic_brute_force(api, kind):
    rng = random.Random(hash(kind) % 1000)
    for _ in range(60):
        # Inside and well around the province, so edges and empty areas count too.
        lon, lat = rng.uniform(105.7, 107.1), rng.uniform(20.8, 21.8)
        limit = rng.choice([1, 5, 13, 50])
        response = api.get("/api/v1/service-points/nearest/", {"lon": lon, "lat": lat, "kind": kind, "limit": limit})
        assert response.status_code == 200, response.content
        _assert_matches_brute_force(response.json()["features"], _brute_force(lon, lat, kind), limit)


def test_planar_knn_alone_would_rank_wrongly_somewhere(api):
    """Guard for the test above: degree ranking and metre ranking do differ
    on this data, so agreeing with the geodesic truth is not automatic."""
    rng = random.Random(11)
    disagreements = 0
    for _ in range(300):
        lon, lat = rng.uniform(105.9, 106.9), rng.uniform(20.95, 21.65)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT code FROM layers_servicepoint ORDER BY geom <-> ST_SetSRID(ST_MakePoint(%s, %s), 4326) LIMIT 5",
                [lon, lat],
            )
            planar = [row[0] for row in cursor.fetchall()]
        if planar != [code for _, code in _brute_force(lon, lat, "any")[:5]]:
            disagreements += 1
    assert disagreements > 0


def test_ties_are_all_returned_in_order(api):
    # Two points at exactly the same place: both come back, with equal distances.
    a = ServicePoint.objects.get(code="POST-07210")
    ServicePoint.objects.create(code="TWIN", kind=a.kind, name="Twin", geom=a.geom, admin_unit=a.admin_unit, counters=1)
    response = api.get(
        "/api/v1/service-points/nearest/", {"lon": a.geom.x + 0.0001, "lat": a.geom.y, "kind": a.kind, "limit": 2}
    )
    features = response.json()["features"]
    assert {f["properties"]["code"] for f in features} == {"POST-07210", "TWIN"}
    assert features[0]["properties"]["distance_m"] == features[1]["properties"]["distance_m"]


def test_nearest_fields(api):
    response = api.get("/api/v1/service-points/nearest/", {"lon": 106.07, "lat": 21.18})
    features = response.json()["features"]
    assert len(features) == 5  # default limit
    props = features[0]["properties"]
    for key in ("distance_m", "kind", "name", "address", "admin_unit_code", "opening_hours", "phone", "is_demo"):
        assert key in props
    assert features[0]["geometry"]["type"] == "Point"


@pytest.mark.parametrize("kind", ["post_office", "provincial_centre"])
def test_nearest_uses_the_spatial_index(db, kind):
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE layers_servicepoint")
        cursor.execute("SET LOCAL enable_seqscan = off")  # the table is small; ask whether an index *can* serve it
        cursor.execute(
            "EXPLAIN SELECT id FROM layers_servicepoint WHERE is_active AND kind = %s "
            "ORDER BY geom <-> ST_SetSRID(ST_MakePoint(106.07, 21.18), 4326) LIMIT 15",
            [kind],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Seq Scan" not in plan and "servicepoint_" in plan, plan
    if kind == "post_office":  # a common kind: walked in distance order by the KNN index
        assert "Order By: (geom <->" in plan and "Sort" not in plan, plan


def _unit_code_answered(api, point: ServicePoint) -> str | None:
    response = api.get(
        "/api/v1/service-points/nearest/", {"lon": point.geom.x, "lat": point.geom.y, "kind": point.kind, "limit": 1}
    )
    assert response.status_code == 200, response.content
    (feature,) = response.json()["features"]
    assert feature["properties"]["code"] == point.code
    return feature["properties"]["admin_unit_code"]


def test_unit_code_is_the_units_whatever_writes_them(api):
    """The unit's code is kept on the point by the database (migration 0009);
    checked here against the units table through the ORM, after each way a
    point or a unit changes."""
    points = list(ServicePoint.objects.filter(is_active=True, admin_unit__isnull=False).select_related("admin_unit"))
    assert len(points) >= 5
    for point in points[:5]:
        assert _unit_code_answered(api, point) == point.admin_unit.code

    point, other = points[0], next(p for p in points if p.admin_unit_id != points[0].admin_unit_id)
    unit = point.admin_unit
    unit.code = "99999"  # a unit's code changes: its points answer the new one
    unit.save()
    assert _unit_code_answered(api, point) == "99999"

    point.admin_unit = other.admin_unit  # the point moves to another unit (an ORM save)
    point.save()
    assert _unit_code_answered(api, point) == other.admin_unit.code

    with connection.cursor() as cursor:  # raw SQL: a new point, and a write of the column itself
        cursor.execute(
            "INSERT INTO layers_servicepoint (code, kind, name, address, geom, opening_hours, counters, phone,"
            " receiving_unit_identifier, admin_unit_id, is_demo, is_active, updated_at)"
            " VALUES ('RAW-1', 'post_office', 'Raw', '', ST_SetSRID(ST_MakePoint(106.5, 21.5), 4326), '', 1, '',"
            " '', %s, false, true, now())",
            [unit.pk],
        )
        cursor.execute("UPDATE layers_servicepoint SET admin_unit_code = 'bogus' WHERE code = %s", [other.code])
    assert _unit_code_answered(api, ServicePoint.objects.get(code="RAW-1")) == "99999"
    assert _unit_code_answered(api, other) == other.admin_unit.code

    other.admin_unit.delete()  # SET_NULL: no unit, no code
    assert _unit_code_answered(api, other) is None
