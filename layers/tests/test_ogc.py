"""OGC API - Features Part 1 Core under /ogc/, checked against the standard's
rules (links, conformance, limit capping, paging, bbox, datetime) and against
shapely on geometries read straight from the database, never against the
endpoint's own output."""

import datetime as dt
import json
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
import shapely
from django.core.cache import cache
from django.db import connection
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layers.models import Feature, Visibility
from layers.registries import ogc
from layers.registries.services import layer_create_or_update, layer_touch

GEOJSON = "application/geo+json"
CORE = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
DEMO_SLUGS = {"hospitals", "schools", "land-parcels", "construction-permits"}


@pytest.fixture(autouse=True)
def _demo(db) -> None:
    """Every test here reads the demo registries that load_demo put in the
    session database (conftest.py)."""
    return None


@pytest.fixture
def official(make_user, client_as):
    return client_as(make_user("ogc-official", role="processing_officer", agency="so-y-te"))


def path_of(url: str) -> str:
    parsed = urlparse(url)
    return parsed.path + (f"?{parsed.query}" if parsed.query else "")


def link(document: dict, rel: str, media: str | None = None) -> dict | None:
    for candidate in document["links"]:
        if candidate["rel"] == rel and (media is None or candidate.get("type") == media):
            return candidate
    return None


def db_geometries(slug: str) -> dict[int, shapely.Geometry]:
    """Every feature of a layer as shapely, from the stored WKB (read in bulk:
    the parcels layer has 100,000)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT f.id, ST_AsBinary(f.geom) FROM layers_feature f JOIN layers_layer l ON l.id = f.layer_id "
            "WHERE l.slug = %s",
            [slug],
        )
        rows = cursor.fetchall()
    geoms = shapely.from_wkb([bytes(wkb) for _, wkb in rows])
    return dict(zip([pk for pk, _ in rows], geoms, strict=True))


def ids_intersecting(slug: str, area: shapely.Geometry) -> set[int]:
    geometries = db_geometries(slug)
    ids = np.fromiter(geometries.keys(), dtype=np.int64)
    hits = shapely.intersects(np.array(list(geometries.values())), area)
    return set(ids[hits].tolist())


def all_items(client, url: str) -> list[dict]:
    """Follow `next` links to the end."""
    features, seen_urls = [], set()
    while url:
        assert url not in seen_urls, "a next link points back"
        seen_urls.add(url)
        response = client.get(path_of(url))
        assert response.status_code == 200, response.content
        page = response.json()
        features.extend(page["features"])
        nxt = link(page, "next")
        url = nxt["href"] if nxt else None
    return features


# --- landing page, conformance, API definition ----------------------------------


def test_landing_page_links_to_conformance_data_and_api(api):
    response = api.get("/ogc/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    doc = response.json()
    assert doc["title"] and doc["description"]
    rels = {entry["rel"] for entry in doc["links"]}
    assert {"self", "alternate", "service-desc", "conformance", "data"} <= rels
    assert link(doc, "alternate", "text/html")
    for rel in ("conformance", "data", "service-desc"):
        target = api.get(path_of(link(doc, rel)["href"]))
        assert target.status_code == 200, rel


def test_conformance_declares_the_classes_implemented(api):
    response = api.get("/ogc/conformance")
    assert response.status_code == 200
    classes = set(response.json()["conformsTo"])
    base = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/"
    assert classes == {base + name for name in ("core", "geojson", "html", "oas30")}


def test_openapi_document_describes_items_and_each_visible_collection(api):
    response = api.get("/ogc/api")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi+json")
    doc = response.json()
    assert doc["openapi"].startswith("3.0")
    items = doc["paths"]["/collections/{collectionId}/items"]["get"]
    assert {"bbox", "limit", "offset", "datetime"} <= {p["name"] for p in items["parameters"]}
    schools = doc["paths"]["/collections/schools/items"]["get"]
    assert {"level", "pupils", "opened_on"} <= {p["name"] for p in schools["parameters"]}
    # Hidden collections are not described to an anonymous caller.
    assert "/collections/land-parcels/items" not in doc["paths"]


# --- collections ----------------------------------------------------------------


def test_collection_describes_extent_crs_and_links(api):
    response = api.get("/ogc/collections/schools")
    assert response.status_code == 200
    doc = response.json()
    assert doc["id"] == "schools" and doc["itemType"] == "feature"
    assert CRS84 in doc["crs"]
    geoms = db_geometries("schools").values()
    bounds = shapely.total_bounds(list(geoms))
    assert doc["extent"]["spatial"]["bbox"][0] == pytest.approx(list(bounds), abs=1e-9)
    assert doc["extent"]["spatial"]["crs"] == CRS84
    dates = sorted(
        p["opened_on"] for p in Feature.objects.filter(layer__slug="schools").values_list("properties", flat=True)
    )
    start, end = doc["extent"]["temporal"]["interval"][0]
    assert start.startswith(dates[0]) and end.startswith(dates[-1])
    items = link(doc, "items", GEOJSON)
    assert items and urlparse(items["href"]).path == "/ogc/collections/schools/items"
    assert link(doc, "self") and link(doc, "alternate", "text/html")
    # Hospitals carry their licence and the OSM attribution.
    hospitals = api.get("/ogc/collections/hospitals").json()
    assert "OpenStreetMap" in hospitals["attribution"]
    assert link(hospitals, "license")["href"].startswith("https://opendatacommons.org/licenses/odbl")


def test_collections_list_has_a_document_per_visible_layer(api):
    doc = api.get("/ogc/collections").json()
    assert link(doc, "self")
    listed = {c["id"]: c for c in doc["collections"]}
    for slug in ("hospitals", "schools"):
        assert link(listed[slug], "items", GEOJSON)


def test_unknown_collection_is_a_json_404(api):
    response = api.get("/ogc/collections/no-such-layer/items")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()


# --- items: limit and paging ------------------------------------------------------


def test_items_default_page_is_100_with_exact_number_matched(api):
    response = api.get("/ogc/collections/schools/items")
    assert response.status_code == 200
    assert response["Content-Type"] == GEOJSON
    doc = response.json()
    total = Feature.objects.filter(layer__slug="schools").count()
    assert doc["type"] == "FeatureCollection"
    assert doc["numberReturned"] == len(doc["features"]) == 100
    assert doc["numberMatched"] == total
    assert dt.datetime.fromisoformat(doc["timeStamp"].replace("Z", "+00:00"))
    nxt = parse_qs(urlparse(link(doc, "next", GEOJSON)["href"]).query)
    assert nxt["offset"] == ["100"] and nxt["limit"] == ["100"]
    feature = doc["features"][0]
    assert feature["type"] == "Feature" and isinstance(feature["id"], int)
    assert feature["geometry"]["type"] == "Point"


def test_limit_above_maximum_is_capped_not_refused(official):
    total = Feature.objects.filter(layer__slug="land-parcels").count()
    assert total > 10_000, "the cap needs a layer bigger than it"
    response = official.get("/ogc/collections/land-parcels/items", {"limit": 20000})
    assert response.status_code == 200
    doc = response.json()
    assert doc["numberReturned"] == len(doc["features"]) == 10_000
    nxt = parse_qs(urlparse(link(doc, "next", GEOJSON)["href"]).query)
    assert nxt["limit"] == ["10000"] and nxt["offset"] == ["10000"]


@pytest.mark.parametrize("value", ["0", "-5", "abc", "1.5", ""])
def test_bad_limit_is_a_400_naming_it(api, value):
    response = api.get("/ogc/collections/schools/items", {"limit": value})
    if value == "":
        assert response.status_code == 200  # an empty parameter is an absent one
        return
    assert response.status_code == 400
    assert set(response.json()) == {"limit"}
    assert " / " in response.json()["limit"][0]  # Vietnamese / English


@pytest.fixture
def small_layer(db):
    """23 points on a line, public, owned by the health department."""
    from gisportal.accounts.models import Agency

    layer = layer_create_or_update(
        slug="ogc-small",
        title="OGC small",
        owner=Agency.objects.get(code="so-y-te"),
        geometry_type="Point",
        schema=[{"name": "n", "type": "integer"}, {"name": "seen", "type": "datetime"}],
        visibility=Visibility.PUBLIC,
        time_field="seen",
    )
    for i in range(23):
        Feature.objects.create(
            layer=layer,
            geom=shapely.Point(106.0 + i * 0.01, 21.1).wkt,
            properties={"n": i, "seen": f"2024-01-{i + 1:02d}T08:00:00+07:00"},
        )
    layer_touch(layer)
    return layer


def test_paging_by_next_links_visits_every_feature_once(api, small_layer):
    expected = set(Feature.objects.filter(layer=small_layer).values_list("id", flat=True))
    features = all_items(api, "/ogc/collections/ogc-small/items?limit=5")
    ids = [f["id"] for f in features]
    assert len(ids) == len(set(ids)) == len(expected) == 23
    assert set(ids) == expected
    last = api.get("/ogc/collections/ogc-small/items", {"limit": 5, "offset": 20}).json()
    assert last["numberReturned"] == 3 and link(last, "next") is None
    prev = parse_qs(urlparse(link(last, "prev")["href"]).query)
    assert prev["offset"] == ["15"]


def test_paging_with_a_filter_visits_every_match_once(official):
    bbox = "106.05,21.10,106.25,21.25"
    features = all_items(official, f"/ogc/collections/land-parcels/items?limit=700&bbox={bbox}&land_use=LUC")
    ids = [f["id"] for f in features]
    assert len(ids) == len(set(ids))
    area = shapely.box(106.05, 21.10, 106.25, 21.25)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT f.id, f.properties->>'land_use' FROM layers_feature f JOIN layers_layer l ON l.id = f.layer_id "
            "WHERE l.slug = 'land-parcels'"
        )
        land_use = dict(cursor.fetchall())
    truth = {pk for pk in ids_intersecting("land-parcels", area) if land_use[pk] == "LUC"}
    assert len(truth) > 700
    assert set(ids) == truth


# --- items: bbox ------------------------------------------------------------------


@pytest.mark.parametrize(
    "slug,bbox",
    [
        ("schools", (106.0, 21.05, 106.3, 21.3)),
        ("schools", (105.0, 20.0, 108.0, 23.0)),
        ("hospitals", (106.05, 21.15, 106.1, 21.2)),
        ("land-parcels", (106.10, 21.15, 106.16, 21.19)),
        ("land-parcels", (106.5, 21.3, 106.502, 21.302)),
    ],
)
def test_bbox_selects_exactly_the_features_shapely_finds(official, slug, bbox):
    area = shapely.box(*bbox)
    truth = ids_intersecting(slug, area)
    response = official.get(f"/ogc/collections/{slug}/items", {"bbox": ",".join(map(str, bbox)), "limit": 10000})
    assert response.status_code == 200
    doc = response.json()
    assert {f["id"] for f in doc["features"]} == truth
    assert doc["numberMatched"] == len(truth)


def test_bbox_edges_are_decided_as_shapely_decides_them(official):
    """Points on a bbox's edges and corners are in it, points a hair outside
    are not (the index's float boxes would take them), and the other shapes
    touching or crossing an edge are in it: the page's exact test for points
    (coordinates) and for the rest (ST_Intersects) against shapely."""
    from gisportal.accounts.models import Agency

    x0, y0, x1, y1 = 106.1234567, 21.1234567, 106.1334567, 21.1304567
    hair = 1e-9
    layer = layer_create_or_update(
        slug="ogc-edges",
        title="OGC edges",
        owner=Agency.objects.get(code="so-y-te"),
        geometry_type="Geometry",
        schema=[{"name": "n", "type": "integer"}],
        visibility=Visibility.PUBLIC,
    )
    shapes = [
        *(shapely.Point(x, y) for x in (x0, x1) for y in (y0, y1)),  # the corners
        shapely.Point(x0, (y0 + y1) / 2),
        shapely.Point((x0 + x1) / 2, y1),
        shapely.Point(x0 - hair, (y0 + y1) / 2),
        shapely.Point((x0 + x1) / 2, y1 + hair),
        shapely.Point(x1 + hair, y0 - hair),
        shapely.Point(x1 + 1e-6, y0),
        shapely.Point((x0 + x1) / 2, (y0 + y1) / 2),
        shapely.MultiPoint([(x0 - 0.001, y0), (x0, y0 + 0.001)]),  # one of its points on the west edge
        shapely.MultiPoint([(x0 - hair, y0), (x1 + hair, y1)]),
        shapely.LineString([(x0 - 0.01, y0 - 0.01), (x0 - hair, y1)]),  # passes the corner outside
        shapely.LineString([(x0 - 0.01, y0), (x0, y0)]),  # ends on the corner
        shapely.box(x1, y0, x1 + 0.01, y1),  # shares the east edge
        shapely.box(x1 + hair, y0, x1 + 0.01, y1),
    ]
    Feature.objects.bulk_create(
        [Feature(layer=layer, geom=f"SRID=4326;{shape.wkt}", properties={"n": i}) for i, shape in enumerate(shapes)]
    )
    layer_touch(layer)
    truth = ids_intersecting("ogc-edges", shapely.box(x0, y0, x1, y1))
    assert 0 < len(truth) < len(shapes)
    response = official.get("/ogc/collections/ogc-edges/items", {"bbox": f"{x0!r},{y0!r},{x1!r},{y1!r}"})
    assert response.status_code == 200
    assert {f["id"] for f in response.json()["features"]} == truth


def test_bbox_with_heights_ignores_them(api):
    plain = api.get("/ogc/collections/schools/items", {"bbox": "106.0,21.05,106.3,21.3", "limit": 1000}).json()
    with_z = api.get("/ogc/collections/schools/items", {"bbox": "106.0,21.05,-10,106.3,21.3,50", "limit": 1000}).json()
    assert [f["id"] for f in plain["features"]] == [f["id"] for f in with_z["features"]]


@pytest.mark.parametrize(
    "bbox", ["1,2,3", "a,b,c,d", "106,21,107", "106,22,107,21", "106,21,107,95", "nan,21,107,22", "1,2,3,4,5"]
)
def test_malformed_bbox_is_a_400_naming_it(api, bbox):
    response = api.get("/ogc/collections/schools/items", {"bbox": bbox})
    assert response.status_code == 400
    assert set(response.json()) == {"bbox"}


def test_only_crs84_is_accepted(api):
    ok = api.get("/ogc/collections/schools/items", {"bbox-crs": CRS84, "bbox": "106,21,107,22"})
    assert ok.status_code == 200
    bad = api.get("/ogc/collections/schools/items", {"bbox-crs": "EPSG:3857", "crs": "EPSG:9210"})
    assert bad.status_code == 400 and set(bad.json()) == {"bbox-crs", "crs"}


# --- items: datetime and property filters -------------------------------------------


def school_dates() -> dict[int, dt.date]:
    rows = Feature.objects.filter(layer__slug="schools").values_list("id", "properties")
    return {pk: dt.date.fromisoformat(p["opened_on"]) for pk, p in rows}


@pytest.mark.parametrize(
    "value,keep",
    [
        ("1990-01-01/1999-12-31", lambda d: dt.date(1990, 1, 1) <= d <= dt.date(1999, 12, 31)),
        ("../1970-06-30", lambda d: d <= dt.date(1970, 6, 30)),
        ("2010-01-01/..", lambda d: d >= dt.date(2010, 1, 1)),
        ("2010-01-01T00:00:00Z/2012-01-01T00:00:00+07:00", lambda d: dt.date(2010, 1, 1) <= d <= dt.date(2012, 1, 1)),
        ("../..", lambda d: True),
    ],
)
def test_datetime_interval_on_the_time_field(api, value, keep):
    truth = {pk for pk, day in school_dates().items() if keep(day)}
    response = api.get("/ogc/collections/schools/items", {"datetime": value, "limit": 10000})
    assert response.status_code == 200, response.content
    assert {f["id"] for f in response.json()["features"]} == truth


def test_datetime_instant_matches_that_day(api):
    dates = school_dates()
    day = sorted(dates.values())[len(dates) // 2]
    truth = {pk for pk, d in dates.items() if d == day}
    doc = api.get("/ogc/collections/schools/items", {"datetime": day.isoformat()}).json()
    assert {f["id"] for f in doc["features"]} == truth and truth


def test_datetime_on_a_datetime_field(api, small_layer):
    # seen = 2024-01-(n+1) 08:00 +07:00, i.e. 01:00 UTC that day
    doc = api.get(
        "/ogc/collections/ogc-small/items", {"datetime": "2024-01-03T00:00:00Z/2024-01-05T01:00:00Z", "limit": 100}
    ).json()
    assert sorted(f["properties"]["n"] for f in doc["features"]) == [2, 3, 4]
    day = api.get("/ogc/collections/ogc-small/items", {"datetime": "2024-01-10"}).json()
    assert [f["properties"]["n"] for f in day["features"]] == [9]


def test_datetime_on_a_layer_without_time_selects_nothing(api):
    doc = api.get("/ogc/collections/hospitals/items", {"datetime": "2020-01-01/.."}).json()
    assert doc["numberReturned"] == 0 and doc["features"] == []


@pytest.mark.parametrize("value", ["yesterday", "2020-13-01", "2020-01-01/2019-01-01", "2020/01/01", "1/2/3"])
def test_malformed_datetime_is_a_400_naming_it(api, value):
    response = api.get("/ogc/collections/schools/items", {"datetime": value})
    assert response.status_code == 400
    assert set(response.json()) == {"datetime"}


def test_property_filters_by_schema_type(api):
    rows = dict(Feature.objects.filter(layer__slug="schools").values_list("id", "properties"))
    for params, keep in [
        ({"level": "THCS"}, lambda p: p["level"] == "THCS"),
        ({"public": "false"}, lambda p: p["public"] is False),
        ({"level": "Tiểu học", "public": "true"}, lambda p: p["level"] == "Tiểu học" and p["public"]),
        ({"commune_code": "07210"}, lambda p: p["commune_code"] == "07210"),
    ]:
        truth = {pk for pk, p in rows.items() if keep(p)}
        doc = api.get("/ogc/collections/schools/items", {**params, "limit": 10000}).json()
        assert {f["id"] for f in doc["features"]} == truth and truth, params
    some = next(iter(rows.values()))
    doc = api.get("/ogc/collections/schools/items", {"pupils": some["pupils"], "limit": 10000}).json()
    assert {f["id"] for f in doc["features"]} == {pk for pk, p in rows.items() if p["pupils"] == some["pupils"]}


def test_bad_filters_are_400s_naming_each_parameter(api):
    response = api.get(
        "/ogc/collections/schools/items",
        {"pupils": "many", "public": "maybe", "opened_on": "1990-02-30", "color": "red"},
    )
    assert response.status_code == 400
    assert set(response.json()) == {"pupils", "public", "opened_on", "color"}


# --- single items -------------------------------------------------------------------


def test_item_is_served_only_from_its_own_collection(api):
    school = Feature.objects.filter(layer__slug="schools").order_by("id").first()
    response = api.get(f"/ogc/collections/schools/items/{school.pk}")
    assert response.status_code == 200
    assert response["Content-Type"] == GEOJSON
    doc = response.json()
    assert doc["id"] == school.pk and doc["properties"] == school.properties
    assert shapely.geometry.shape(doc["geometry"]).equals_exact(shapely.from_wkb(bytes(school.geom.wkb)), 1e-7)
    assert link(doc, "collection")
    for path in (
        f"/ogc/collections/hospitals/items/{school.pk}",
        "/ogc/collections/schools/items/abc",
        "/ogc/collections/schools/items/99999999999999999999999",
        "/ogc/collections/schools/items/0",
    ):
        missing = api.get(path)
        assert missing.status_code == 404, path
        assert missing["Content-Type"] == "application/json"


def test_schema_describes_every_field_with_its_type(api):
    response = api.get("/ogc/collections/schools/schema")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/schema+json"
    fields = response.json()["properties"]["properties"]["properties"]
    assert fields["pupils"]["type"] == "integer"
    assert fields["opened_on"] == {"type": "string", "format": "date", "title": fields["opened_on"]["title"]}


# --- HTML encoding ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/ogc/?f=html",
        "/ogc/conformance?f=html",
        "/ogc/collections?f=html",
        "/ogc/collections/schools?f=html",
        "/ogc/collections/schools/items?f=html&limit=20",
        "/ogc/api?f=html",
    ],
)
def test_html_pages_render_with_local_assets(api, path):
    response = api.get(path)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "<html" in html
    for cdn in ("unpkg.com", "cdn.jsdelivr", "cdnjs", "googleapis"):
        assert cdn not in html


def test_items_html_shows_a_leaflet_map_of_the_page(api):
    html = api.get("/ogc/collections/hospitals/items?f=html").content.decode()
    assert "/static/vendor/leaflet/leaflet.js" in html and 'id="ogc-map"' in html
    assert "OpenStreetMap" in html
    data = html.split('id="ogc-geojson"', 1)[1].split(">", 1)[1].split("</script>", 1)[0]
    assert len(json.loads(data)["features"]) == Feature.objects.filter(layer__slug="hospitals").count()


def test_accept_header_chooses_html_for_browsers_and_json_otherwise(api):
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    assert api.get("/ogc/collections", HTTP_ACCEPT=browser)["Content-Type"].startswith("text/html")
    assert api.get("/ogc/collections", HTTP_ACCEPT="application/json")["Content-Type"] == "application/json"
    assert api.get("/ogc/collections", HTTP_ACCEPT="*/*")["Content-Type"] == "application/json"
    items = api.get("/ogc/collections/schools/items/", HTTP_ACCEPT="application/geo+json, application/json")
    assert items["Content-Type"] == GEOJSON
    # f wins over Accept
    assert api.get("/ogc/collections?f=json", HTTP_ACCEPT=browser)["Content-Type"] == "application/json"
    assert api.get("/ogc/collections?f=xml").status_code == 400


def test_items_page_costs_a_fixed_number_of_queries(api, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        assert api.get("/ogc/collections/schools/items", {"limit": 1000, "bbox": "106,21,107,22"}).status_code == 200


@override_settings(PUBLIC_LOOKUP_RATE="2/min")
def test_ogc_rate_is_ten_look_ups_per_client(api):
    cache.clear()
    statuses = [api.get("/ogc/collections/schools/items", {"limit": 1}).status_code for _ in range(21)]
    assert statuses == [200] * 20 + [429]
    assert api.get("/ogc/collections", REMOTE_ADDR="10.9.8.7").status_code == 200
    cache.clear()


# --- hostile input ------------------------------------------------------------------------

values = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="0123456789.,-+/:TZe. ", max_size=40),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["..", "../..", "2020-01-01/..", "106,21,107,22", "1e308,1,2,3", "true", "0"]),
)
NAMES = ["limit", "offset", "bbox", "datetime", "f", "level", "pupils", "public", "opened_on", "bbox-crs"]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_query_string_causes_a_server_error(api, data):
    chosen = data.draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=5))
    params = {name: data.draw(values) for name in chosen}
    response = api.get("/ogc/collections/schools/items", params)
    assert response.status_code in (200, 400), (params, response.content[:300])
    if response.status_code == 400:
        assert set(response.json()) <= set(params), (params, response.json())


# --- items: the page written by PostgreSQL ---------------------------------------------


def _expected_features(slug: str, ids: list[int]) -> list[dict]:
    """The features as they are stored, read through the ORM and shapely."""
    geometries = db_geometries(slug)
    properties = dict(Feature.objects.filter(pk__in=ids).values_list("pk", "properties"))
    return [{"id": pk, "geometry": geometries[pk], "properties": properties[pk]} for pk in ids]


def _assert_same_features(got: list[dict], expected: list[dict]) -> None:
    assert [f["id"] for f in got] == [f["id"] for f in expected]
    for feature, truth in zip(got, expected, strict=True):
        assert list(feature) == ["type", "id", "geometry", "properties"]
        assert feature["type"] == "Feature"
        assert feature["properties"] == truth["properties"]
        # 7 decimals (about 1 cm): within a unit of the last one (half of it, and float rounding).
        assert shapely.equals_exact(shapely.geometry.shape(feature["geometry"]), truth["geometry"], 1e-7)


@pytest.mark.parametrize("offset", [0, 3])
def test_items_page_from_sql_equals_the_stored_rows_counted_or_cached(api, offset):
    """A filtered full page: the first request counts the matches in the same
    statement as the page, the second finds the count cached; both answer the
    same document, equal field for field to the rows read independently."""
    cache.clear()
    bbox = (106.0, 21.05, 106.3, 21.3)
    truth = sorted(ids_intersecting("schools", shapely.box(*bbox)))
    assert len(truth) > offset + 7, "the page must be full for the count to be needed"
    params = {"bbox": ",".join(map(str, bbox)), "limit": 7, "offset": offset}
    first = api.get("/ogc/collections/schools/items", params)
    second = api.get("/ogc/collections/schools/items", params)
    assert first.status_code == second.status_code == 200
    one, two = first.json(), second.json()
    assert one["numberMatched"] == two["numberMatched"] == len(truth)
    assert one["numberReturned"] == two["numberReturned"] == 7
    assert one["features"] == two["features"]
    assert [item["rel"] for item in one["links"]] == [item["rel"] for item in two["links"]]
    _assert_same_features(one["features"], _expected_features("schools", truth[offset : offset + 7]))
    assert (link(one, "prev") is not None) == (offset > 0)
    assert link(one, "next") is not None


def test_items_over_the_count_cap_leave_number_matched_out(official):
    """More than COUNT_CAP matches: no numberMatched, on the first page (counted
    in the page's statement) and the next (the cap remembered), and the pages
    are still the first ids in order."""
    ogc.over_cap.clear()
    total = Feature.objects.filter(layer__slug="land-parcels").count()
    assert total > 10_000
    everything = "105,20,108,23"
    truth = sorted(ids_intersecting("land-parcels", shapely.box(105, 20, 108, 23)))
    assert len(truth) > 10_000
    first = official.get("/ogc/collections/land-parcels/items", {"bbox": everything, "limit": 5}).json()
    assert "numberMatched" not in first and first["numberReturned"] == 5
    assert len(ogc.over_cap._keys) == 1  # remembered: the next page skips the count
    _assert_same_features(first["features"], _expected_features("land-parcels", truth[:5]))
    following = official.get(path_of(link(first, "next")["href"])).json()
    assert "numberMatched" not in following
    _assert_same_features(following["features"], _expected_features("land-parcels", truth[5:10]))


def test_items_past_the_end_count_the_matches(api):
    """An offset beyond the last match: nothing returned, numberMatched still
    exact, no next link (the rule for an empty page after the first)."""
    cache.clear()
    bbox = (106.0, 21.05, 106.3, 21.3)
    truth = ids_intersecting("schools", shapely.box(*bbox))
    doc = api.get(
        "/ogc/collections/schools/items", {"bbox": ",".join(map(str, bbox)), "limit": 5, "offset": len(truth) + 10}
    ).json()
    assert doc["numberReturned"] == 0 and doc["features"] == []
    assert doc["numberMatched"] == len(truth)
    assert link(doc, "next") is None
