"""Registry layers on the map page (which ones each visitor gets, which are
switched on by the address) and the upload page (who may use it, which
layers it offers). The browser side is in tests/test_browser_registries.py."""

import json
import re

import pytest

from gisportal.accounts.models import Agency
from layers.models import Feature, Layer
from layers.registries.services import layer_create_or_update, layer_touch

pytestmark = pytest.mark.django_db


def _config(html: str, block: str = "map-config") -> dict:
    match = re.search(rf'<script id="{block}" type="application/json">(.*?)</script>', html, re.S)
    assert match, block
    return json.loads(match.group(1))


def _layer(slug: str, *, owner: str, visibility: str, points: list[tuple[float, float]] = ()) -> Layer:
    layer = layer_create_or_update(
        slug=slug,
        title=f"Lớp {slug} / Layer {slug}",
        owner=Agency.objects.get(code=owner),
        geometry_type="Point",
        schema=[{"name": "name", "type": "string", "title": "Tên / Name"}],
        visibility=visibility,
        attribution="© OpenStreetMap contributors (ODbL)",
    )
    for lon, lat in points:
        Feature.objects.create(layer=layer, geom=f"SRID=4326;POINT({lon} {lat})", properties={"name": slug})
    layer_touch(layer)
    return layer


@pytest.fixture
def layers(db) -> dict[str, Layer]:
    return {
        "yte-internal": _layer(
            "pg-yte-internal", owner="so-y-te", visibility="internal", points=[(106.05, 21.17), (106.09, 21.2)]
        ),
        "gddt-public": _layer(
            "pg-gddt-public", owner="so-gddt", visibility="public", points=[(106.1, 21.1), (106.2, 21.3)]
        ),
        "gddt-department": _layer("pg-gddt-department", owner="so-gddt", visibility="department"),
    }


def _options(html: str) -> set[str]:
    return set(re.findall(r'<option value="([^"]+)" data-import-url=', html))


def test_map_page_offers_only_the_layers_the_visitor_may_see(client, layers, django_assert_num_queries):
    with django_assert_num_queries(1):  # the visible layers, nothing per layer
        html = client.get("/map/").content.decode()
    config = _config(html)
    slugs = {layer["slug"] for layer in config["registries"]}
    public = set(Layer.objects.filter(visibility="public").values_list("slug", flat=True))
    assert slugs == public
    assert "pg-gddt-public" in slugs and "pg-yte-internal" not in slugs
    entry = next(layer for layer in config["registries"] if layer["slug"] == "pg-gddt-public")
    assert entry["title"] == "Lớp pg-gddt-public"  # the Vietnamese half
    assert entry["tiles"] == "/tiles/pg-gddt-public/{z}/{x}/{y}.pbf"
    assert entry["attribution"] == "© OpenStreetMap contributors (ODbL)"
    assert entry["fields"] == [{"name": "name", "label": "Tên", "type": "string"}]
    assert entry["bounds"] == [[21.1, 106.1], [21.3, 106.2]]
    # Nothing is switched on unless asked for.
    assert config["shownRegistries"] == [] and config["focusBounds"] is None
    assert "/static/vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js" in html


def test_map_address_switches_layers_on_and_frames_them(client, make_user, layers):
    asked = "/map/?layers=pg-gddt-public,pg-yte-internal,no-such-layer"
    anonymous = _config(client.get(asked).content.decode())
    # An internal layer asked for by an anonymous visitor stays unknown.
    assert anonymous["shownRegistries"] == ["pg-gddt-public"]
    assert anonymous["focusBounds"] == [[21.1, 106.1], [21.3, 106.2]]

    client.force_login(make_user("pg-official", role="desk_officer", agency="so-gddt"))
    official = _config(client.get(asked).content.decode())
    assert set(official["shownRegistries"]) == {"pg-gddt-public", "pg-yte-internal"}
    assert official["focusBounds"] == [[21.1, 106.05], [21.3, 106.2]]
    assert "pg-gddt-department" in {layer["slug"] for layer in official["registries"]}


def test_map_page_in_english_uses_the_english_halves(client, layers):
    client.cookies["django_language"] = "en"
    config = _config(client.get("/map/").content.decode())
    entry = next(layer for layer in config["registries"] if layer["slug"] == "pg-gddt-public")
    assert entry["title"] == "Layer pg-gddt-public"
    assert entry["fields"][0]["label"] == "Name"


def test_upload_page_needs_a_signed_in_user(client):
    response = client.get("/registries/upload/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/registries/upload/"


@pytest.mark.parametrize(
    "role, agency, editor_of, expected",
    [
        # Officials of the owning agency, plus layers naming them as editors.
        ("processing_officer", "so-y-te", None, lambda layer: layer.owner.code == "so-y-te"),
        ("desk_officer", "so-gddt", None, lambda layer: layer.owner.code == "so-gddt"),
        ("citizen", None, "pg-gddt-department", lambda layer: layer.slug == "pg-gddt-department"),
        ("citizen", None, None, lambda layer: False),
        ("administrator", None, None, lambda layer: True),
    ],
)
def test_upload_page_offers_the_layers_the_user_may_edit(client, make_user, layers, role, agency, editor_of, expected):
    user = make_user(f"pg-{role}-{agency}", role=role, agency=agency)
    if editor_of:
        Layer.objects.get(slug=editor_of).editors.add(user)
    client.force_login(user)
    response = client.get("/registries/upload/")
    assert response.status_code == 200
    html = response.content.decode()
    offered = _options(html)
    assert offered == {layer.slug for layer in Layer.objects.select_related("owner") if expected(layer)}
    if offered:
        assert 'id="import-progress"' in html and 'id="import-status"' in html
        assert 'data-import-url="/api/v1/layers/' in html
        assert _config(html, "upload-config")["pollMs"] == 500
    else:
        assert 'id="no-layers"' in html and 'id="upload-form"' not in html


def test_upload_page_speaks_vietnamese_and_english(client, make_user, layers):
    client.force_login(make_user("pg-lang", role="processing_officer", agency="so-y-te"))
    html = client.get("/registries/upload/").content.decode()
    assert "Tải tệp lên lớp dữ liệu chuyên ngành" in html
    assert _config(html, "upload-config")["strings"]["queued"] == "Đang chờ bắt đầu nhập…"
    client.cookies["django_language"] = "en"
    html = client.get("/registries/upload/").content.decode()
    assert "Upload a file into a registry layer" in html
    assert _config(html, "upload-config")["strings"]["queued"] == "Waiting for the import to start…"


# --- the page kept for visitors who are not signed in (maps.views._anonymous_page) ---

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def _masked(html: str) -> str:
    return TOKEN.sub('name="csrfmiddlewaretoken" value="..."', html)


@pytest.mark.parametrize("path", ["/", "/map/", "/map/?layers=pg-gddt-public", "/map/?near=106.07,21.18"])
@pytest.mark.parametrize("language", ["vi", "en"])
def test_the_kept_page_is_the_page_rendered_afresh(client, layers, monkeypatch, path, language):
    from django.shortcuts import render

    from maps import views

    client.cookies["django_language"] = language
    views._forget_pages()
    first, kept = client.get(path), client.get(path)
    # The same view without keeping anything: Django renders the template for this request.
    monkeypatch.setattr(views, "_anonymous_page", lambda request, context: render(request, "maps/map.html", context))
    fresh = client.get(path)
    assert first.status_code == kept.status_code == fresh.status_code == 200
    assert _masked(first.content.decode()) == _masked(kept.content.decode()) == _masked(fresh.content.decode())
    assert "csrf-placeholder" not in kept.content.decode()
    assert kept["Content-Type"] == fresh["Content-Type"]
    assert kept.cookies["csrftoken"].value and fresh.cookies["csrftoken"].value


def test_each_kept_page_carries_its_own_valid_token(client, layers):
    from django.middleware.csrf import _unmask_cipher_token

    pages = [client.get("/map/") for _ in range(3)]
    tokens = [TOKEN.search(page.content.decode()).group(1) for page in pages]
    assert len(set(tokens)) == 3  # masked anew on every answer, as {% csrf_token %} does
    secret = client.cookies["csrftoken"].value
    assert all(_unmask_cipher_token(token) == secret for token in tokens)
    # The language switch of a kept page works with its token (CSRF checks on).
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    page = strict.get("/map/").content.decode()
    answer = strict.post(
        "/i18n/setlang/", {"language": "en", "next": "/map/", "csrfmiddlewaretoken": TOKEN.search(page).group(1)}
    )
    assert answer.status_code == 302
    assert "Nearest service points" in strict.get("/map/").content.decode()


def test_a_layer_changed_or_hidden_shows_on_the_next_page(client, layers):
    assert "Lớp pg-gddt-public" in client.get("/map/").content.decode()
    Layer.objects.filter(slug="pg-gddt-public").update(title="Trường học / Schools")
    html = client.get("/map/").content.decode()
    assert "Trường học" in html and "Lớp pg-gddt-public" not in html
    Layer.objects.filter(slug="pg-gddt-public").update(visibility="internal")
    assert "pg-gddt-public" not in {
        layer["slug"] for layer in _config(client.get("/map/").content.decode())["registries"]
    }


def test_signed_in_visitors_get_their_own_page(client, make_user, layers):
    client.get("/map/")  # kept for anonymous visitors
    client.force_login(make_user("pg-reader", role="desk_officer", agency="so-gddt"))
    html = client.get("/map/").content.decode()
    assert "pg-reader" in html  # "Sign out (pg-reader)"
    assert "pg-yte-internal" in {layer["slug"] for layer in _config(html)["registries"]}
