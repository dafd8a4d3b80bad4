"""Coverage, catchments and the suggestion checked against an independent
computation: the same polygons and points projected with pyproj to
EPSG:3405 and buffered, unioned and intersected with shapely."""

import numpy as np
import pytest
import shapely
from django.contrib.gis.geos import MultiPolygon
from django.contrib.gis.geos import Point as GEOSPoint
from django.core.cache import cache
from pyproj import Geod, Transformer
from shapely.geometry import Point, shape

from dossiers.demo_history import dossier_history_generate
from dossiers.demo_setup import commune_committees_ensure
from dossiers.models import Dossier
from layers.models import AdministrativeUnit, ServicePoint

pytestmark = pytest.mark.django_db

COVERAGE = "/api/v1/analytics/coverage/"
SUGGEST = "/api/v1/analytics/coverage/suggest/"
CATCHMENTS = "/api/v1/analytics/catchments/"
TO_METRIC = Transformer.from_crs(4326, 3405, always_xy=True)
ON = {"2019": "2024-01-01", "2025": "2025-09-01"}


def _project(geometry: shapely.Geometry) -> shapely.Geometry:
    return shapely.transform(geometry, lambda xy: np.column_stack(TO_METRIC.transform(xy[:, 0], xy[:, 1])))


def _metric(geom) -> shapely.Geometry:
    return _project(shapely.from_wkb(bytes(geom.wkb)))


def _communes(era: str) -> dict[str, tuple[int | None, shapely.Geometry]]:
    units = AdministrativeUnit.objects.filter(era=era, level="commune")
    return {u.code: (u.population, _metric(u.geom)) for u in units}


def _cover(kind: str, radius: float, extra: list[tuple[float, float]] = ()) -> shapely.Geometry:
    points = ServicePoint.objects.filter(is_active=True)
    if kind != "any":
        points = points.filter(kind=kind)
    xy = [(p.geom.x, p.geom.y) for p in points] + list(extra)
    return shapely.unary_union([Point(*TO_METRIC.transform(x, y)).buffer(radius, quad_segs=16) for x, y in xy])


def _independent(era: str, kind: str, radius: float, extra=()) -> tuple[dict[str, float], float, float]:
    """(share per commune, covered population, population) with shapely."""
    cover = _cover(kind, radius, extra)
    shares, covered, total = {}, 0.0, 0
    for code, (population, polygon) in _communes(era).items():
        share = polygon.intersection(cover).area / polygon.area
        shares[code] = share
        if population is not None:
            covered += population * share
            total += population
    return shares, covered, total


@pytest.mark.parametrize(("era", "kind", "radius"), [("2019", "post_office", 1500), ("2025", "commune_desk", 3000)])
def test_coverage_matches_shapely(api, era, kind, radius):
    response = api.get(COVERAGE, {"kind": kind, "radius_m": radius, "on": ON[era]})
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["era"] == era and "EPSG:3405" in data["method"] and "uniformly" in data["method"]
    shares, covered, total = _independent(era, kind, radius)
    assert {c["code"] for c in data["communes"]} == set(shares)
    partial = 0
    for commune in data["communes"]:
        assert commune["share"] == pytest.approx(shares[commune["code"]], abs=0.01), commune["code"]
        partial += 0.05 < shares[commune["code"]] < 0.95
    assert partial >= 5, "the check must include partly covered communes"
    summary = data["summary"]
    assert summary["population"] == total
    assert summary["covered_population"] == pytest.approx(covered, rel=0.01)
    assert summary["share"] == pytest.approx(covered / total, abs=0.01)
    assert summary["uncovered_population"] == pytest.approx(total - covered, rel=0.01)


def test_unknown_population_is_reported_with_nulls_and_left_out(api):
    data = api.get(COVERAGE, {"kind": "post_office", "radius_m": 2000, "on": ON["2025"]}).json()
    unknown = [c for c in data["communes"] if c["population"] is None]
    assert unknown, "the 2025 demo has communes without population"
    assert all(c["covered_population"] is None and c["uncovered_population"] is None for c in unknown)
    assert sorted(data["summary"]["communes_without_population"]) == sorted(c["code"] for c in unknown)
    known = AdministrativeUnit.objects.filter(era="2025", level="commune", population__isnull=False)
    assert data["summary"]["population"] == sum(u.population for u in known)


def test_worst_are_the_lowest_shares(api):
    data = api.get(COVERAGE, {"kind": "provincial_centre", "radius_m": 5000, "on": ON["2019"]}).json()
    worst = data["worst"]
    assert len(worst) == 10
    tenth = sorted(c["share"] for c in data["communes"])[9]
    assert all(c["share"] <= tenth for c in worst)
    keys = [(c["share"], -(c["uncovered_population"] or 0)) for c in worst]
    assert keys == sorted(keys), "ties broken by larger uncovered population first"


def test_geojson_variant(api):
    data = api.get(COVERAGE, {"kind": "any", "radius_m": 1000, "era": "2019", "format": "geojson"}).json()
    assert data["type"] == "FeatureCollection"
    assert len(data["features"]) == AdministrativeUnit.objects.filter(era="2019", level="commune").count()
    feature = data["features"][0]
    assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert 0 <= feature["properties"]["share"] <= 1


def test_larger_radius_never_covers_less(api):
    small = api.get(COVERAGE, {"kind": "post_office", "radius_m": 500, "on": ON["2019"]}).json()["summary"]
    large = api.get(COVERAGE, {"kind": "post_office", "radius_m": 5000, "on": ON["2019"]}).json()["summary"]
    assert small["share"] < large["share"] <= 1


@pytest.fixture
def history(db):
    commune_committees_ensure()
    dossier_history_generate(count=1500, years=1, seed=52)


def _communes_outline(era: str) -> shapely.Geometry:
    """The union of the era's communes in lon/lat, computed here with shapely."""
    units = AdministrativeUnit.objects.filter(era=era, level="commune")
    return shapely.unary_union([shapely.from_wkb(bytes(u.geom.wkb)) for u in units])


def _located_inside(outline: shapely.Geometry) -> int:
    located = Dossier.objects.exclude(location=None).values_list("location", flat=True)
    points = shapely.points([(p.x, p.y) for p in located])
    shapely.prepare(outline)
    return int(shapely.intersects(outline, points).sum())


@pytest.mark.parametrize(("era", "kind"), [("2025", "post_office"), ("2019", "provincial_centre")])
def test_catchments_partition_the_province(api, history, era, kind):
    response = api.get(CATCHMENTS, {"kind": kind, "on": ON[era]})
    assert response.status_code == 200, response.content
    data = response.json()
    assert "EPSG:3405" in data["method"]
    points = {p.code: p for p in ServicePoint.objects.filter(kind=kind, is_active=True)}
    assert {f["properties"]["code"] for f in data["features"]} == set(points)
    cells = {f["properties"]["code"]: shape(f["geometry"]) for f in data["features"]}
    outline = _communes_outline(era)
    inside = [code for code, p in points.items() if outline.contains(Point(p.geom.x, p.geom.y))]
    assert len(inside) >= min(2, len(points) - 1)
    # A point outside the era's communes (the main centre lies outside the
    # 2019 Bắc Ninh) keeps only the part of its cell inside them.
    for code in inside:
        assert cells[code].contains(Point(points[code].geom.x, points[code].geom.y)), code
    metric = {code: _project(cell) for code, cell in cells.items()}
    union = shapely.unary_union(list(metric.values()))
    assert sum(c.area for c in metric.values()) == pytest.approx(union.area, rel=0.001), "cells overlap"
    # Nearest-facility: a few dossiers sit in the catchment of their nearest point (in metres).
    metric_points = {code: Point(*TO_METRIC.transform(p.geom.x, p.geom.y)) for code, p in points.items()}
    for dossier in Dossier.objects.exclude(location=None).order_by("pk")[:30]:
        here = Point(*TO_METRIC.transform(dossier.location.x, dossier.location.y))
        nearest = min(metric_points, key=lambda code: metric_points[code].distance(here))
        lonlat = Point(dossier.location.x, dossier.location.y)
        if metric[nearest].distance(here) == 0 or cells[nearest].contains(lonlat):
            continue
        assert not any(cell.contains(lonlat) for cell in cells.values()), "outside the communes is fine, else wrong"


@pytest.mark.parametrize(("era", "kind"), [("2025", "commune_desk"), ("2019", "post_office"), ("2025", "any")])
def test_catchment_totals_are_the_province_totals(api, history, era, kind):
    """Area, population and located dossiers of all catchments together equal
    the province's, computed here from the era's commune polygons: on the 2025
    map the province row's own outline misses 40 km² of its communes."""
    data = api.get(CATCHMENTS, {"kind": kind, "era": era}).json()
    outline = _communes_outline(era)
    area_m2 = abs(Geod(ellps="WGS84").geometry_area_perimeter(shapely.orient_polygons(outline))[0])
    assert sum(f["properties"]["area_m2"] for f in data["features"]) == pytest.approx(area_m2, rel=1e-5)
    population = sum(p for p, _ in _communes(era).values() if p is not None)
    assert sum(f["properties"]["population"] for f in data["features"]) == pytest.approx(population, abs=0.1 * 50)
    located = _located_inside(outline)
    assert located >= 1000
    assert sum(f["properties"]["dossiers"] for f in data["features"]) == located
    # The cells cover the communes and nothing else, to the 6 decimals
    # (about 0.1 m) of the GeoJSON coordinates along the outline.
    union = shapely.unary_union([shape(f["geometry"]) for f in data["features"] if f["geometry"]])
    assert _project(union.symmetric_difference(outline)).area < 0.1 * _project(outline).length


def test_catchments_follow_an_edited_commune(api):
    """The cached union of the communes is keyed on their geometries: an
    administrator's edit shows in the next answer."""
    params = {"kind": "post_office", "era": "2019"}
    before = sum(f["properties"]["area_m2"] for f in api.get(CATCHMENTS, params).json()["features"])
    unit = AdministrativeUnit.objects.filter(era="2019", level="commune").order_by("code").first()
    shrunk = unit.geom.buffer(-0.003)
    removed = unit.geom.transform(3405, clone=True).area - shrunk.transform(3405, clone=True).area
    unit.geom = shrunk if shrunk.geom_type == "MultiPolygon" else MultiPolygon(shrunk)
    unit.save(update_fields=["geom"])
    after = sum(f["properties"]["area_m2"] for f in api.get(CATCHMENTS, params).json()["features"])
    assert removed > 1e6
    assert after == pytest.approx(before - removed, rel=1e-3)


def test_catchment_period_filter(api, history):
    everything = api.get(CATCHMENTS, {"kind": "commune_desk"}).json()
    none = api.get(CATCHMENTS, {"kind": "commune_desk", "from": "1990-01-01", "to": "1990-12-31"}).json()
    assert sum(f["properties"]["dossiers"] for f in everything["features"]) > 0
    assert sum(f["properties"]["dossiers"] for f in none["features"]) == 0


def test_suggestion_gain_is_real(api):
    kind, radius = "provincial_centre", 4000
    response = api.get(SUGGEST, {"kind": kind, "radius_m": radius, "on": ON["2019"], "count": 2})
    assert response.status_code == 200, response.content
    steps = response.json()["suggestions"]
    assert [s["step"] for s in steps] == [1, 2]
    _, before, total = _independent("2019", kind, radius)
    sites = []
    for step in steps:
        sites.append((step["site"]["lon"], step["site"]["lat"]))
        _, after, _ = _independent("2019", kind, radius, sites)
        assert step["gain_population"] > 0
        assert step["covered_before"] == pytest.approx(before, rel=0.005)
        assert step["covered_after"] == pytest.approx(after, rel=0.005)
        assert step["gain_population"] == pytest.approx(after - before, rel=0.02, abs=0.001 * total)
        commune = AdministrativeUnit.objects.get(era="2019", level="commune", code=step["site"]["commune"]["code"])
        assert _metric(commune.geom).buffer(1).contains(Point(*TO_METRIC.transform(*sites[-1])))
        before = after


def test_suggestion_is_the_best_candidate(api):
    """The first pick beats every other commune representative point."""
    kind, radius = "provincial_centre", 4000
    step = api.get(SUGGEST, {"kind": kind, "radius_m": radius, "era": "2019"}).json()["suggestions"][0]
    _, before, _ = _independent("2019", kind, radius)
    gains = {}
    for unit in AdministrativeUnit.objects.filter(era="2019", level="commune").order_by("code")[::9]:
        site = unit.geom.point_on_surface
        gains[unit.code] = _independent("2019", kind, radius, [(site.x, site.y)])[1] - before
    assert step["gain_population"] >= max(gains.values()) * 0.99


def _best_grid_gain(era: str, kind: str, radius: float, spacing: float) -> float:
    """The most still-uncovered people one site of a square grid (EPSG:3405,
    whole multiples of `spacing`, inside communes with population) covers,
    population spread uniformly over each commune: shapely, site by site."""
    cover = _cover(kind, radius)
    populated = [(population, polygon) for population, polygon in _communes(era).values() if population]
    bounds = np.array([polygon.bounds for _, polygon in populated])
    xs = np.arange(np.ceil(bounds[:, 0].min() / spacing), np.floor(bounds[:, 2].max() / spacing) + 1) * spacing
    ys = np.arange(np.ceil(bounds[:, 1].min() / spacing), np.floor(bounds[:, 3].max() / spacing) + 1) * spacing
    grid = shapely.points(np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2))
    inside = np.zeros(len(grid), dtype=bool)
    for _, polygon in populated:
        inside |= shapely.intersects(polygon, grid)
    circles = shapely.buffer(grid[inside], radius, quad_segs=16)
    gains = np.zeros(len(circles))
    for population, polygon in populated:
        uncovered = polygon.difference(cover)
        near = shapely.intersects(circles, uncovered)
        gains[near] += population / polygon.area * shapely.area(shapely.intersection(circles[near], uncovered))
    assert len(circles) > 500, "the grid must be the real one, not a handful of sites"
    return float(gains.max())


@pytest.mark.parametrize(("era", "kind", "radius"), [("2025", "commune_desk", 2000), ("2019", "post_office", 1500)])
def test_suggestion_is_at_least_the_best_grid_site(api, era, kind, radius):
    """The demo desks stand on the communes' representative points, so those
    gain nothing; a 1 km grid finds sites that cover thousands more people."""
    data = api.get(SUGGEST, {"kind": kind, "radius_m": radius, "era": era}).json()
    best = _best_grid_gain(era, kind, radius, spacing=1000)
    assert best > 5000
    step = data["suggestions"][0]
    assert step["gain_population"] >= best - max(1.0, 1e-4 * best), (step, best)
    assert step["estimated_gain_population"] == pytest.approx(step["gain_population"], rel=1e-3)
    assert data["grid_spacing_m"] == 1000 and "1000 m square grid" in data["method"]
    assert step["site"]["candidate"] in ("grid", "uncovered_centroid")


def test_grid_spacing_follows_large_radii(api):
    data = api.get(SUGGEST, {"kind": "provincial_centre", "radius_m": 10000, "era": "2025"}).json()
    assert data["grid_spacing_m"] == 2500 and "2500 m square grid" in data["method"]
    assert data["suggestions"][0]["gain_population"] > 0


@pytest.mark.parametrize(
    ("url", "params", "bad"),
    [
        (COVERAGE, {"kind": "hospital"}, "kind"),
        (COVERAGE, {"radius_m": "10"}, "radius_m"),
        (COVERAGE, {"radius_m": "60000"}, "radius_m"),
        (COVERAGE, {"radius_m": "far"}, "radius_m"),
        (COVERAGE, {"on": "2025-13-01"}, "on"),
        (COVERAGE, {"era": "2010"}, "era"),
        (COVERAGE, {"on": "2024-01-01", "era": "2025"}, "era"),
        (COVERAGE, {"format": "kml"}, "format"),
        (CATCHMENTS, {"kind": "x"}, "kind"),
        (CATCHMENTS, {"on": "yesterday"}, "on"),
        (CATCHMENTS, {"from": "2025-02-01", "to": "2025-01-01"}, "to"),
        (SUGGEST, {"count": "6"}, "count"),
        (SUGGEST, {"count": "0"}, "count"),
        (SUGGEST, {"radius_m": "49"}, "radius_m"),
    ],
)
def test_bad_parameters_are_named(api, url, params, bad):
    response = api.get(url, params)
    assert response.status_code == 400
    body = response.json()
    assert bad in body, body
    assert all(" / " in m for m in body[bad]), "bilingual messages"


def test_query_counts(api, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert api.get(COVERAGE, {"kind": "post_office", "radius_m": 2000, "era": "2019"}).status_code == 200
    # Catchments: the communes' fingerprint, then (first time only) their
    # union, which is cached under that fingerprint, then the cells.
    cache.clear()
    with django_assert_num_queries(3):
        assert api.get(CATCHMENTS, {"kind": "post_office", "era": "2019"}).status_code == 200
    with django_assert_num_queries(2):
        assert api.get(CATCHMENTS, {"kind": "commune_desk", "era": "2019"}).status_code == 200
    # Suggest: the data's fingerprint, then (not cached yet) 1 + 2 × count.
    with django_assert_num_queries(6):
        assert api.get(SUGGEST, {"kind": "post_office", "era": "2019", "count": 2}).status_code == 200
    with django_assert_num_queries(1):
        assert api.get(SUGGEST, {"kind": "post_office", "era": "2019", "count": 2}).status_code == 200


def test_page_renders(client):
    response = client.get("/planning/coverage/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "coverage-config" in html and "/static/vendor/leaflet/leaflet.js" in html
    assert "/api/v1/analytics/coverage/" in html


def test_areas_are_geodesic(api):
    from maps.coverage import coverage_by_commune

    geod = Geod(ellps="WGS84")
    data = api.get(COVERAGE, {"kind": "post_office", "radius_m": 2000, "era": "2019"}).json()
    units = {u.code: u for u in AdministrativeUnit.objects.filter(era="2019", level="commune")}
    for commune in data["communes"][::20]:
        polygon = shapely.from_wkb(bytes(units[commune["code"]].geom.wkb))
        expected = abs(geod.geometry_area_perimeter(polygon)[0])
        assert commune["area_m2"] == pytest.approx(expected, rel=0.001), commune["code"]
    planar = coverage_by_commune(kind="post_office", radius_m=2000, era="2019", geodesic_area=False)
    for ours, theirs in zip(data["communes"], planar["communes"], strict=True):
        assert ours["share"] == theirs["share"]
        assert theirs["area_m2"] == pytest.approx(ours["area_m2"], rel=0.002)


def test_schema_documents_the_coverage_endpoints(api):
    paths = api.get("/api/schema/").json()["paths"]
    for path in (COVERAGE, SUGGEST, CATCHMENTS):
        assert path in paths
    names = {p["name"] for p in paths[COVERAGE]["get"]["parameters"]}
    assert {"kind", "radius_m", "on", "era", "format"} <= names


def test_a_repeated_suggestion_comes_from_the_cache_until_the_data_changes(api, django_assert_max_num_queries):
    """The greedy search costs seconds, and the endpoint is public: the same
    question is answered from the cache, and a service point placed at the
    suggested site makes the next answer suggest somewhere else."""
    params = {"kind": "provincial_centre", "radius_m": 4000, "era": "2019"}
    first = api.get(SUGGEST, params).json()["suggestions"][0]
    with django_assert_max_num_queries(1):  # the fingerprint; no greedy step
        again = api.get(SUGGEST, params).json()["suggestions"][0]
    assert again == first

    ServicePoint.objects.create(
        code="SUGGESTED-1",
        name="Trung tâm mới / New centre",
        kind="provincial_centre",
        geom=GEOSPoint(first["site"]["lon"], first["site"]["lat"], srid=4326),
    )
    moved = api.get(SUGGEST, params).json()["suggestions"][0]
    assert (moved["site"]["lon"], moved["site"]["lat"]) != (first["site"]["lon"], first["site"]["lat"])
    _, covered, _ = _independent("2019", "provincial_centre", 4000)
    assert moved["covered_before"] == pytest.approx(covered, rel=0.005)
