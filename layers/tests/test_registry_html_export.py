"""GET /api/v1/layers/{slug}/export/?format=html: the layer (or a selection)
as a standalone map that opens offline; every feature drawn where it is
(checked with shapely against the stored geometry), property text escaped,
the feature cap a 413 naming `bbox`, the layer's visibility unchanged."""

import html as html_module

import pytest
import shapely
from django.contrib.gis.geos import Point, Polygon

from layers.models import Feature, GeometryType, Visibility
from layers.registries import exporting
from layers.tests.fixtures_registry import make_layer, sample_points
from tests.htmlmaps import drawn_features, external_references

pytestmark = pytest.mark.django_db
HOSTILE = '<img src=x onerror="alert(1)">'


def _url(slug: str) -> str:
    return f"/api/v1/layers/{slug}/export/"


@pytest.fixture
def points_layer():
    layer = make_layer("html-points", visibility=Visibility.PUBLIC)
    layer.attribution = "© Sở Y tế Bắc Ninh"
    layer.license = "CC BY 4.0"
    layer.save(update_fields=["attribution", "license"])
    sample = sample_points(40)
    Feature.objects.bulk_create(
        Feature(layer=layer, geom=Point(g.x, g.y, srid=4326), properties={"name": f"điểm {i}", "beds": i})
        for i, g in enumerate(sample.geoms)
    )
    Feature.objects.create(layer=layer, geom=Point(106.06, 21.18, srid=4326), properties={"name": HOSTILE})
    return layer


def test_html_export_draws_every_feature_at_its_place(points_layer, api):
    response = api.get(_url(points_layer.slug), {"format": "html", "lang": "en"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="html-points.html"'
    page = response.content.decode()
    assert external_references(page) == []
    assert "Map of the layer Test html-points" in page and "Bản đồ lớp Test html-points" in page
    assert "41 features" in page  # the legend
    assert "© Sở Y tế Bắc Ninh · CC BY 4.0" in page
    drawn = {f["properties"]["id"]: shapely.geometry.shape(f["geometry"]) for f in drawn_features(page)}
    stored = {f.pk: shapely.from_wkt(f.geom.wkt) for f in Feature.objects.filter(layer=points_layer)}
    assert drawn.keys() == stored.keys()
    assert all(drawn[pk].distance(stored[pk]) < 1e-6 for pk in stored)


def test_property_text_is_escaped_not_markup(points_layer, api):
    page = api.get(_url(points_layer.slug), {"format": "html"}).content.decode()
    assert HOSTILE not in page
    names = [f["properties"]["name"] for f in drawn_features(page)]
    assert html_module.escape(HOSTILE) in names


def test_bbox_and_field_selection(points_layer, api):
    bbox = (106.0, 21.1, 106.1, 21.2)
    inside = shapely.box(*bbox)
    expected = {
        f.pk for f in Feature.objects.filter(layer=points_layer) if inside.intersects(shapely.from_wkt(f.geom.wkt))
    }
    page = api.get(_url(points_layer.slug), {"format": "html", "bbox": ",".join(map(str, bbox))}).content.decode()
    assert {f["properties"]["id"] for f in drawn_features(page)} == expected
    page = api.get(_url(points_layer.slug), {"format": "html", "beds": "3"}).content.decode()
    assert [f["properties"]["beds"] for f in drawn_features(page)] == [3]
    assert "beds=3" in page  # the selection is stated beside the date


def test_polygons_are_simplified_within_the_tolerance(api):
    layer = make_layer("html-parcels", geometry_type=GeometryType.POLYGON, visibility=Visibility.PUBLIC)
    # A ring with 400 vertices along a circle of ~1 km: the stored shape and the drawn one differ by at most the
    # tolerance (Hausdorff), and the drawn one has fewer vertices.
    circle = shapely.Point(106.07, 21.18).buffer(0.01, quad_segs=100)
    Feature.objects.create(layer=layer, geom=Polygon(list(circle.exterior.coords), srid=4326), properties={})
    page = api.get(_url(layer.slug), {"format": "html"}).content.decode()
    (drawn,) = [shapely.geometry.shape(f["geometry"]) for f in drawn_features(page)]
    assert shapely.hausdorff_distance(drawn, circle) <= exporting.SIMPLIFY_TOLERANCE_DEG + 1e-6
    assert shapely.get_num_coordinates(drawn) < shapely.get_num_coordinates(circle)


def test_too_many_features_is_a_413_naming_bbox(points_layer, api, monkeypatch):
    monkeypatch.setattr(exporting, "MAX_FEATURES", 10)
    response = api.get(_url(points_layer.slug), {"format": "html"})
    assert response.status_code == 413
    assert set(response.json()) == {"bbox"}
    text = response.json()["bbox"][0]
    assert "bbox" in text and " / " in text and "41" in text
    # The file formats have no such cap.
    assert api.get(_url(points_layer.slug), {"format": "geojson"}).status_code == 200


def test_hidden_layer_stays_hidden_and_bad_format_named(api, make_user, client_as):
    layer = make_layer("html-internal", visibility=Visibility.INTERNAL)
    assert api.get(_url(layer.slug), {"format": "html"}).status_code in (401, 404)
    citizen = client_as(make_user("html_export_citizen"))
    assert citizen.get(_url(layer.slug), {"format": "html"}).status_code == 404
    bad = client_as(make_user("html_export_officer", role="processing_officer", agency="so-y-te")).get(
        _url(layer.slug), {"format": "svg"}
    )
    assert bad.status_code == 400 and set(bad.json()) == {"format"}


def test_lang_is_a_field_filter_where_the_layer_has_one(api):
    layer = make_layer(
        "html-lang", visibility=Visibility.PUBLIC, schema=[{"name": "lang", "type": "string", "filterable": True}]
    )
    Feature.objects.create(layer=layer, geom=Point(106.06, 21.18, srid=4326), properties={"lang": "en"})
    Feature.objects.create(layer=layer, geom=Point(106.07, 21.18, srid=4326), properties={"lang": "vi"})
    page = api.get(_url(layer.slug), {"format": "html", "lang": "vi"}).content.decode()
    assert [f["properties"]["lang"] for f in drawn_features(page)] == ["vi"]
