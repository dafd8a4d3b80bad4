"""Spatial questions about registry layers, checked against independent
computations: pyproj geodesic distances (brute force over every feature),
shapely containment in the source GeoJSON outlines of data/bacninh/, shapely
intersection and shapely counts per commune."""

import json
import random
import re

import numpy as np
import pytest
import shapely
import shapely.ops
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pyproj import Geod, Transformer

from layers.models import Layer
from layers.registries.partitions import partition_name
from layers.services import DATA_DIR

GEOD = Geod(ellps="WGS84")
UTM48N = Transformer.from_crs("EPSG:4326", "EPSG:32648", always_xy=True)


@pytest.fixture(autouse=True)
def _demo(db) -> None:
    """Every test here reads the demo registries that load_demo put in the
    session database (conftest.py)."""
    return None


@pytest.fixture
def official(make_user, client_as):
    """Sees internal layers (the parcels) but owns none of the demo ones."""
    return client_as(make_user("query-official", role="processing_officer", agency="so-tp"))


def layer_geometries(slug: str) -> tuple[np.ndarray, np.ndarray]:
    """(ids, shapely geometries) of every feature, from the stored WKB."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT f.id, ST_AsBinary(f.geom) FROM layers_feature f JOIN layers_layer l ON l.id = f.layer_id "
            "WHERE l.slug = %s ORDER BY f.id",
            [slug],
        )
        rows = cursor.fetchall()
    return np.array([pk for pk, _ in rows], dtype=np.int64), shapely.from_wkb([bytes(wkb) for _, wkb in rows])


def source_outlines(era: str) -> dict[str, shapely.Geometry]:
    """Commune outlines as published in data/bacninh/, by unit code."""
    if era == "2025":
        name, key = "bacninh_post2025_wards.geojson", "code"
    else:
        name, key = "bacninh_pre2025_communes_censusVN2009.geojson", "gso_commune_code"
    features = json.loads((DATA_DIR / name).read_text(encoding="utf-8"))["features"]
    return {f["properties"][key]: shapely.geometry.shape(f["geometry"]) for f in features}


def all_pages(client, url: str, params: dict) -> list[dict]:
    features = []
    response = client.get(url, params)
    while True:
        assert response.status_code == 200, response.content
        body = response.json()
        features += body["features"]
        if not body["next"]:
            return features
        response = client.get(body["next"])


# --- the layer list ---------------------------------------------------------------


def test_layer_list_shows_schema_counts_and_links(api):
    response = api.get("/api/v1/layers/")
    assert response.status_code == 200
    layers = {entry["slug"]: entry for entry in response.json()["layers"]}
    assert {"hospitals", "schools"} <= set(layers)
    assert "land-parcels" not in layers and "construction-permits" not in layers
    schools = layers["schools"]
    ids, _ = layer_geometries("schools")
    assert schools["feature_count"] == len(ids)
    assert {f["name"] for f in schools["schema"]} >= {"name", "level", "pupils", "opened_on"}
    assert schools["time_field"] == "opened_on" and schools["can_edit"] is False
    assert schools["links"]["ogc_items"].endswith("/ogc/collections/schools/items")
    assert api.get(schools["links"]["features"]).status_code == 200
    assert layers["hospitals"]["license"] == "ODbL-1.0"


def test_layer_list_tells_an_owner_what_they_may_edit(make_user, client_as):
    teacher = client_as(make_user("list-gddt", role="processing_officer", agency="so-gddt"))
    layers = {entry["slug"]: entry for entry in teacher.get("/api/v1/layers/").json()["layers"]}
    assert layers["schools"]["can_edit"] is True
    assert layers["hospitals"]["can_edit"] is False
    assert layers["land-parcels"]["can_edit"] is False  # internal: seen, not edited


# --- within a distance --------------------------------------------------------------


@pytest.mark.parametrize("slug", ["schools", "hospitals"])
def test_within_metres_matches_geodesic_brute_force(api, slug):
    ids, geoms = layer_geometries(slug)
    lons, lats = shapely.get_x(geoms), shapely.get_y(geoms)
    rng = random.Random(7)
    checked = 0
    for _ in range(25):
        # Around the layer's own features, so that most questions find some.
        lon, lat = rng.uniform(lons.min(), lons.max()), rng.uniform(lats.min(), lats.max())
        radius = rng.choice([500, 2000, 5000, 12000])
        _, _, metres = GEOD.inv(np.full(len(ids), lon), np.full(len(ids), lat), lons, lats)
        truth = {int(pk): d for pk, d in zip(ids, metres, strict=True) if d <= radius}
        near_edge = {int(pk) for pk, d in zip(ids, metres, strict=True) if abs(d - radius) < 0.5}
        features = all_pages(
            api, f"/api/v1/layers/{slug}/features/", {"lon": lon, "lat": lat, "within_m": radius, "limit": 50}
        )
        got = {f["id"]: f["properties"]["distance_m"] for f in features}
        assert set(got) - near_edge == set(truth) - near_edge
        true_metres = dict(zip(ids.tolist(), metres.tolist(), strict=True))
        for pk, reported in got.items():
            assert reported == pytest.approx(true_metres[pk], abs=0.06), pk
        distances = [f["properties"]["distance_m"] for f in features]
        assert distances == sorted(distances)
        checked += len(got)
    assert checked > 50, "the sample must find features"


def test_within_metres_of_polygons_matches_projected_distances(official):
    """Parcels: distance to the nearest edge, checked in UTM 48N (scale error
    under 0.1 % here, so answers within that band of the radius are skipped)."""
    ids, geoms = layer_geometries("land-parcels")
    rng = random.Random(3)
    for _ in range(6):
        lon, lat = rng.uniform(106.0, 106.6), rng.uniform(21.05, 21.45)
        radius = rng.choice([300, 1500, 3000])
        window = shapely.box(lon - 0.05, lat - 0.05, lon + 0.05, lat + 0.05)
        candidates = shapely.intersects(geoms, window)
        projected = shapely.transform(geoms[candidates], lambda xy: np.column_stack(UTM48N.transform(*xy.T)))
        centre = shapely.Point(*UTM48N.transform(lon, lat))
        metres = shapely.distance(projected, centre)
        band = 0.001 * radius + 1.0
        sure = {int(pk) for pk, d in zip(ids[candidates], metres, strict=True) if d < radius - band}
        maybe = {int(pk) for pk, d in zip(ids[candidates], metres, strict=True) if abs(d - radius) <= band}
        features = all_pages(
            official,
            "/api/v1/layers/land-parcels/features/",
            {"lon": lon, "lat": lat, "within_m": radius, "limit": 500},
        )
        got = {f["id"] for f in features}
        assert sure <= got and got <= sure | maybe


def test_within_query_walks_the_spatial_index(official):
    with CaptureQueriesContext(connection) as queries:
        response = official.get("/api/v1/layers/land-parcels/features/", {"lon": 106.07, "lat": 21.18, "within_m": 800})
    assert response.status_code == 200
    sql = next(q["sql"] for q in queries.captured_queries if "ST_DWithin" in q["sql"])
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    layer_id = Layer.objects.get(slug="land-parcels").pk
    # The layer's partition alone, through its GiST index on geom.
    assert f" on {partition_name(layer_id)} " in plan, plan
    assert re.search(r"Index Scan (?:using|on) \S+_geom_idx", plan), plan
    assert "Seq Scan" not in plan and "layers_feature_default" not in plan, plan


@pytest.mark.parametrize(
    "params,bad",
    [
        ({"lon": 106, "lat": 21}, {"within_m"}),
        ({"within_m": 100}, {"lon", "lat"}),
        ({"lon": 200, "lat": 21, "within_m": 100}, {"lon"}),
        ({"lon": 106, "lat": 21, "within_m": -1}, {"within_m"}),
        ({"lon": 106, "lat": 21, "within_m": 10**7}, {"within_m"}),
        ({"lon": "x", "lat": 21, "within_m": 5}, {"lon"}),
        ({"admin_unit": "07210", "era": "2030"}, {"era"}),
        ({"admin_unit": "'; drop"}, {"admin_unit"}),
        ({"admin_unit": "99999"}, {"admin_unit"}),
        ({"admin_unit": "07210", "era": "2019"}, {"admin_unit"}),  # a 2025 code, not a 2019 one
        ({"limit": 0}, {"limit"}),
        ({"bbox": "1,2"}, {"bbox"}),
    ],
)
def test_bad_question_is_a_400_naming_the_parameter(api, params, bad):
    response = api.get("/api/v1/layers/schools/features/", params)
    assert response.status_code == 400
    assert set(response.json()) == bad


# --- inside an administrative unit ------------------------------------------------------


@pytest.mark.parametrize("era", ["2025", "2019"])
def test_inside_unit_matches_shapely_on_the_source_outlines(api, era):
    outlines = source_outlines(era)
    ids, geoms = layer_geometries("schools")
    codes = sorted(outlines)
    for code in random.Random(era).sample(codes, 8):
        outline = outlines[code]
        inside = shapely.intersects(geoms, outline)
        # Points within a few centimetres of the border are not a fair test.
        near = shapely.dwithin(geoms, outline.boundary, 1e-6)
        truth = set(ids[inside & ~near].tolist())
        features = all_pages(api, "/api/v1/layers/schools/features/", {"admin_unit": code, "era": era, "limit": 100})
        got = {f["id"] for f in features} - set(ids[near].tolist())
        assert got == truth, code


def test_inside_a_2019_district_is_the_union_of_its_communes(api):
    features = json.loads((DATA_DIR / "bacninh_pre2025_communes_censusVN2009.geojson").read_text(encoding="utf-8"))
    district = shapely.union_all(
        [
            shapely.geometry.shape(f["geometry"])
            for f in features["features"]
            if f["properties"]["gso_district_code"] == "256"
        ]
    )
    ids, geoms = layer_geometries("hospitals")
    truth = set(ids[shapely.intersects(geoms, district)].tolist())
    body = api.get("/api/v1/layers/hospitals/features/", {"admin_unit": "256", "era": "2019"}).json()
    assert {f["id"] for f in body["features"]} == truth and truth
    assert body["admin_unit"]["code"] == "256"


def test_inside_a_unit_and_within_a_distance_combine(api):
    ids, geoms = layer_geometries("schools")
    outline = source_outlines("2025")["07210"]
    centre = (106.2, 21.28)
    _, _, metres = GEOD.inv(
        np.full(len(ids), centre[0]), np.full(len(ids), centre[1]), *shapely.get_coordinates(geoms).T
    )
    truth = set(ids[shapely.intersects(geoms, outline) & (metres <= 4000)].tolist())
    body = api.get(
        "/api/v1/layers/schools/features/",
        {"admin_unit": "07210", "lon": centre[0], "lat": centre[1], "within_m": 4000},
    ).json()
    assert {f["id"] for f in body["features"]} == truth


# --- intersecting a drawn polygon ---------------------------------------------------------


def province() -> shapely.Geometry:
    geojson = json.loads((DATA_DIR / "bacninh_post2025_province.geojson").read_text(encoding="utf-8"))
    return shapely.geometry.shape(geojson["features"][0]["geometry"])


def random_polygon(rng: random.Random, size: float) -> shapely.Polygon:
    """A convex polygon well inside the province (the API refuses the rest)."""
    inner = province().buffer(-0.01)
    while True:
        centre = (rng.uniform(105.9, 107.0), rng.uniform(21.0, 21.6))
        points = [(centre[0] + rng.uniform(-size, size), centre[1] + rng.uniform(-size, size)) for _ in range(9)]
        polygon = shapely.MultiPoint(points).convex_hull
        if inner.contains(polygon):
            return polygon


@pytest.mark.parametrize("slug,size", [("schools", 0.15), ("land-parcels", 0.02), ("hospitals", 0.2)])
def test_intersecting_polygon_matches_shapely(official, slug, size):
    ids, geoms = layer_geometries(slug)
    rng = random.Random(slug)
    for _ in range(4):
        polygon = random_polygon(rng, size)
        truth = set(ids[shapely.intersects(geoms, polygon)].tolist())
        body = {"type": "Feature", "geometry": shapely.geometry.mapping(polygon), "properties": {}}
        got, offset = [], 0
        while True:
            response = official.post(
                f"/api/v1/layers/{slug}/features/intersecting/?limit=1000&offset={offset}", body, format="json"
            )
            assert response.status_code == 200, response.content
            page = response.json()
            got += [f["id"] for f in page["features"]]
            if not page["next"]:
                break
            offset += 1000
        assert len(got) == len(set(got))
        assert set(got) == truth


def _circle(n: int) -> dict:
    return shapely.geometry.mapping(shapely.Point(106.1, 21.2).buffer(0.01, quad_segs=n // 4))


@pytest.mark.parametrize(
    "body",
    [
        {
            "type": "Polygon",
            "coordinates": [[[106.0, 21.0], [106.1, 21.1], [106.1, 21.0], [106.0, 21.1], [106.0, 21.0]]],
        },
        {"type": "Point", "coordinates": [106.1, 21.1]},
        {"type": "Polygon", "coordinates": [[[106.7, 10.7], [106.8, 10.7], [106.8, 10.8], [106.7, 10.7]]]},
        {"type": "Polygon", "coordinates": [[[106.0, 21.0], [106.1]]]},
        {"type": "Polygon", "coordinates": "not coordinates"},
        {"type": "Polygon"},
        {"geometry": None},
        ["not", "an", "object"],
        "just text",
        _circle(12_000),
    ],
)
def test_bad_polygon_is_a_400_naming_geometry(api, body):
    response = api.post("/api/v1/layers/schools/features/intersecting/", body, format="json")
    assert response.status_code == 400, response.content
    assert set(response.json()) == {"geometry"}


def test_polygon_just_over_the_border_is_accepted_far_outside_refused(api):
    outline = province()
    edge = shapely.ops.nearest_points(outline.boundary, shapely.Point(outline.bounds[0] - 1, 21.2))[0]
    # ~1 km across, straddling the border: inside the 5 km margin.
    straddling = shapely.box(edge.x - 0.005, edge.y - 0.005, edge.x + 0.005, edge.y + 0.005)
    response = api.post(
        "/api/v1/layers/schools/features/intersecting/", shapely.geometry.mapping(straddling), format="json"
    )
    assert response.status_code == 200, response.content
    # ~20 km west of the border: refused.
    far = shapely.box(edge.x - 0.21, edge.y - 0.005, edge.x - 0.2, edge.y + 0.005)
    response = api.post("/api/v1/layers/schools/features/intersecting/", shapely.geometry.mapping(far), format="json")
    assert response.status_code == 400 and set(response.json()) == {"geometry"}


# --- counts per commune ------------------------------------------------------------------


def counts_by_shapely(points: np.ndarray, outlines: dict[str, shapely.Geometry]) -> dict[str, int]:
    codes = list(outlines)
    tree = shapely.STRtree(list(outlines.values()))
    # intersects, as the API: a point on a shared border counts in both communes
    _, which = tree.query(points, predicate="intersects")
    counted = np.bincount(which, minlength=len(codes))
    return {code: int(n) for code, n in zip(codes, counted, strict=True)}


@pytest.mark.parametrize("era", ["2025", "2019"])
def test_counts_of_points_per_commune_match_shapely(api, era):
    ids, geoms = layer_geometries("schools")
    truth = counts_by_shapely(geoms, source_outlines(era))
    body = api.get("/api/v1/layers/schools/counts-by-commune/", {"era": era}).json()
    got = {row["code"]: row["count"] for row in body["communes"]}
    assert got == truth
    assert body["total"] == len(ids)
    assert body["outside"] == len(ids) - sum(truth.values())


def test_counts_of_parcels_go_by_a_point_on_their_surface(official):
    ids, geoms = layer_geometries("land-parcels")
    truth = counts_by_shapely(shapely.point_on_surface(geoms), source_outlines("2025"))
    body = official.get("/api/v1/layers/land-parcels/counts-by-commune/").json()
    assert body["era"] == "2025" and body["rule"].startswith("ST_PointOnSurface")
    assert {row["code"]: row["count"] for row in body["communes"]} == truth
    assert sum(truth.values()) == len(ids)  # every generated parcel lies in a commune


def test_counts_follow_edits(make_user, client_as):
    """Cached per layer version: an added school shows at once."""
    editor = client_as(make_user("count-gddt", role="processing_officer", agency="so-gddt"))
    before = {r["code"]: r["count"] for r in editor.get("/api/v1/layers/schools/counts-by-commune/").json()["communes"]}
    outline = source_outlines("2025")["07210"]
    spot = shapely.point_on_surface(outline)
    created = editor.post(
        "/api/v1/layers/schools/features/",
        {"type": "Feature", "geometry": shapely.geometry.mapping(spot), "properties": {"name": "Trường mới"}},
        format="json",
    )
    assert created.status_code == 201, created.content
    after = {r["code"]: r["count"] for r in editor.get("/api/v1/layers/schools/counts-by-commune/").json()["communes"]}
    assert after["07210"] == before["07210"] + 1


def test_counts_bad_era_is_a_400(api):
    response = api.get("/api/v1/layers/schools/counts-by-commune/", {"era": "1990"})
    assert response.status_code == 400 and set(response.json()) == {"era"}
