"""Upload with progress, end to end in a real browser (Debian's chromium
through Playwright): an official of the health department uploads a GeoJSON
into a layer of that department; the file goes to the import API of the
project's own server, the job runs in a real Celery worker process, the page
follows it to "succeeded"; the map then draws the layer from its vector tiles,
with its attribution, and a click on a point opens its properties."""

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.browser import chromium, new_page, registry_editor

pytestmark = pytest.mark.browser

UPLOAD_SCREENSHOT = Path("/tmp/registries-upload.png")
MAP_SCREENSHOT = Path("/tmp/registries-map.png")
# Around Bắc Ninh city: a few hundred clinics in a 3 km square.
CENTRE = (106.07, 21.18)
FEATURES = 300
IMPORT_TIMEOUT_MS = 60_000
ATTRIBUTION = "© OpenStreetMap contributors (ODbL)"
SCHEMA = [
    {"name": "name", "type": "string", "title": "Tên cơ sở / Name"},
    {"name": "beds", "type": "integer", "title": "Số giường / Beds"},
    {"name": "public", "type": "boolean", "title": "Công lập / Public"},
]

expect.set_options(timeout=15_000)


@pytest.fixture(scope="module")
def editor(django_db_setup, django_db_blocker) -> Iterator[dict]:
    with registry_editor(
        django_db_blocker, title="Trạm y tế thử nghiệm / Test clinics", schema=SCHEMA, attribution=ATTRIBUTION
    ) as made:
        yield made


@pytest.fixture(scope="module")
def browser(editor) -> Iterator[Browser]:
    # After `editor`: while Playwright runs, Django refuses database access in this thread.
    yield from chromium()


@pytest.fixture
def geojson_file(tmp_path) -> tuple[Path, list[dict]]:
    rng = random.Random(42)
    features = [
        {
            "type": "Feature",
            "geometry": {
                "type": "Point",
                "coordinates": [CENTRE[0] + rng.uniform(-0.015, 0.015), CENTRE[1] + rng.uniform(-0.015, 0.015)],
            },
            "properties": {"name": f"Trạm y tế {i}", "beds": rng.randint(5, 120), "public": rng.random() < 0.7},
        }
        for i in range(FEATURES)
    ]
    path = tmp_path / "tram-y-te.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False))
    return path, features


# Every change of the progress bar, as the page makes it.
RECORD_PROGRESS = """() => {
    window.progressLog = [];
    const bar = document.getElementById("import-progress");
    new MutationObserver(() => window.progressLog.push({
        value: bar.hasAttribute("value") ? Number(bar.getAttribute("value")) : null,
        status: bar.dataset.status || null,
    })).observe(bar, {attributes: true, attributeFilter: ["value", "data-status"]});
}"""

# Painted pixels of the registry layers' canvas tiles.
PAINTED_PIXELS = """() => {
    let painted = 0;
    for (const canvas of document.querySelectorAll(".leaflet-registries-pane canvas")) {
        const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
        for (let i = 3; i < data.length; i += 4) painted += data[i] > 0 ? 1 : 0;
    }
    return painted;
}"""


@pytest.mark.django_db
def test_upload_page_sends_visitors_to_sign_in(client):
    # Runs first, before the browser starts; being a database test, it also
    # makes pytest-django create the test database when this module runs alone.
    response = client.get("/registries/upload/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/registries/upload/"


def test_upload_shows_progress_and_the_layer_appears_on_the_map(
    editor, browser, queue_live_server_url, celery_worker_process, geojson_file
):
    base_url = queue_live_server_url
    layer = editor["layer"]
    path, features = geojson_file
    page, errors = new_page(browser, base_url, session_key=editor["session"], viewport={"width": 1280, "height": 800})

    page.goto(f"{base_url}/registries/upload/")
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    expect(page.locator("h1")).to_have_text("Tải tệp lên lớp dữ liệu chuyên ngành")
    page.evaluate(RECORD_PROGRESS)
    page.select_option("#layer-select", layer.slug)
    page.set_input_files("#file-input", str(path))
    page.select_option("#mode-select", "replace")
    page.check("#replace-confirm-input")  # replacing asks for a confirmation (see test_browser_upload_page.py)
    with page.expect_response(lambda r: r.request.method == "POST" and "/imports/" in r.url) as posted:
        page.locator("#upload-button").click()
    assert posted.value.status == 202, posted.value.text()
    job_url = posted.value.json()["links"]["self"]

    bar = page.locator("#import-progress")
    expect(bar).to_have_attribute("data-status", "succeeded", timeout=IMPORT_TIMEOUT_MS)
    assert celery_worker_process.poll() is None, celery_worker_process.log_path.read_text()
    expect(page.locator("#import-status")).to_contain_text(f"Đã nhập {FEATURES} đối tượng")
    expect(page.locator("#import-error")).to_be_hidden()

    log = page.evaluate("window.progressLog")
    values = [entry["value"] for entry in log if entry["value"] is not None]
    statuses = [entry["status"] for entry in log if entry["status"]]
    # The bar moved forward from empty to full, through the upload and the queue.
    assert values[0] < 1 and values[-1] == 1, log
    assert values == sorted(values), log
    assert len(set(values)) >= 3, log
    assert statuses[0] == "uploading" and statuses[-1] == "succeeded", log
    assert {"queued", "running"} & set(statuses), log

    job = page.request.get(job_url).json()
    assert job["status"] == "succeeded"
    assert (job["rows_total"], job["rows_imported"], job["rows_rejected"]) == (FEATURES, FEATURES, 0)
    page.screenshot(path=str(UPLOAD_SCREENSHOT), full_page=True)

    # On to the map, with the layer switched on by the link.
    tile_statuses: list[int] = []
    page.on("response", lambda r: f"/tiles/{layer.slug}/" in r.url and tile_statuses.append(r.status))
    map_link = page.locator("#import-map-link")
    expect(map_link).to_be_visible()
    map_link.click()
    page.wait_for_url(f"**/map/?layers={layer.slug}")
    expect(page.locator("#map")).to_have_attribute("aria-busy", "false")
    # Every tile of the view fetched and drawn, no zoom animation under way.
    page.wait_for_function(
        "([slug]) => { const layer = window.portalRegistryLayers.get(slug);"
        " return layer && layer._map && !layer.isLoading() && !window.portalMap._animatingZoom; }",
        arg=[layer.slug],
    )
    page.wait_for_timeout(300)  # tiles fade in
    page.wait_for_function(f"({PAINTED_PIXELS})() > 200")
    assert 200 in tile_statuses
    assert all(status in (200, 204) for status in tile_statuses), tile_statuses
    expect(page.locator(".leaflet-control-attribution")).to_contain_text(ATTRIBUTION)
    expect(page.locator("#registry-legend")).to_contain_text("Trạm y tế thử nghiệm")

    # A click on a point opens its properties, labelled in Vietnamese.
    lon, lat = features[0]["geometry"]["coordinates"]
    point = page.evaluate(
        """([lat, lon]) => {
            const map = window.portalMap;
            const box = map.getContainer().getBoundingClientRect();
            const p = map.latLngToContainerPoint([lat, lon]);
            return {x: box.left + p.x, y: box.top + p.y};
        }""",
        [lat, lon],
    )
    page.mouse.click(point["x"], point["y"])
    popup = page.locator(".leaflet-popup-content .popup--registry")
    expect(popup.locator("h3")).to_have_text("Trạm y tế thử nghiệm")
    expect(popup).to_contain_text("Số giường")
    names = {f["properties"]["name"] for f in features}
    shown = popup.locator("dd").first.inner_text()
    assert shown in names
    # The click opened the feature, not the nearest-point search (which
    # would have answered by now).
    page.wait_for_timeout(600)
    assert page.locator("#nearest-list li").count() == 0
    expect(page.locator("#nearest-status")).to_be_empty()
    page.screenshot(path=str(MAP_SCREENSHOT))
    assert errors == [], errors


def test_the_layer_is_not_drawn_for_a_visitor_who_may_not_see_it(editor, browser, queue_live_server_url):
    """The same link without the session: the internal layer is neither
    listed nor fetched, and the map works as before."""
    layer = editor["layer"]
    context = browser.new_context(locale="vi-VN")
    page = context.new_page()
    tile_requests: list[str] = []
    page.on("request", lambda r: "/tiles/" in r.url and tile_requests.append(r.url))
    page.goto(f"{queue_live_server_url}/map/?layers={layer.slug}")
    expect(page.locator("#map")).to_have_attribute("aria-busy", "false")
    expect(page.locator("path.commune-boundary").first).to_be_visible()
    assert page.locator(f'#registry-legend li[data-registry="{layer.slug}"]').count() == 0
    assert tile_requests == []
