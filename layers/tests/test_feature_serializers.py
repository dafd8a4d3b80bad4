"""The feature edit APIs parse their GeoJSON with djangorestframework-gis
(layers/registries/serializers.py): a valid geometry is stored as sent and
answered in the same Feature shape as before; a bad one is a 400 naming
`geometry` in Vietnamese and English, and nothing changes; a caller who may
not edit gets 403 whatever the body."""

import pytest
import shapely
from shapely.geometry import mapping, shape

from layers.models import Feature, FeatureChange, GeometryType
from layers.registries.serializers import FeatureDocumentSerializer, FeatureInputSerializer
from layers.tests.fixtures_registry import make_layer

pytestmark = pytest.mark.django_db

INSIDE = (106.07, 21.18)
BAD_GEOMETRIES = {
    "self-intersecting": {
        "type": "Polygon",
        "coordinates": [[[106.0, 21.1], [106.1, 21.2], [106.1, 21.1], [106.0, 21.2], [106.0, 21.1]]],
    },
    "unreadable": {"type": "Polygon", "coordinates": [[[106.0, 21.1], [106.1]]]},
    "not coordinates": {"type": "Polygon", "coordinates": "not coordinates"},
    "no coordinates": {"type": "Polygon"},
    "wrong type": {"type": "LineString", "coordinates": [[106.0, 21.1], [106.1, 21.2]]},
    "outside the province": {
        "type": "Polygon",
        "coordinates": [[[106.7, 10.7], [106.8, 10.7], [106.8, 10.8], [106.7, 10.7]]],
    },
    "not an object": "POLYGON((106 21, 106.1 21, 106.1 21.1, 106 21))",
}


@pytest.fixture
def parcels():
    return make_layer("drfgis-parcels", geometry_type=GeometryType.POLYGON, schema=[{"name": "name", "type": "string"}])


@pytest.fixture
def editor(make_user, client_as):
    return client_as(make_user("drfgis-editor", role="processing_officer", agency="so-y-te"))


def _square(x: float, y: float, size: float = 0.002) -> shapely.Polygon:
    return shapely.box(x, y, x + size, y + size)


def _url(layer, feature_id=None) -> str:
    base = f"/api/v1/layers/{layer.slug}/features/"
    return base if feature_id is None else f"{base}{feature_id}/"


def test_valid_geojson_is_stored_as_sent_and_answered_as_before(parcels, editor):
    square = _square(*INSIDE)
    response = editor.post(
        _url(parcels), {"type": "Feature", "geometry": mapping(square), "properties": {"name": "Thửa 1"}}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"type", "id", "geometry", "properties"}
    assert body["type"] == "Feature" and body["properties"] == {"name": "Thửa 1"}
    stored = Feature.objects.get(pk=body["id"])
    # A single polygon on a polygon layer is kept as it is; the answer is the stored geometry.
    assert shapely.equals_exact(shapely.from_wkb(bytes(stored.geom.wkb)), square, tolerance=1e-9)
    assert shapely.equals_exact(shape(body["geometry"]), square, tolerance=1e-9)
    assert FeatureChange.objects.filter(layer=parcels, feature_id=stored.pk, action="create").count() == 1

    moved = _square(INSIDE[0] + 0.01, INSIDE[1])
    response = editor.patch(_url(parcels, stored.pk), {"geometry": mapping(moved)}, format="json")
    assert response.status_code == 200, response.content
    stored.refresh_from_db()
    assert shapely.equals_exact(shapely.from_wkb(bytes(stored.geom.wkb)), moved, tolerance=1e-9)
    assert stored.properties == {"name": "Thửa 1"}  # geometry alone: properties kept


def test_a_third_dimension_is_dropped(parcels, editor):
    coordinates = [[[x, y, 12.5] for x, y in _square(*INSIDE).exterior.coords]]
    response = editor.post(_url(parcels), {"geometry": {"type": "Polygon", "coordinates": coordinates}}, format="json")
    assert response.status_code == 201, response.content
    assert not Feature.objects.get(pk=response.json()["id"]).geom.hasz


@pytest.mark.parametrize("name", list(BAD_GEOMETRIES))
def test_bad_geometry_is_a_400_naming_it_and_nothing_changes(parcels, editor, name):
    existing = editor.post(_url(parcels), {"geometry": mapping(_square(*INSIDE))}, format="json").json()
    features, changes = Feature.objects.count(), FeatureChange.objects.count()
    bad = BAD_GEOMETRIES[name]
    for response in (
        editor.post(_url(parcels), {"type": "Feature", "geometry": bad, "properties": {}}, format="json"),
        editor.patch(_url(parcels, existing["id"]), {"geometry": bad}, format="json"),
    ):
        assert response.status_code == 400, (name, response.content)
        errors = response.json()
        assert set(errors) == {"geometry"}, errors
        assert " / " in errors["geometry"][0]  # Vietnamese / English
    assert (Feature.objects.count(), FeatureChange.objects.count()) == (features, changes)
    stored = Feature.objects.get(pk=existing["id"])
    assert shapely.equals_exact(shapely.from_wkb(bytes(stored.geom.wkb)), _square(*INSIDE), tolerance=1e-9)


def test_who_may_not_edit_gets_403_whatever_the_body(parcels, make_user, client_as):
    citizen = client_as(make_user("drfgis-other", role="processing_officer", agency="so-tp"))
    before = Feature.objects.count()
    for geometry in (mapping(_square(*INSIDE)), BAD_GEOMETRIES["unreadable"]):
        response = citizen.post(_url(parcels), {"geometry": geometry}, format="json")
        assert response.status_code in (403, 404), response.content
    assert Feature.objects.count() == before


def test_the_serializers_directly(parcels):
    ok = FeatureInputSerializer(data={"geometry": mapping(_square(*INSIDE))}, layer=parcels)
    assert ok.is_valid(), ok.errors
    assert ok.validated_data["geometry"].geom_type == "Polygon" and ok.validated_data["geometry"].srid == 4326
    wrong = FeatureInputSerializer(data={"type": "Point", "geometry": BAD_GEOMETRIES["wrong type"]}, layer=parcels)
    assert not wrong.is_valid()
    assert set(wrong.errors) == {"type", "geometry"}
    missing = FeatureInputSerializer(data={}, layer=parcels)
    assert not missing.is_valid() and set(missing.errors) == {"geometry"}
    assert FeatureInputSerializer(data={"properties": {"name": "x"}}, layer=parcels, partial=True).is_valid()
    feature = Feature.objects.create(layer=parcels, geom=_square(*INSIDE).wkt, properties={"name": "y"})
    document = FeatureDocumentSerializer(Feature.objects.get(pk=feature.pk)).data
    assert document["type"] == "Feature" and document["id"] == feature.pk
    assert document["properties"] == {"name": "y"}
    assert shapely.equals_exact(shape(document["geometry"]), _square(*INSIDE), tolerance=1e-9)
