"""Vector tiles of registry layers, decoded (mapbox-vector-tile) and checked
against tile bounds computed here from the Web Mercator formulas and against
shapely, never against PostGIS: contents, ids and attributes, the 500 KB cap
at low zooms for 100,000 parcels and 200,000 points, cache invalidation,
visibility per role, bad coordinates and TileJSON."""

import json
import math
import random
import re

import mapbox_vector_tile
import pytest
from django.core.cache import cache
from django.db import connection
from django.test import override_settings
from pyproj import Transformer
from shapely.geometry import Point, box, shape

from gisportal.accounts.selectors import actor_for
from layers.models import Feature
from layers.registries import tiles
from layers.registries.partitions import partition_name
from layers.registries.selectors import layer_visible_to, layers_visible_to
from layers.registries.services import layer_create_or_update, layer_touch

EXTENT = 4096
BUFFER_UNITS = 64
MAX_TILE_BYTES = 500 * 1024
# Bắc Ninh city: tiles around it hold the generated features.
CENTRE = (106.07, 21.18)
SCHEMA = [
    {"name": "name", "type": "string"},
    {"name": "beds", "type": "integer", "filterable": True},
    {"name": "rating", "type": "number"},
    {"name": "public", "type": "boolean"},
    {"name": "opened", "type": "date"},
]


# --- Tile arithmetic of our own (the slippy-map formulas) -----------------------


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def lon_of(tile_x: float, z: int) -> float:
    return tile_x / 2**z * 360 - 180


def lat_of(tile_y: float, z: int) -> float:
    return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * tile_y / 2**z))))


def tile_box(z: int, x: int, y: int, *, buffer_units: float = 0):
    """The tile as a lon/lat rectangle, widened by `buffer_units` of 4096 each side."""
    b = buffer_units / EXTENT
    return box(lon_of(x - b, z), lat_of(y + 1 + b, z), lon_of(x + 1 + b, z), lat_of(y - b, z))


def to_lon_lat(z: int, x: int, y: int, u: float, v: float) -> tuple[float, float]:
    """Tile units (y down) back to lon/lat."""
    return lon_of(x + u / EXTENT, z), lat_of(y + v / EXTENT, z)


def tiles_covering(bounds: tuple[float, float, float, float], z: int) -> list[tuple[int, int]]:
    west, south, east, north = bounds
    x0, y0 = tile_of(west, north, z)
    x1, y1 = tile_of(east, south, z)
    return [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


# --- Helpers --------------------------------------------------------------------


def make_layer(slug: str, *, geometry_type: str = "Point", visibility: str = "public", owner: str = "so-y-te"):
    from gisportal.accounts.models import Agency

    return layer_create_or_update(
        slug=slug,
        title=f"Lớp thử {slug}",
        owner=Agency.objects.get(code=owner),
        geometry_type=geometry_type,
        schema=SCHEMA,
        visibility=visibility,
        attribution="© OpenStreetMap contributors (ODbL)",
    )


def fetch(client, layer_slug: str, z: int, x: int, y: int, **headers):
    return client.get(f"/tiles/{layer_slug}/{z}/{x}/{y}.pbf", **headers)


def decode(response, layer_slug: str) -> list[dict]:
    if response.status_code == 204:
        return []
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/vnd.mapbox-vector-tile"
    decoded = mapbox_vector_tile.decode(response.content, default_options={"y_coord_down": True})
    assert set(decoded) <= {layer_slug}
    return decoded.get(layer_slug, {}).get("features", [])


def random_properties(rng: random.Random, i: int) -> dict:
    return {
        "name": f"Trạm y tế số {i}",
        "beds": rng.randint(0, 500),
        "rating": round(rng.uniform(0, 5), 3),
        "public": rng.random() < 0.5,
        "opened": f"20{rng.randint(10, 24)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
    }


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def clinics(db):
    """300 points scattered over the 3x3 z14 tiles around the centre, plus
    a few far away."""
    layer = make_layer("test-tiles-clinics")
    rng = random.Random(14)
    z = 14
    cx, cy = tile_of(*CENTRE, z)
    west, east = lon_of(cx - 1, z), lon_of(cx + 2, z)
    north, south = lat_of(cy - 1, z), lat_of(cy + 2, z)
    features = [
        Feature(
            layer=layer,
            geom=f"SRID=4326;POINT({rng.uniform(west, east)} {rng.uniform(south, north)})",
            properties=random_properties(rng, i),
        )
        for i in range(300)
    ]
    features += [
        Feature(layer=layer, geom=f"SRID=4326;POINT({106.5 + i / 100} {21.5})", properties=random_properties(rng, i))
        for i in range(5)
    ]
    Feature.objects.bulk_create(features)
    layer_touch(layer)
    return layer


@pytest.fixture
def plots(db):
    """150 small rotated squares (20-120 m) around the centre, many across tile edges."""
    layer = make_layer("test-tiles-plots", geometry_type="Polygon", owner="so-nnmt")
    rng = random.Random(15)
    z = 15
    cx, cy = tile_of(*CENTRE, z)
    west, east = lon_of(cx - 1, z), lon_of(cx + 2, z)
    north, south = lat_of(cy - 1, z), lat_of(cy + 2, z)
    features = []
    for i in range(150):
        lon, lat = rng.uniform(west, east), rng.uniform(south, north)
        half = rng.uniform(0.0001, 0.0006)
        angle = rng.uniform(0, math.pi / 2)
        corners = [
            (lon + half * math.cos(angle + k * math.pi / 2), lat + half * math.sin(angle + k * math.pi / 2))
            for k in range(4)
        ]
        ring = ", ".join(f"{a} {b}" for a, b in [*corners, corners[0]])
        features.append(Feature(layer=layer, geom=f"SRID=4326;POLYGON(({ring}))", properties=random_properties(rng, i)))
    Feature.objects.bulk_create(features)
    layer_touch(layer)
    return layer


# --- Contents -------------------------------------------------------------------


@pytest.mark.parametrize("z", [13, 14, 15, 16])
def test_point_tile_holds_exactly_the_points_in_the_buffered_tile(api, clinics, z):
    x, y = tile_of(*CENTRE, z)
    features = decode(fetch(api, clinics.slug, z, x, y), clinics.slug)

    area = tile_box(z, x, y, buffer_units=BUFFER_UNITS)
    stored = {f.pk: f for f in Feature.objects.filter(layer=clinics)}
    expected = {pk for pk, f in stored.items() if area.contains(Point(f.geom.x, f.geom.y))}
    assert expected, "the test data must put points in this tile"
    assert len(expected) < len(stored), "and leave some out"
    assert {f["id"] for f in features} == expected

    unit_lon = (lon_of(x + 1, z) - lon_of(x, z)) / EXTENT
    unit_lat = (lat_of(y, z) - lat_of(y + 1, z)) / EXTENT
    for feature in features:
        original = stored[feature["id"]]
        # Every property comes through with its type (the date as text).
        assert feature["properties"] == original.properties
        assert feature["geometry"]["type"] == "Point"
        lon, lat = to_lon_lat(z, x, y, *feature["geometry"]["coordinates"])
        # Quantised to the 4096 grid: within one unit.
        assert abs(lon - original.geom.x) <= unit_lon
        assert abs(lat - original.geom.y) <= unit_lat


@pytest.mark.parametrize("z", [15, 16])
def test_polygon_tile_holds_the_polygons_touching_the_tile(api, plots, z):
    x, y = tile_of(*CENTRE, z)
    features = decode(fetch(api, plots.slug, z, x, y), plots.slug)
    ids = {f["id"] for f in features}

    stored = {f.pk: f for f in Feature.objects.filter(layer=plots)}
    shapes = {pk: shape(json.loads(f.geom.geojson)) for pk, f in stored.items()}
    core = tile_box(z, x, y)
    buffered = tile_box(z, x, y, buffer_units=BUFFER_UNITS)
    # Every polygon reaching into the tile is there; beyond it, only those
    # reaching into the buffer. (A sliver of the buffer narrower than a tile
    # unit may vanish when clipped and snapped, hence two bounds.)
    must = {pk for pk, s in shapes.items() if s.intersects(core)}
    may = {pk for pk, s in shapes.items() if s.intersects(buffered)}
    assert must and len(may) < len(stored)
    assert must <= ids <= may
    for feature in features:
        assert feature["geometry"]["type"] in {"Polygon", "MultiPolygon"}
        assert feature["properties"] == stored[feature["id"]].properties
        # The drawn outline covers the part of the polygon inside the tile.
        ring = feature["geometry"]["coordinates"][0]
        if feature["geometry"]["type"] == "MultiPolygon":
            ring = ring[0]
        drawn = shape({"type": "Polygon", "coordinates": [[to_lon_lat(z, x, y, u, v) for u, v in ring]]})
        clipped = shapes[feature["id"]].intersection(buffered)
        assert drawn.symmetric_difference(clipped).area <= 0.05 * clipped.area + 1e-12


def test_empty_tile_is_204_without_body(api, clinics):
    x, y = tile_of(100.0, 10.0, 12)  # far from Bắc Ninh
    response = fetch(api, clinics.slug, 12, x, y)
    assert response.status_code == 204
    assert response.content == b""
    assert response["ETag"]


def test_a_small_layer_keeps_every_feature_at_the_province_view(api, clinics):
    """Few features: no aggregation even at z8, ids and attributes kept."""
    x, y = tile_of(*CENTRE, 8)
    features = decode(fetch(api, clinics.slug, 8, x, y), clinics.slug)
    assert len(features) == Feature.objects.filter(layer=clinics).count()
    assert all("cluster_count" not in f["properties"] for f in features)


# --- Size at low zooms ----------------------------------------------------------

POINTS_SQL = """
    INSERT INTO layers_feature (layer_id, geom, properties, created_at, updated_at)
    SELECT %s, ST_SetSRID(ST_MakePoint(105.9 + random() * 1.1, 21.0 + random() * 0.6), 4326),
           jsonb_build_object('name', 'Điểm ' || i, 'beds', i %% 500, 'public', i %% 2 = 0), now(), now()
    FROM generate_series(1, %s) i
"""
# 40 m parcels in a 16 km x 10 km block, as dense as a town's cadastre.
PARCELS_SQL = """
    INSERT INTO layers_feature (layer_id, geom, properties, created_at, updated_at)
    SELECT %s, ST_SetSRID(ST_MakeEnvelope(x0, y0, x0 + 0.00036, y0 + 0.00034), 4326),
           jsonb_build_object('name', 'Thửa ' || i, 'beds', i %% 7, 'rating', (i %% 1000) / 7.0), now(), now()
    FROM (SELECT i, 106.0 + (i %% 400) * 0.0004 AS x0, 21.1 + (i / 400) * 0.00038 AS y0
          FROM generate_series(0, %s - 1) i) s
"""


def _fill(layer, sql: str, count: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.25)")
        cursor.execute(sql, [layer.pk, count])
    layer_touch(layer)


def _head_count(features: list[dict]) -> int:
    """Features an aggregated tile stands for: a crowd by its head count.
    Such a tile draws only its own grid cells, so over all tiles of a zoom
    every feature is counted once."""
    total = 0
    for feature in features:
        assert feature["geometry"]["type"] == "Point"
        u, v = feature["geometry"]["coordinates"]
        assert 0 <= u <= EXTENT and 0 <= v <= EXTENT, "an aggregated tile draws nothing in its buffer"
        total += feature["properties"].get("cluster_count", 1)
    return total


def test_dense_points_stay_under_the_cap_and_every_point_is_counted_once(api, db):
    layer = make_layer("test-tiles-dense")
    count = 200_000
    _fill(layer, POINTS_SQL, count)
    bounds = layer.extent.extent
    largest = 0
    for z in range(0, 11):
        counted = 0
        for x, y in tiles_covering(bounds, z):
            response = fetch(api, layer.slug, z, x, y)
            largest = max(largest, len(response.content))
            assert len(response.content) <= MAX_TILE_BYTES, (z, x, y, len(response.content))
            counted += _head_count(decode(response, layer.slug))
        # No point is lost or counted twice.
        assert counted == count, z
    assert largest > 2_000  # the tiles do carry the data


def test_parcels_stay_under_the_cap_at_low_zooms(api, db):
    layer = make_layer("test-tiles-parcels", geometry_type="Polygon", owner="so-nnmt")
    count = 100_000
    _fill(layer, PARCELS_SQL, count)
    bounds = layer.extent.extent
    for z in range(0, 11):
        for x, y in tiles_covering(bounds, z):
            response = fetch(api, layer.slug, z, x, y)
            assert len(response.content) <= MAX_TILE_BYTES, (z, x, y, len(response.content))
    x, y = tile_of(*CENTRE, 0)
    whole = decode(fetch(api, layer.slug, 0, x, y), layer.slug)
    assert sum(f["properties"].get("cluster_count", 1) for f in whole) == count
    # At street level the parcels are polygons again, with their attributes.
    x, y = tile_of(106.05, 21.12, 15)
    street = decode(fetch(api, layer.slug, 15, x, y), layer.slug)
    assert street and all(f["geometry"]["type"] == "Polygon" and "name" in f["properties"] for f in street)


def test_a_tile_too_big_to_draw_whole_is_aggregated_under_the_cap(api, db):
    """900 points with 700-byte attributes in one z14 tile: few enough to be
    drawn one by one, but that tile would be over 600 KB, so it must fall
    back to aggregation, losing no count."""
    layer = make_layer("test-tiles-fat")
    z = 14
    x, y = tile_of(*CENTRE, z)
    west, east, north, south = lon_of(x, z), lon_of(x + 1, z), lat_of(y, z), lat_of(y + 1, z)
    rng = random.Random(3)
    count = 900
    Feature.objects.bulk_create(
        Feature(
            layer=layer,
            geom=f"SRID=4326;POINT({rng.uniform(west, east)} {rng.uniform(south, north)})",
            properties={"name": f"{i} " + "x" * 700, "beds": i},
        )
        for i in range(count)
    )
    layer_touch(layer)
    assert tiles.layer_is_sparse_at(layer=layer, z=z)  # so the tile is first drawn whole
    response = fetch(api, layer.slug, z, x, y)
    assert len(response.content) <= MAX_TILE_BYTES
    features = decode(response, layer.slug)
    assert any("cluster_count" in f["properties"] for f in features)
    assert _head_count(features) == count


def test_tile_query_uses_the_layer_and_geometry_index(db):
    """The candidates come from the layer's partition only (pruned by
    layer_id: an int4 parameter would keep every partition) through its GiST
    index on geom."""
    layer = make_layer("test-tiles-plan")
    _fill(layer, POINTS_SQL, 20_000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE layers_feature")
        x, y = tile_of(*CENTRE, 14)
        params = {**tiles._params(layer, tiles.TileAddress(14, x, y)), "simplify": 0.0, "limit": 10}
        for sql in (tiles._RAW_SQL,):
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert f" on {partition_name(layer.pk)} " in plan, plan
            assert re.search(r"Index Scan (?:using|on) \S+_geom_idx", plan), plan
            assert "Seq Scan" not in plan and "layers_feature_default" not in plan, plan
            index_conditions = [line for line in plan.splitlines() if "Index Cond" in line]
            assert any("geom &&" in c for c in index_conditions), plan


def test_tile_envelope_is_made_once_in_the_generic_plan(db):
    """The whole tile's statement is prepared, and PostgreSQL's generic plan
    of it sees the tile's coordinates as parameters: an envelope written in
    the select list would be made again for every feature. It is an InitPlan,
    made once, whose result ST_AsMVTGeom reads."""
    layer = make_layer("test-tiles-generic")
    _fill(layer, POINTS_SQL, 2_000)
    x, y = tile_of(*CENTRE, 14)
    params = {**tiles._params(layer, tiles.TileAddress(14, x, y)), "simplify": 0.0, "limit": 10}
    types = {"layer": "bigint", "name": "text", "z": "int", "x": "int", "y": "int", "margin": "float8"}
    types |= {"simplify": "float8", "limit": "bigint"}
    names = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", tiles._RAW_SQL)))
    sql = re.sub(r"%\((\w+)\)s", lambda m: f"${names.index(m[1]) + 1}", tiles._RAW_SQL)
    with connection.cursor() as cursor:
        cursor.execute(f"PREPARE tile_generic ({', '.join(types[n] for n in names)}) AS {sql}")
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute(
            f"EXPLAIN (VERBOSE) EXECUTE tile_generic ({', '.join(['%s'] * len(names))})", [params[n] for n in names]
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("DEALLOCATE tile_generic")
    assert "InitPlan" in plan, plan
    drawn = [line for line in plan.splitlines() if "st_asmvtgeom" in line.lower()]
    assert drawn, plan
    assert not any("st_tileenvelope" in line.lower() for line in drawn), plan


def test_points_reach_web_mercator_as_pyproj_and_st_transform_bring_them(db):
    """The tiles bring points to Web Mercator by the projection's formulas
    (`_MERCATOR_POINT`), not by ST_Transform: the same metres as pyproj's
    EPSG:4326 -> EPSG:3857 over the world, the poles' edge of the Mercator
    square and the antimeridian included, and the very same doubles as
    ST_Transform, so that no tile differs from one drawn by it."""
    rng = random.Random(3857)
    edge = 85.0511287798066
    points = [(rng.uniform(-180, 180), rng.uniform(-edge, edge)) for _ in range(5_000)]
    points += [(180.0, edge), (-180.0, -edge), (0.0, 0.0), (106.07, 21.18)]
    points += [(-179.9999999, 85.05), (179.9999999, -85.05)]
    expression = tiles._MERCATOR_POINT.replace("f.geom", "g")
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT ST_X(m), ST_Y(m), ST_SRID(m), ST_X(t), ST_Y(t) FROM (
                    SELECT {expression} AS m, ST_Transform(g, 3857) AS t
                    FROM unnest(%s::float8[], %s::float8[]) AS p(lon, lat), ST_SetSRID(ST_Point(lon, lat), 4326) AS g
                ) q""",
            [[lon for lon, _ in points], [lat for _, lat in points]],
        )
        rows = cursor.fetchall()
    to_mercator = Transformer.from_crs(4326, 3857, always_xy=True)
    assert len(rows) == len(points)
    for (lon, lat), (x, y, srid, x_transformed, y_transformed) in zip(points, rows, strict=True):
        expected_x, expected_y = to_mercator.transform(lon, lat)
        assert srid == 3857
        assert abs(x - expected_x) < 1e-6 and abs(y - expected_y) < 1e-6, (lon, lat)
        assert (x, y) == (x_transformed, y_transformed), (lon, lat)


def test_a_point_tile_is_the_tile_st_transform_would_draw(clinics):
    """Every tile of the clinics at z13-z16, byte for byte: our statement
    against the same one with ST_Transform in place of the formulas."""
    reference_sql = tiles._RAW_SQL.replace(tiles._MERCATOR_POINT, "ST_Transform(f.geom, 3857)")
    assert reference_sql != tiles._RAW_SQL
    source = tiles.tile_source_read(clinics.slug)
    compared = 0
    for z in (13, 14, 15, 16):
        cx, cy = tile_of(*CENTRE, z)
        for x in range(cx - 1, cx + 2):
            for y in range(cy - 1, cy + 2):
                params = tiles._raw_params(source, tiles.TileAddress(z, x, y))
                with connection.cursor() as cursor:
                    cursor.execute(reference_sql, params)
                    count, reference = cursor.fetchone()
                drawn = tiles._raw_tile(source, tiles.TileAddress(z, x, y))
                assert drawn.candidates == count
                assert drawn.data == (bytes(reference) if reference is not None else b"")
                compared += bool(count)
    assert compared >= 20


# --- Cache and HTTP -------------------------------------------------------------


def test_cached_tile_is_served_until_the_layer_changes(api, clinics, django_assert_num_queries):
    z = 14
    x, y = tile_of(*CENTRE, z)
    first = fetch(api, clinics.slug, z, x, y)
    assert first.status_code == 200
    etag = first["ETag"]
    assert str(clinics.version) in etag
    assert first["Cache-Control"] == "public, max-age=60"

    with django_assert_num_queries(1):  # the layer look-up only: the tile comes from the cache
        again = fetch(api, clinics.slug, z, x, y)
    assert again.content == first.content and again["ETag"] == etag
    not_modified = fetch(api, clinics.slug, z, x, y, HTTP_IF_NONE_MATCH=etag)
    assert not_modified.status_code == 304 and not_modified.content == b""

    # An edit, recorded as every writer must: the feature and layer_touch in one transaction.
    feature_ids = {f["id"] for f in decode(first, clinics.slug)}
    moved = Feature.objects.get(pk=min(feature_ids))
    moved.properties = {**moved.properties, "name": "Đã đổi tên"}
    moved.save(update_fields=["properties"])
    layer_touch(clinics)

    changed = fetch(api, clinics.slug, z, x, y, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed["ETag"] != etag
    assert changed.content != first.content
    renamed = {f["id"]: f["properties"]["name"] for f in decode(changed, clinics.slug)}
    assert renamed[moved.pk] == "Đã đổi tên"


def test_recent_tiles_serve_from_memory_until_the_layer_changes(api, clinics, django_assert_num_queries):
    """With the per-process memory on, a tile served once is served again
    without the shared cache (cleared here) and with only the layer
    look-up; an edit moves the version, so the old tile is not served."""
    z = 14
    x, y = tile_of(*CENTRE, z)
    tiles.recent_tiles.clear()
    with override_settings(TILE_MEMORY_CACHE_BYTES=2**20):
        first = fetch(api, clinics.slug, z, x, y)
        assert first.status_code == 200
        cache.clear()
        with django_assert_num_queries(1):
            again = fetch(api, clinics.slug, z, x, y)
        assert again.content == first.content
        assert cache.get(tiles.tile_cache_key(layer=clinics, tile=tiles.TileAddress(z, x, y))) is None

        moved = Feature.objects.get(pk=min(f["id"] for f in decode(first, clinics.slug)))
        moved.properties = {**moved.properties, "name": "Đổi tên trong bộ nhớ"}
        moved.save(update_fields=["properties"])
        layer_touch(clinics)
        changed = fetch(api, clinics.slug, z, x, y)
        assert {f["id"]: f["properties"]["name"] for f in decode(changed, clinics.slug)}[moved.pk] == (
            "Đổi tên trong bộ nhớ"
        )
        assert tiles.tile_cache_purge(slug=clinics.slug, layer_id=clinics.pk) >= 0
        assert tiles.recent_tiles.get(tiles.tile_cache_key(layer=clinics, tile=tiles.TileAddress(z, x, y))) is None
    tiles.recent_tiles.clear()


def test_recent_tiles_keep_to_their_budget():
    recent = tiles.RecentTiles()
    for i in range(10):
        recent.put(f"k{i}", bytes(100), budget=800)
    assert recent.get("k0") is None and recent.get("k9") == bytes(100)
    assert sum(recent.get(f"k{i}") is not None for i in range(10)) == 8
    recent.put("big", bytes(200), budget=800)  # over an eighth of the budget: not kept
    assert recent.get("big") is None


def test_cache_key_follows_the_version(clinics):
    tile = tiles.TileAddress(14, *tile_of(*CENTRE, 14))
    before = tiles.tile_cache_key(layer=clinics, tile=tile)
    layer_touch(clinics)
    assert tiles.tile_cache_key(layer=clinics, tile=tile) != before


@pytest.mark.parametrize(
    "z, x, y, field",
    [(23, 0, 0, "z"), (99999999999999999999, 0, 0, "z"), (3, 8, 0, "x"), (3, 0, 8, "y"), (0, 1, 0, "x")],
)
def test_coordinates_out_of_range_are_a_400_naming_them(api, clinics, z, x, y, field):
    response = fetch(api, clinics.slug, z, x, y)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {field}
    assert " / " in body[field][0]  # Vietnamese / English


def test_malformed_tile_paths_are_404(api, clinics):
    for path in (
        "/tiles/test-tiles-clinics/1/-1/0.pbf",
        "/tiles/test-tiles-clinics/a/0/0.pbf",
        "/tiles/test-tiles-clinics/1/0/0.png",
        "/tiles/no such/1/0/0.pbf",
    ):
        assert api.get(path).status_code == 404, path


# --- Who sees what --------------------------------------------------------------


@pytest.fixture
def layers_by_visibility(db):
    made = {}
    for visibility in ("public", "internal", "department"):
        layer = make_layer(f"test-tiles-{visibility}", visibility=visibility, owner="so-y-te")
        Feature.objects.create(
            layer=layer, geom=f"SRID=4326;POINT({CENTRE[0]} {CENTRE[1]})", properties={"name": visibility}
        )
        layer_touch(layer)
        made[visibility] = layer
    return made


@pytest.mark.parametrize(
    "caller, visible",
    [
        ("anonymous", {"public"}),
        ("citizen", {"public"}),
        ("other_agency_official", {"public", "internal"}),
        ("owner_official", {"public", "internal", "department"}),
        ("administrator", {"public", "internal", "department"}),
        ("named_editor", {"public", "department"}),
    ],
)
def test_tiles_and_tilejson_follow_layer_visibility(client_as, make_user, layers_by_visibility, caller, visible):
    users = {
        "anonymous": lambda: None,
        "citizen": lambda: make_user("tiles-citizen"),
        "other_agency_official": lambda: make_user("tiles-gddt", role="processing_officer", agency="so-gddt"),
        "owner_official": lambda: make_user("tiles-yte", role="desk_officer", agency="so-y-te"),
        "administrator": lambda: make_user("tiles-admin", role="administrator"),
        "named_editor": lambda: make_user("tiles-editor"),
    }
    user = users[caller]()
    if caller == "named_editor":
        layers_by_visibility["department"].editors.add(user)
    client = client_as(user)
    z = 14
    x, y = tile_of(*CENTRE, z)
    missing_tile = fetch(client, "test-tiles-missing", z, x, y)
    assert missing_tile.status_code == 404
    actor = actor_for(user)
    for visibility, layer in layers_by_visibility.items():
        # The tiles' own reading of the rule agrees with the queryset's.
        assert layer_visible_to(actor, layer_id=layer.pk, visibility=layer.visibility, owner_id=layer.owner_id) == (
            visibility in visible
        )
        assert layers_visible_to(actor).filter(pk=layer.pk).exists() == (visibility in visible)
        tile = fetch(client, layer.slug, z, x, y)
        tilejson = client.get(f"/tiles/{layer.slug}.json")
        if visibility in visible:
            assert tile.status_code == 200, (caller, visibility)
            assert [f["properties"]["name"] for f in decode(tile, layer.slug)] == [visibility]
            assert tilejson.status_code == 200
            scope = "public" if visibility == "public" else "private"
            assert tile["Cache-Control"].startswith(scope)
        else:
            # Same answer as a layer that does not exist.
            assert tile.status_code == 404, (caller, visibility)
            assert tile.json() == missing_tile.json()
            assert tilejson.status_code == 404


def test_session_login_sees_internal_tiles(client, make_user, layers_by_visibility):
    """The map page fetches tiles with the session cookie, not a token."""
    user = make_user("tiles-session", role="processing_officer", agency="so-gddt")
    layer = layers_by_visibility["internal"]
    x, y = tile_of(*CENTRE, 14)
    assert client.get(f"/tiles/{layer.slug}/14/{x}/{y}.pbf").status_code == 404
    client.force_login(user)
    assert client.get(f"/tiles/{layer.slug}/14/{x}/{y}.pbf").status_code == 200


# --- TileJSON -------------------------------------------------------------------


def test_tilejson_describes_the_layer(api, clinics):
    response = api.get(f"/tiles/{clinics.slug}.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["tilejson"] == "3.0.0"
    assert doc["name"] == clinics.title
    assert doc["attribution"] == "© OpenStreetMap contributors (ODbL)"
    assert doc["scheme"] == "xyz"
    assert doc["tiles"] == [f"http://testserver/tiles/{clinics.slug}/{{z}}/{{x}}/{{y}}.pbf"]
    assert 0 <= doc["minzoom"] < doc["maxzoom"] <= 22

    lons = [f.geom.x for f in Feature.objects.filter(layer=clinics)]
    lats = [f.geom.y for f in Feature.objects.filter(layer=clinics)]
    assert doc["bounds"] == pytest.approx([min(lons), min(lats), max(lons), max(lats)])
    lon, lat, zoom = doc["center"]
    assert min(lons) <= lon <= max(lons) and min(lats) <= lat <= max(lats)
    assert doc["minzoom"] <= zoom <= doc["maxzoom"]

    (vector_layer,) = doc["vector_layers"]
    assert vector_layer["id"] == clinics.slug
    assert vector_layer["fields"] == {
        "name": "String",
        "beds": "Number",
        "rating": "Number",
        "public": "Boolean",
        "opened": "String",
        "cluster_count": "Number",
    }

    # The template leads to the tiles.
    x, y = tile_of(*CENTRE, 14)
    path = doc["tiles"][0].removeprefix("http://testserver").format(z=14, x=x, y=y)
    assert decode(api.get(path), clinics.slug)


def test_tilejson_of_an_empty_layer_covers_the_world(api, db):
    layer = make_layer("test-tiles-empty")
    doc = api.get(f"/tiles/{layer.slug}.json").json()
    assert doc["bounds"] == pytest.approx([-180, -85.0511, 180, 85.0511], abs=1e-3)


def test_a_crowded_tile_of_a_sparse_layer_is_aggregated(api, db):
    """A layer sparse on average at z14 (two far corners widen its extent)
    with one tile of more than RAW_MAX_FEATURES points: the tile's one
    statement counts them and the tile is aggregated, losing no count; a
    tile with a few points keeps them whole, with their ids."""
    layer = make_layer("test-tiles-crowded")
    z = 14
    x, y = tile_of(*CENTRE, z)
    west, east, north, south = lon_of(x, z), lon_of(x + 1, z), lat_of(y, z), lat_of(y + 1, z)
    crowd = tiles.RAW_MAX_FEATURES + 200
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO layers_feature (layer_id, geom, properties, created_at, updated_at) "
            "SELECT %s, ST_SetSRID(ST_MakePoint(%s + (i %% 97 + 0.5) / 97.0 * %s, %s + (i / 97 + 0.5) / 60.0 * %s), "
            "4326), jsonb_build_object('name', 'p' || i), now(), now() FROM generate_series(0, %s - 1) i",
            [layer.pk, west, east - west, south, north - south, crowd],
        )
    corners = [(105.6, 20.6), (106.6, 21.6)]
    for lon, lat in corners:
        Feature.objects.create(layer=layer, geom=f"SRID=4326;POINT({lon} {lat})", properties={"name": "corner"})
    layer_touch(layer)
    layer.refresh_from_db()
    assert tiles.layer_is_sparse_at(layer=layer, z=z)
    features = decode(fetch(api, layer.slug, z, x, y), layer.slug)
    assert any("cluster_count" in f["properties"] for f in features)
    assert _head_count(features) == crowd
    cx, cy = tile_of(*corners[0], z)
    lone = decode(fetch(api, layer.slug, z, cx, cy), layer.slug)
    assert [f["properties"] for f in lone] == [{"name": "corner"}] and lone[0]["id"]
