"""An operator's vector base map (BASE_MAP_KIND=style) in a real browser.

The portal runs with BASE_MAP_URL naming a MapLibre GL style JSON on another
server of this machine, as a province's own style server would be. The style
draws a background colour and, from a GeoJSON source that is the portal's own
commune API, Kinh Bắc ward in a second colour. Chromium (Debian's, through
Playwright) opens the main map; with the portal's own layers hidden, the
pixels MapLibre drew are read from a screenshot: inside Kinh Bắc ward (a
point shapely finds) the ward's colour, outside the province the background.
No request leaves 127.0.0.1, and the default pages do not load MapLibre."""

import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone
from PIL import Image
from playwright.sync_api import Browser, Page
from shapely import wkb

from tests.browser import chromium, new_page, record_outside_requests
from tests.live import process_env, runserver

pytestmark = pytest.mark.browser

KINH_BAC = "09187"
BACKGROUND = (232, 213, 183)  # #e8d5b7
WARD = (40, 110, 190)  # #286ebe
TOLERANCE = 12  # per channel: antialiasing and colour management


class StyleServer:
    """A style server on loopback: GET /style.json answers `style` with CORS,
    as a tile and style server of the province's network would."""

    def __init__(self):
        self.style: dict = {}
        self.requests: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                owner.requests.append(self.path)
                if self.path != "/style.json":
                    self.send_error(404)
                    return
                body = json.dumps(owner.style).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/style.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.django_db
def test_maplibre_is_loaded_only_with_a_vector_style(client, settings):
    # Runs first, before the browser starts; it also makes pytest-django create the test database.
    assert "maplibre-gl.js" not in client.get("/map/").content.decode()
    settings.BASE_MAP_KIND, settings.BASE_MAP_URL = "style", "/static/maps/style.json"
    html = client.get("/map/").content.decode()
    assert html.index("maplibre-gl.js") < html.index("leaflet-maplibre-gl.js") < html.index("maps/basemap.js")
    config = json.loads(html.split('<script id="base-map-config" type="application/json">')[1].split("</script>")[0])
    assert config["style"] == {"url": "/static/maps/style.json", "attribution": ""}
    assert config["tiles"] is None


@pytest.fixture(scope="module")
def styled(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[dict]:
    from layers.models import AdministrativeUnit

    with django_db_blocker.unblock():
        ward = AdministrativeUnit.objects.get(era="2025", level="commune", code=KINH_BAC)
        inside = wkb.loads(bytes(ward.geom.wkb)).buffer(-0.004).representative_point()
    styles = StyleServer()
    env = process_env(
        django_db_blocker, BASE_MAP_KIND="style", BASE_MAP_URL=styles.url, BASE_MAP_ATTRIBUTION="© Sở TN&MT"
    )
    try:
        with runserver(env, tmp_path_factory.mktemp("vector_style")) as base_url:
            communes = f"{base_url}/api/v1/admin-units/?level=commune&on={timezone.localdate()}&limit=200"
            styles.style = {
                "version": 8,
                "sources": {"communes": {"type": "geojson", "data": communes}},
                "layers": [
                    {"id": "background", "type": "background", "paint": {"background-color": "#e8d5b7"}},
                    {
                        "id": "kinh-bac",
                        "type": "fill",
                        "source": "communes",
                        "filter": ["==", ["get", "code"], KINH_BAC],
                        "paint": {"fill-color": "#286ebe", "fill-antialias": False},
                    },
                ],
            }
            yield {"base_url": base_url, "styles": styles, "inside": (inside.x, inside.y)}
    finally:
        styles.close()


@pytest.fixture(scope="module")
def browser(styled) -> Iterator[Browser]:
    yield from chromium()


def _pixel(page: Page, x: float, y: float) -> tuple[int, int, int]:
    shot = page.screenshot(clip={"x": x - 1, "y": y - 1, "width": 3, "height": 3})
    return Image.open(io.BytesIO(shot)).convert("RGB").getpixel((1, 1))


def _near(found: tuple[int, int, int], wanted: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= TOLERANCE for a, b in zip(found, wanted, strict=True))


def test_the_operator_s_vector_style_is_drawn_under_the_map(styled, browser):
    base_url, styles = styled["base_url"], styled["styles"]
    page, errors = new_page(browser, base_url, viewport={"width": 1000, "height": 800})
    outside = record_outside_requests(page, base_url)
    page.goto(f"{base_url}/map/")
    # MapLibre has the style, the portal's communes, and has drawn them.
    page.wait_for_function(
        """() => {
            const map = window.PortalBaseMap && window.PortalBaseMap.maps()[0];
            if (!map) return false;
            let gl = null;
            map.eachLayer((layer) => { if (layer.getMaplibreMap) gl = layer.getMaplibreMap(); });
            return gl && gl.isStyleLoaded() && gl.isSourceLoaded("communes") && gl.loaded();
        }""",
        timeout=30_000,
    )
    assert "/style.json" in styles.requests
    lon, lat = styled["inside"]
    spots = page.evaluate(
        """([lat, lon]) => {
            const map = window.PortalBaseMap.maps()[0];
            map.setView([lat, lon], 13, {animate: false});
            const box = map.getContainer().getBoundingClientRect();
            const inside = map.latLngToContainerPoint([lat, lon]);
            return {inside: [box.left + inside.x, box.top + inside.y], box: [box.left, box.top, box.width, box.height]};
        }""",
        [lat, lon],
    )
    # The portal's own layers and controls hidden: only what MapLibre drew.
    page.add_style_tag(
        content=".leaflet-pane:not(.leaflet-map-pane):not(.leaflet-vectorBase-pane),"
        " .leaflet-control-container { visibility: hidden !important; }"
    )
    page.wait_for_function(
        """() => { let gl = null;
            window.PortalBaseMap.maps()[0].eachLayer((l) => { if (l.getMaplibreMap) gl = l.getMaplibreMap(); });
            return gl.loaded() && !gl.isMoving(); }""",
        timeout=15_000,
    )
    page.wait_for_timeout(300)  # a frame after the last render
    x, y = spots["inside"]
    assert _near(_pixel(page, x, y), WARD), _pixel(page, x, y)
    # Zoomed out to the whole region: far from the province, the background.
    page.evaluate("window.PortalBaseMap.maps()[0].setView([22.3, 104.6], 9, {animate: false})")
    page.wait_for_timeout(800)
    left, top, width, height = spots["box"]
    corner = _pixel(page, left + width / 2, top + height / 2)
    assert _near(corner, BACKGROUND), corner
    assert outside == []
    assert errors == []
    page.context.close()
