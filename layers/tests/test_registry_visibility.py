"""Who sees and who edits registry layers, through every door: the OGC API,
the layer list, spatial questions and feature edits. A layer the caller may
not see is a 404 exactly like a missing one; a refused edit changes nothing
(no feature change, no FeatureChange row, the same layer version)."""

import pytest
import shapely

from gisportal.accounts.models import Agency
from layers.models import Feature, FeatureChange, Layer, Visibility
from layers.registries.services import layer_create_or_update, layer_touch

DEMO = {
    "hospitals": Visibility.PUBLIC,
    "schools": Visibility.PUBLIC,
    "land-parcels": Visibility.INTERNAL,
    "construction-permits": Visibility.DEPARTMENT,
}
# caller -> the demo layers they may see
CALLERS = {
    "anonymous": {"hospitals", "schools"},
    "citizen": {"hospitals", "schools"},
    "health_official": {"hospitals", "schools", "land-parcels"},
    "construction_official": {"hospitals", "schools", "land-parcels", "construction-permits"},
    "administrator": set(DEMO),
    "named_editor": {"hospitals", "schools", "construction-permits"},  # a citizen named editor of the permits
}


@pytest.fixture(autouse=True)
def _demo(db) -> None:
    """Every test here reads the demo registries that load_demo put in the
    session database (conftest.py)."""
    return None


@pytest.fixture
def caller(make_user, client_as):
    def make(kind: str):
        if kind == "anonymous":
            return client_as(None), None
        if kind == "citizen":
            user = make_user("vis-citizen")
        elif kind == "health_official":
            user = make_user("vis-yte", role="processing_officer", agency="so-y-te")
        elif kind == "construction_official":
            user = make_user("vis-xd", role="desk_officer", agency="so-xd")
        elif kind == "administrator":
            user = make_user("vis-admin", role="administrator")
        elif kind == "named_editor":
            user = make_user("vis-editor")
            Layer.objects.get(slug="construction-permits").editors.add(user)
        else:
            raise ValueError(kind)
        return client_as(user), user

    return make


@pytest.mark.parametrize("kind", sorted(CALLERS))
def test_every_door_shows_the_same_layers(caller, kind):
    client, _ = caller(kind)
    visible = CALLERS[kind]
    listed = {c["id"] for c in client.get("/ogc/collections").json()["collections"]}
    assert listed & set(DEMO) == visible
    layers = {entry["slug"] for entry in client.get("/api/v1/layers/").json()["layers"]}
    assert layers & set(DEMO) == visible
    for slug in DEMO:
        feature = Feature.objects.filter(layer__slug=slug).order_by("id").first()
        expected = 200 if slug in visible else 404
        for path in (
            f"/ogc/collections/{slug}",
            f"/ogc/collections/{slug}/items?limit=1",
            f"/ogc/collections/{slug}/items/{feature.pk}",
            f"/ogc/collections/{slug}/schema",
            f"/api/v1/layers/{slug}/features/?limit=1",
            f"/api/v1/layers/{slug}/features/{feature.pk}/",
            f"/api/v1/layers/{slug}/counts-by-commune/",
        ):
            response = client.get(path)
            assert response.status_code == expected, (kind, path, response.status_code)
        missing = client.get(f"/ogc/collections/{slug}-missing")
        hidden_or_missing = client.get(f"/ogc/collections/{slug}")
        if slug not in visible:
            assert hidden_or_missing.json() == missing.json()  # no hint that it exists


def test_hidden_layers_are_left_out_of_the_openapi_document(caller):
    client, _ = caller("health_official")
    paths = client.get("/ogc/api").json()["paths"]
    assert "/collections/land-parcels/items" in paths
    assert "/collections/construction-permits/items" not in paths


def test_token_authentication_works_for_the_ogc_api(make_user, api):
    from gisportal.accounts.services import api_token_create

    user = make_user("vis-token", role="processing_officer", agency="so-xd")
    _, token = api_token_create(user=user)
    assert api.get("/ogc/collections/construction-permits").status_code == 404
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/ogc/collections/construction-permits").status_code == 200


# --- edits ------------------------------------------------------------------------------

SCHEMA = [
    {"name": "name", "type": "string", "required": True},
    {"name": "beds", "type": "integer"},
    {"name": "rating", "type": "number"},
    {"name": "open", "type": "boolean"},
    {"name": "opened_on", "type": "date"},
    {"name": "checked_at", "type": "datetime"},
]
INSIDE = {"type": "Point", "coordinates": [106.07, 21.18]}


def make_layer(slug: str, visibility: str, *, geometry_type: str = "Point") -> Layer:
    layer = layer_create_or_update(
        slug=slug,
        title=slug,
        owner=Agency.objects.get(code="so-y-te"),
        geometry_type=geometry_type,
        schema=SCHEMA,
        visibility=visibility,
    )
    Feature.objects.create(layer=layer, geom="POINT(106.05 21.15)", properties={"name": "Trạm y tế A", "beds": 5})
    layer_touch(layer)
    return layer


def state(layer: Layer) -> tuple:
    layer.refresh_from_db()
    features = sorted((f.pk, f.geom.wkt, sorted(f.properties.items())) for f in layer.features.all())
    return layer.version, layer.feature_count, features, FeatureChange.objects.filter(layer=layer).count()


EDIT_CASES = [
    # caller, layer visibility, expected status of a write
    ("anonymous", Visibility.PUBLIC, 401),
    ("anonymous", Visibility.INTERNAL, 401),
    ("citizen", Visibility.PUBLIC, 403),
    ("citizen", Visibility.INTERNAL, 404),
    ("construction_official", Visibility.INTERNAL, 403),  # sees it, another agency's
    ("construction_official", Visibility.DEPARTMENT, 404),  # may not even see it
    ("health_official", Visibility.DEPARTMENT, None),  # the owning agency
    ("administrator", Visibility.DEPARTMENT, None),
]


@pytest.mark.parametrize("kind,visibility,refused", EDIT_CASES)
def test_edit_access_matrix(caller, kind, visibility, refused):
    layer = make_layer("vis-edit", visibility)
    client, user = caller(kind)
    feature = layer.features.get()
    before = state(layer)
    attempts = [
        (
            "post",
            "/api/v1/layers/vis-edit/features/",
            {"type": "Feature", "geometry": INSIDE, "properties": {"name": "B"}},
        ),
        ("patch", f"/api/v1/layers/vis-edit/features/{feature.pk}/", {"properties": {"beds": 9}}),
        ("delete", f"/api/v1/layers/vis-edit/features/{feature.pk}/", None),
    ]
    if refused:
        for method, path, body in attempts:
            response = getattr(client, method)(path, body, format="json")
            assert response.status_code == refused, (method, response.content)
            assert " / " in response.json()["detail"]
        assert state(layer) == before
        return

    created = client.post(attempts[0][1], attempts[0][2], format="json")
    assert created.status_code == 201, created.content
    new_id = created.json()["id"]
    assert created["Location"].endswith(f"/api/v1/layers/vis-edit/features/{new_id}/")
    patched = client.patch(attempts[1][1], attempts[1][2], format="json")
    assert patched.status_code == 200 and patched.json()["properties"] == {"name": "Trạm y tế A", "beds": 9}
    assert client.delete(attempts[2][1]).status_code == 204
    layer.refresh_from_db()
    assert layer.version == before[0] + 3
    assert list(layer.features.values_list("id", flat=True)) == [new_id]
    assert layer.feature_count == 1
    changes = list(FeatureChange.objects.filter(layer=layer).order_by("id"))
    assert [c.action for c in changes] == ["create", "update", "delete"]
    assert all(c.user_id == user.pk for c in changes)
    create, update, delete = changes
    assert create.feature_id == new_id and create.before is None
    assert create.after["properties"] == {"name": "B"} and create.after["geometry"]["coordinates"] == [106.07, 21.18]
    assert update.before["properties"] == {"name": "Trạm y tế A", "beds": 5}
    assert update.after["properties"] == {"name": "Trạm y tế A", "beds": 9}
    assert delete.feature_id == feature.pk and delete.after is None
    assert delete.before["geometry"]["coordinates"] == [106.05, 21.15]


def test_named_editor_may_edit_without_being_an_official(caller):
    layer = make_layer("vis-named", Visibility.DEPARTMENT)
    client, user = caller("citizen")
    body = {"type": "Feature", "geometry": INSIDE, "properties": {"name": "C"}}
    assert client.post("/api/v1/layers/vis-named/features/", body, format="json").status_code == 404
    layer.editors.add(user)
    assert client.post("/api/v1/layers/vis-named/features/", body, format="json").status_code == 201


@pytest.mark.parametrize(
    "body,field",
    [
        (
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [[[106, 21], [106.1, 21], [106, 21.1], [106, 21]]]},
                "properties": {"name": "x"},
            },
            "geometry",
        ),
        (
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [105.85, 10.8]},
                "properties": {"name": "x"},
            },
            "geometry",
        ),
        (
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [106.07]}, "properties": {"name": "x"}},
            "geometry",
        ),
        (
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [106.07, 95]},
                "properties": {"name": "x"},
            },
            "geometry",
        ),
        ({"type": "Feature", "properties": {"name": "x"}}, "geometry"),
        ({"type": "Feature", "geometry": INSIDE, "properties": {"name": "x", "beds": "many"}}, "beds"),
        ({"type": "Feature", "geometry": INSIDE, "properties": {"name": "x", "beds": 2.5}}, "beds"),
        ({"type": "Feature", "geometry": INSIDE, "properties": {"name": "x", "beds": True}}, "beds"),
        ({"type": "Feature", "geometry": INSIDE, "properties": {"name": "x", "rating": "NaN"}}, "rating"),
        ({"type": "Feature", "geometry": INSIDE, "properties": {"name": "x", "open": "yes"}}, "open"),
        ({"type": "Feature", "geometry": INSIDE, "properties": {"name": "x", "opened_on": "2020-02-30"}}, "opened_on"),
        ({"type": "Feature", "geometry": INSIDE, "properties": {"name": "x", "checked_at": "soon"}}, "checked_at"),
        ({"type": "Feature", "geometry": INSIDE, "properties": {"name": "x", "colour": "red"}}, "colour"),
        ({"type": "Feature", "geometry": INSIDE, "properties": {"name": "nul\x00"}}, "name"),
        ({"type": "Feature", "geometry": INSIDE, "properties": {"beds": 3}}, "name"),  # required
        ({"type": "Feature", "geometry": INSIDE, "properties": ["name"]}, "properties"),
        ({"type": "FeatureCollection", "features": []}, "type"),
    ],
)
def test_bad_feature_is_a_400_naming_the_field_and_changes_nothing(caller, body, field):
    layer = make_layer("vis-bad", Visibility.INTERNAL)
    client, _ = caller("health_official")
    before = state(layer)
    response = client.post("/api/v1/layers/vis-bad/features/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert state(layer) == before


def test_bad_update_changes_nothing(caller):
    layer = make_layer("vis-bad-update", Visibility.INTERNAL)
    client, _ = caller("health_official")
    feature = layer.features.get()
    before = state(layer)
    for body, field in [
        ({"properties": {"name": None}}, "name"),  # removing a required value
        ({"properties": {"beds": "x"}}, "beds"),
        ({"geometry": {"type": "LineString", "coordinates": [[106, 21], [106.1, 21.1]]}}, "geometry"),
        ({}, "properties"),
    ]:
        response = client.patch(f"/api/v1/layers/vis-bad-update/features/{feature.pk}/", body, format="json")
        assert response.status_code == 400 and field in response.json(), (body, response.content)
    missing = client.patch("/api/v1/layers/vis-bad-update/features/999999999/", {"properties": {}}, format="json")
    assert missing.status_code == 404
    assert client.delete("/api/v1/layers/vis-bad-update/features/999999999/").status_code == 404
    assert state(layer) == before


def test_feature_of_another_layer_cannot_be_edited_through_this_one(caller):
    make_layer("vis-a", Visibility.INTERNAL)
    other = make_layer("vis-b", Visibility.INTERNAL)
    client, _ = caller("health_official")
    foreign = other.features.get()
    before = state(other)
    assert (
        client.patch(
            f"/api/v1/layers/vis-a/features/{foreign.pk}/", {"properties": {"beds": 1}}, format="json"
        ).status_code
        == 404
    )
    assert client.delete(f"/api/v1/layers/vis-a/features/{foreign.pk}/").status_code == 404
    assert client.get(f"/api/v1/layers/vis-a/features/{foreign.pk}/").status_code == 404
    assert state(other) == before


def test_multipolygon_layer_takes_a_polygon_and_stores_one_part(caller):
    layer = layer_create_or_update(
        slug="vis-multi",
        title="multi",
        owner=Agency.objects.get(code="so-y-te"),
        geometry_type="MultiPolygon",
        schema=[{"name": "name", "type": "string"}],
        visibility=Visibility.INTERNAL,
    )
    client, _ = caller("health_official")
    square = shapely.box(106.05, 21.15, 106.06, 21.16)
    response = client.post(
        "/api/v1/layers/vis-multi/features/",
        {"type": "Feature", "geometry": shapely.geometry.mapping(square), "properties": {"name": "a"}},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["geometry"]["type"] == "MultiPolygon"
    stored = layer.features.get()
    assert shapely.from_wkb(bytes(stored.geom.wkb)).equals(square)
    layer.refresh_from_db()
    assert layer.extent is not None and layer.feature_count == 1


def test_edits_show_in_the_ogc_api_at_once(caller):
    make_layer("vis-live", Visibility.PUBLIC)
    client, _ = caller("health_official")
    before = client.get("/ogc/collections/vis-live/items").json()["numberMatched"]
    body = {"type": "Feature", "geometry": INSIDE, "properties": {"name": "mới", "opened_on": "2024-05-01"}}
    created = client.post("/api/v1/layers/vis-live/features/", body, format="json").json()
    page = client.get("/ogc/collections/vis-live/items").json()
    assert page["numberMatched"] == before + 1
    assert created["id"] in {f["id"] for f in page["features"]}
