"""The map page in a real browser (Debian's chromium through Playwright)
against the project's own server and the demo data: boundaries of both
eras, service point markers, the nearest search by click, by geolocation and
with a bad request, the language switch and the phone layout."""

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser import chromium, new_page

pytestmark = pytest.mark.browser

SCREENSHOT = Path("/tmp/map.png")
PHONE_SCREENSHOT = Path("/tmp/map-phone.png")

# Bắc Ninh city (lat, lon): inside the province in both eras, many points around.
CLICK_TARGET = (21.18, 106.07)
COMMUNES_2025 = 99
COMMUNES_2019 = 126
NEAREST_LIMIT = 5
# Clear space around a click: about a fingertip, the radius Chromium's touch
# adjustment searches for a nearby target.
TOUCH_MARGIN_PX = 24

expect.set_options(timeout=10_000)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Module scope, not session: while Playwright's sync API is running, its
    # event loop makes Django refuse database access in this thread, which
    # would break the ordinary tests collected after this module.
    yield from chromium()


def _open(browser: Browser, base_url: str, path: str, **context_options) -> tuple[Page, list[str]]:
    """A fresh page (own cookies, a Vietnamese browser) at `path`, and the
    list its console errors and uncaught exceptions go into. Requests that
    leave the server under test (tiles, if a deployment configures some) fail
    here: there is no internet; those are not errors of the page."""
    page, errors = new_page(browser, base_url, ignore_failed_loads_outside=base_url, **context_options)
    page.goto(base_url + path)
    return page, errors


def _wait_for_map(page: Page, communes: int = COMMUNES_2025) -> None:
    expect(page.locator("path.commune-boundary")).to_have_count(communes)
    # The page clears aria-busy once the view has settled on the boundaries.
    expect(page.locator("#map")).to_have_attribute("aria-busy", "false")
    expect(page.locator(".service-point").first).to_be_visible()


def _settled_point_inside_province(page: Page, lat: float, lon: float) -> dict:
    """Viewport coordinates of a spot on a commune polygon near (lat, lon),
    once the map has stopped moving. The spot keeps a margin from markers and
    clusters: a click on them opens their popup instead of searching, and
    Chromium moves a tap onto a clickable element near the finger."""
    find = """([lat, lon, margin]) => {
        const map = window.portalMap;
        const box = map.getContainer().getBoundingClientRect();
        const centre = map.latLngToContainerPoint([lat, lon]);
        const onCommune = (x, y) => {
            const hit = document.elementFromPoint(x, y);
            return hit !== null && hit.classList.contains("commune-boundary");
        };
        const clear = (x, y) => [[0, 0], [1, 0], [-1, 0], [0, 1], [0, -1], [1, 1], [-1, -1], [1, -1], [-1, 1]]
            .every(([dx, dy]) => onCommune(x + dx * margin, y + dy * margin));
        for (let radius = 0; radius <= 120; radius += 8) {
            for (let angle = 0; angle < 360; angle += 20) {
                const x = box.left + centre.x + radius * Math.cos(angle * Math.PI / 180);
                const y = box.top + centre.y + radius * Math.sin(angle * Math.PI / 180);
                if (clear(x, y)) return {x, y};
            }
        }
        return null;
    }"""
    previous = None
    for _ in range(40):
        point = page.evaluate(find, [lat, lon, TOUCH_MARGIN_PX])
        if point is not None and point == previous:
            return point
        previous = point
        page.wait_for_timeout(150)
    raise AssertionError(f"no settled commune polygon near {lat}, {lon}; last try: {previous}")


def _metres(distance_text: str) -> float:
    """'850 m' or '1,3 km' (Vietnamese: ',' is the decimal mark, '.' groups)."""
    number, unit = distance_text.replace("\u00a0", " ").strip().rsplit(" ", 1)
    assert unit in {"m", "km"}, distance_text
    value = float(number.replace(".", "").replace(",", "."))
    return value * 1000 if unit == "km" else value


def _nearest_distances(page: Page) -> list[tuple[float, float]]:
    """(shown distance in metres, exact distance_m) of each listed result."""
    items = page.locator("#nearest-list li .nearest-distance")
    return [
        (_metres(items.nth(i).inner_text()), float(items.nth(i).get_attribute("data-distance-m")))
        for i in range(items.count())
    ]


@pytest.mark.django_db
def test_the_data_the_browser_will_see_is_loaded():
    # Runs first, before the browser starts. Being a database test it also
    # makes pytest-django create the test database even when this module runs
    # alone; without one the live server would serve the developer's database.
    from layers.models import AdministrativeUnit, ServicePoint

    assert AdministrativeUnit.objects.filter(era="2025", level="commune").count() == 99
    assert ServicePoint.objects.count() == 200


def test_map_draws_boundaries_points_and_nearest_by_click(browser, live_server_url):
    page, errors = _open(browser, live_server_url, "/map/", viewport={"width": 1280, "height": 800})
    _wait_for_map(page)
    assert page.locator(".service-point").count() > 0
    expect(page.locator(".service-point--provincial_centre").first).to_be_visible()

    point = _settled_point_inside_province(page, *CLICK_TARGET)
    page.mouse.click(point["x"], point["y"])

    expect(page.locator("#nearest-list li")).to_have_count(NEAREST_LIMIT)
    expect(page.locator("path.nearest-line")).to_have_count(NEAREST_LIMIT)
    expect(page.locator(".leaflet-popup-content .popup h3")).to_be_visible()  # the commune's popup
    distances = _nearest_distances(page)
    shown = [metres for metres, _ in distances]
    assert shown[0] == min(shown)
    assert shown == sorted(shown)
    for metres, exact in distances:
        # Shown rounded to a metre, or to 100 m as kilometres with one decimal.
        assert math.isclose(metres, exact, abs_tol=50 if exact >= 999.5 else 0.5), (metres, exact)
    page.wait_for_timeout(400)  # let popups finish fading in, for a readable screenshot
    page.screenshot(path=str(SCREENSHOT))
    assert errors == []


def test_era_switch_redraws_communes(browser, live_server_url):
    page, errors = _open(browser, live_server_url, "/map/")
    _wait_for_map(page)
    page.locator('input[name="era"][value="2019"]').check()
    expect(page.locator("path.commune-boundary")).to_have_count(COMMUNES_2019)
    expect(page.locator("#boundary-status")).to_contain_text(str(COMMUNES_2019))
    page.locator('input[name="era"][value="2025"]').check()
    expect(page.locator("path.commune-boundary")).to_have_count(COMMUNES_2025)
    assert errors == []


def test_kind_filter_and_bad_request_message(browser, live_server_url):
    page, errors = _open(browser, live_server_url, "/map/")
    _wait_for_map(page)
    point = _settled_point_inside_province(page, *CLICK_TARGET)
    page.mouse.click(point["x"], point["y"])
    expect(page.locator("#nearest-list li")).to_have_count(NEAREST_LIMIT)

    page.select_option("#kind-select", "post_office")
    expect(page.locator("#nearest-list li.nearest-item--post_office")).to_have_count(NEAREST_LIMIT)

    # A value the API rejects, to see its 400 message reach the page.
    page.evaluate("""() => {
        const select = document.getElementById("kind-select");
        select.add(new Option("bogus", "bogus"));
        select.value = "bogus";
        select.dispatchEvent(new Event("change"));
    }""")
    expect(page.locator("#nearest-error")).to_be_visible()
    expect(page.locator("#nearest-error")).to_contain_text("kind")
    expect(page.locator("#nearest-list li")).to_have_count(0)
    # Chromium reports the 400 response itself in the console; that one is expected.
    assert [e for e in errors if "status of 400" not in e] == []


def test_locate_button_uses_geolocation(browser, live_server_url):
    lat, lon = CLICK_TARGET
    page, errors = _open(
        browser,
        live_server_url,
        "/map/",
        geolocation={"latitude": lat, "longitude": lon},
        permissions=["geolocation"],
    )
    _wait_for_map(page)
    page.locator("#locate-button").click()
    expect(page.locator("#nearest-list li")).to_have_count(NEAREST_LIMIT)
    assert errors == []


def test_language_switch_to_english(browser, live_server_url):
    page, errors = _open(browser, live_server_url, "/")
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    expect(page.locator("#nearest-heading")).to_have_text("Điểm phục vụ gần nhất")
    _wait_for_map(page)
    expect(page.locator("#boundary-status")).to_contain_text("xã, phường")

    page.locator('.language-switch button[value="en"]').click()

    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#nearest-heading")).to_have_text("Nearest service points")
    expect(page.get_by_role("button", name="Use my location")).to_be_visible()
    _wait_for_map(page)
    # Texts written by the script come translated too.
    expect(page.locator("#boundary-status")).to_contain_text(f"{COMMUNES_2025} communes shown")
    assert errors == []


def test_phone_layout_shows_map_then_panel(browser, live_server_url):
    page, errors = _open(
        browser,
        live_server_url,
        "/map/",
        viewport={"width": 375, "height": 740},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    _wait_for_map(page)
    map_box = page.locator("#map").bounding_box()
    panel = page.locator("#nearest-panel")
    expect(page.locator("#map")).to_be_visible()
    expect(panel).to_be_visible()
    assert map_box["width"] == pytest.approx(375, abs=1)
    assert map_box["height"] >= 280
    assert panel.bounding_box()["y"] >= map_box["y"] + map_box["height"]  # below the map, not beside it
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # nothing sticks out sideways

    # At the phone's whole-province zoom the markers around the city leave no
    # fingertip-sized gap; zoom in as a user would before tapping.
    page.evaluate("([lat, lon]) => window.portalMap.setView([lat, lon], 12, {animate: false})", list(CLICK_TARGET))
    point = _settled_point_inside_province(page, *CLICK_TARGET)
    page.touchscreen.tap(point["x"], point["y"])
    expect(page.locator("#nearest-list li")).to_have_count(NEAREST_LIMIT)
    page.wait_for_timeout(400)
    page.screenshot(path=str(PHONE_SCREENSHOT), full_page=True)
    assert errors == []
