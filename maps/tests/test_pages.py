"""The map pages render in both languages, load Leaflet from the site's own
static files and reference no CDN (the portal must work without internet)."""

import gettext
import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders

# The map page lists the registry layers the visitor may see: one query.
pytestmark = pytest.mark.django_db

CDN_HOSTS = re.compile(r"https?://[^\s\"'<>]*(unpkg|cdnjs|jsdelivr|googleapis|cloudflare|bootstrapcdn)", re.I)
LEAFLET_JS = "/static/vendor/leaflet/leaflet.js"
PAGES = ["/", "/map/"]


def _map_config(html: str) -> dict:
    match = re.search(r'<script id="map-config" type="application/json">(.*?)</script>', html, re.S)
    assert match, "the page carries its settings in a json_script block"
    return json.loads(match.group(1))


@pytest.mark.parametrize("path", PAGES)
def test_page_renders_in_vietnamese_by_default(client, path):
    response = client.get(path)
    html = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="vi">' in html
    assert "Cổng dịch vụ công Bắc Ninh — bản đồ" in html
    assert "Điểm phục vụ gần nhất" in html
    assert _map_config(html)["strings"]["population"] == "Dân số"


def test_browser_language_alone_does_not_switch_to_english(client):
    html = client.get("/map/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert '<html lang="vi">' in html


@pytest.mark.parametrize("path", [*PAGES, "/map/?lang=en"])
def test_page_renders_in_english_when_asked(client, path):
    client.cookies["django_language"] = "en"
    response = client.get(path)
    html = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="en">' in html
    assert "Nearest service points" in html
    assert _map_config(html)["strings"]["population"] == "Population"


@pytest.mark.parametrize("path", [*PAGES, "/map/?"])
@pytest.mark.parametrize("language", ["vi", "en"])
def test_page_uses_local_leaflet_and_no_cdn(client, path, language):
    html = client.get(path, {"lang": language}).content.decode()
    assert LEAFLET_JS in html
    assert "/static/vendor/leaflet.markercluster/leaflet.markercluster.js" in html
    assert not CDN_HOSTS.search(html)
    # Every script and stylesheet comes from this site.
    for url in re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html):
        assert url.startswith("/"), url


def test_page_points_the_script_at_the_api(client):
    config = _map_config(client.get("/map/").content.decode())
    assert config["api"] == {
        "adminUnits": "/api/v1/admin-units/",
        "servicePoints": "/api/v1/service-points/",
        "nearest": "/api/v1/service-points/nearest/",
        "procedures": "/api/v1/procedures/",
    }
    assert config["timeZone"] == "Asia/Ho_Chi_Minh"
    eras = {era["key"]: era["on"] for era in config["eras"]}
    assert eras["2019"] == "2024-01-01"
    assert eras["2025"] >= "2025-07-01"
    assert config["defaultEra"] == "2025"
    assert config["tiles"] is None  # no base map unless a deployment asks for one


def test_language_switch_sets_english(client):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/map/"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/map/"
    assert "Nearest service points" in client.get("/map/").content.decode()


@pytest.mark.parametrize(
    "static_path",
    [
        "vendor/leaflet/leaflet.js",
        "vendor/leaflet/leaflet.css",
        "vendor/leaflet/images/layers.png",
        "vendor/leaflet/LICENSE",
        "vendor/leaflet.markercluster/leaflet.markercluster.js",
        "vendor/leaflet.markercluster/MarkerCluster.css",
        "vendor/leaflet.markercluster/MarkerCluster.Default.css",
        "vendor/leaflet.markercluster/LICENSE",
        "maps/map.js",
        "maps/map.css",
        "maps/portal.css",
    ],
)
def test_static_files_exist(static_path):
    assert finders.find(static_path), static_path


def test_own_scripts_and_styles_reference_no_external_host():
    static_root = Path(settings.BASE_DIR) / "static" / "maps"
    for path in static_root.glob("*.*"):
        if path.suffix in {".js", ".css"}:
            assert not re.search(r"https?://", path.read_text(encoding="utf-8")), path


def test_compiled_vietnamese_catalogue_matches_the_po_file():
    # The .mo is committed because hosts without gettext cannot compile it,
    # and without it every page falls back to English. A message added to
    # the .po (or left fuzzy) but not compiled shows up as a count mismatch.
    locale = Path(settings.BASE_DIR) / "locale" / "vi" / "LC_MESSAGES"
    with (locale / "django.mo").open("rb") as compiled:
        catalogue = gettext.GNUTranslations(compiled)
    po_text = (locale / "django.po").read_text(encoding="utf-8")
    messages_in_po = len(re.findall(r"^msgid ", po_text, re.M))  # the header counts in both
    assert len(catalogue._catalog) == messages_in_po
    assert catalogue.gettext("Nearest service points") == "Điểm phục vụ gần nhất"
