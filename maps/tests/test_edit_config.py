"""The map page tells its script which registry layers the visitor may edit
(and gives it what it needs to call the API: the CSRF token and the
features URL), only for visitors who may: anonymous visitors, citizens and
officials of other agencies get no editor; officials of the owning agency,
named editors and administrators do. The editor itself is tested in a real
browser in tests/test_browser_edit.py."""

import json
import re

import pytest
from django.conf import settings
from django.test import Client

from gisportal.accounts.models import Agency
from layers.models import Feature, FeatureChange, Layer
from layers.registries.services import layer_create_or_update, layer_touch

pytestmark = pytest.mark.django_db

SCHEMA = [
    {"name": "name", "type": "string", "title": "Tên / Name", "required": True},
    {"name": "beds", "type": "integer", "title": "Số giường / Beds"},
]


def _config(html: str) -> dict:
    match = re.search(r'<script id="map-config" type="application/json">(.*?)</script>', html, re.S)
    assert match
    return json.loads(match.group(1))


def _layer(slug: str, *, owner: str, visibility: str) -> Layer:
    layer = layer_create_or_update(
        slug=slug,
        title=f"Lớp {slug} / Layer {slug}",
        owner=Agency.objects.get(code=owner),
        geometry_type="Point",
        schema=SCHEMA,
        visibility=visibility,
    )
    Feature.objects.create(layer=layer, geom="SRID=4326;POINT(106.07 21.18)", properties={"name": slug})
    layer_touch(layer)
    return layer


@pytest.fixture
def layers(db) -> dict[str, Layer]:
    return {
        "public": _layer("ec-yte-public", owner="so-y-te", visibility="public"),
        "internal": _layer("ec-yte-internal", owner="so-y-te", visibility="internal"),
    }


def _editable(config: dict) -> set[str]:
    return {layer["slug"] for layer in config["registries"] if layer["editable"]}


def _page(client: Client, path: str = "/map/") -> tuple[dict, str]:
    response = client.get(path)
    assert response.status_code == 200
    return _config(response.content.decode()), response.content.decode()


def test_anonymous_visitors_get_no_editor(client, layers, django_assert_num_queries):
    with django_assert_num_queries(1):  # the visible layers; no edit rights looked up
        config, html = _page(client)
    assert "ec-yte-public" in {layer["slug"] for layer in config["registries"]}
    assert _editable(config) == set()
    assert config["editing"] is None
    assert all(layer["featuresApi"] is None for layer in config["registries"])
    assert 'id="edit-help"' not in html


@pytest.mark.parametrize(
    "role, agency",
    [("citizen", None), ("processing_officer", "so-gddt"), ("leader", "so-nnmt")],
)
def test_visitors_who_may_not_edit_these_layers_get_no_editor_for_them(client, make_user, layers, role, agency):
    client.force_login(make_user(f"ec-{role}-{agency}", role=role, agency=agency))
    config, html = _page(client)
    editable = _editable(config)
    assert not editable & {"ec-yte-public", "ec-yte-internal"}
    # Their own agency's layers, and nothing else.
    assert editable == set(Layer.objects.filter(owner__code=agency).values_list("slug", flat=True))
    if not editable:
        assert config["editing"] is None
        assert 'id="edit-help"' not in html


@pytest.mark.parametrize("role", ["desk_officer", "processing_officer", "leader"])
def test_officials_of_the_owning_agency_may_edit(client, make_user, layers, role):
    client.force_login(make_user(f"ec-yte-{role}", role=role, agency="so-y-te"))
    response = client.get("/map/?layers=ec-yte-internal")
    config, html = _config(response.content.decode()), response.content.decode()
    assert _editable(config) == set(Layer.objects.filter(owner__code="so-y-te").values_list("slug", flat=True))
    assert {"ec-yte-public", "ec-yte-internal"} <= _editable(config)
    entry = next(layer for layer in config["registries"] if layer["slug"] == "ec-yte-internal")
    assert entry["featuresApi"] == "/api/v1/layers/ec-yte-internal/features/"
    assert entry["fields"] == [
        {"name": "name", "label": "Tên", "type": "string", "required": True},
        {"name": "beds", "label": "Số giường", "type": "integer"},
    ]
    editing = config["editing"]
    assert editing["csrfCookieName"] == settings.CSRF_COOKIE_NAME
    assert editing["csrfToken"]
    assert editing["strings"]["edit"] == "Sửa" and editing["strings"]["addPoint"] == "Thêm điểm"
    # The page sets the cookie the script reads the token from.
    assert response.cookies[settings.CSRF_COOKIE_NAME].value
    assert 'id="edit-help"' in html and 'data-editable="ec-yte-internal"' in html
    assert "Thêm điểm" in html  # the hint mentions the toolbar: there are point layers


def test_administrators_may_edit_every_layer(client, make_user, layers):
    client.force_login(make_user("ec-admin", role="administrator"))
    config, _ = _page(client)
    assert _editable(config) == set(Layer.objects.values_list("slug", flat=True))
    assert config["editing"] is not None


def test_a_named_editor_may_edit_that_layer_only(client, make_user, layers):
    user = make_user("ec-named", role="citizen")
    layers["public"].editors.add(user)
    client.force_login(user)
    config, _ = _page(client)
    assert _editable(config) == {"ec-yte-public"}


def test_editor_texts_follow_the_language(client, make_user, layers):
    client.force_login(make_user("ec-lang", role="processing_officer", agency="so-y-te"))
    client.cookies["django_language"] = "en"
    config, html = _page(client)
    strings = config["editing"]["strings"]
    assert (strings["edit"], strings["move"], strings["delete"], strings["addPoint"]) == (
        "Edit",
        "Move",
        "Delete",
        "Add point",
    )
    assert "Editing registries" in html


def test_the_token_in_the_page_lets_the_script_call_the_api(make_user, layers):
    """The session plus the page's CSRF token is what the browser sends; the
    API accepts it, and refuses the same call without the token."""
    client = Client(enforce_csrf_checks=True)
    user = make_user("ec-csrf", role="processing_officer", agency="so-y-te")
    client.force_login(user)
    config, _ = _page(client, "/map/")
    url = next(layer for layer in config["registries"] if layer["slug"] == "ec-yte-internal")["featuresApi"]
    body = json.dumps(
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [106.08, 21.19]}, "properties": {"name": "x"}}
    )
    refused = client.post(url, body, content_type="application/json")
    assert refused.status_code == 403
    assert not Feature.objects.filter(layer=layers["internal"], properties__name="x").exists()

    created = client.post(url, body, content_type="application/json", HTTP_X_CSRFTOKEN=config["editing"]["csrfToken"])
    assert created.status_code == 201, created.content
    feature = Feature.objects.get(layer=layers["internal"], properties__name="x")
    assert FeatureChange.objects.get(layer=layers["internal"], feature_id=feature.pk).user == user
