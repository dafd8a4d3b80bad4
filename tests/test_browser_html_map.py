"""The exported HTML maps open offline: Debian's chromium loads the file from
disk (file://) with every other request intercepted and failed; the map draws
every feature (counted in Leaflet's layers, and painted on its canvas), the
legend and the period show, and no request leaves the file."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client
from playwright.sync_api import Browser, Route, expect

from layers.models import AdministrativeUnit, Layer
from tests.browser import chromium
from tests.htmlmaps import drawn_features

pytestmark = pytest.mark.browser
expect.set_options(timeout=15_000)

# Features per geo_json layer of folium (globals of the page), the data layer last.
LAYER_COUNTS = """() => Object.keys(window)
    .filter(k => k.startsWith("geo_json_") && window[k] instanceof L.GeoJSON)
    .map(k => window[k].getLayers().length)"""
PAINTED_PIXELS = """() => {
    let painted = 0;
    for (const canvas of document.querySelectorAll(".leaflet-overlay-pane canvas")) {
        const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
        for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
    }
    return painted;
}"""


@pytest.fixture(scope="module")
def exported(django_db_setup, django_db_blocker, tmp_path_factory) -> dict[str, tuple[Path, int]]:
    """The demo hospitals layer and the post-office coverage, exported through
    the API into files (before Playwright starts: it bars the ORM)."""
    folder = tmp_path_factory.mktemp("html-maps")
    files = {}
    with django_db_blocker.unblock():
        assert Layer.objects.filter(slug="hospitals").exists()
        client = Client()
        for name, url in {
            "hospitals": "/api/v1/layers/hospitals/export/?format=html&lang=en",
            "coverage": "/api/v1/analytics/coverage/?kind=post_office&radius_m=2000&era=2025&format=html&lang=en",
        }.items():
            response = client.get(url)
            assert response.status_code == 200, response.content[:300]
            path = folder / f"{name}.html"
            path.write_bytes(response.content)
            files[name] = (path, len(drawn_features(response.content.decode())))
    return files


@pytest.fixture(scope="module")
def browser(exported) -> Iterator[Browser]:
    yield from chromium()


def test_the_exports_hold_what_the_database_holds(db, exported):
    # Also what makes pytest-django create the test database for this module.
    hospitals = Layer.objects.get(slug="hospitals")
    assert exported["hospitals"][1] == hospitals.features.count() > 0
    assert exported["coverage"][1] == AdministrativeUnit.objects.filter(era="2025", level="commune").count()


@pytest.mark.parametrize(
    "name, legend",
    [("hospitals", "features"), ("coverage", "Coverage share")],
)
def test_exported_map_opens_offline_with_its_legend(browser, exported, name, legend):
    path, expected = exported[name]
    assert expected > 0
    url = path.as_uri()
    context = browser.new_context(viewport={"width": 390, "height": 760})
    page = context.new_page()
    requested, errors = [], []

    def refuse(route: Route) -> None:
        if route.request.url == url:
            route.continue_()
            return
        requested.append(route.request.url)
        route.abort()

    context.route("**/*", refuse)
    page.on("request", lambda request: request.url != url and requested.append(request.url))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.goto(url)
    expect(page.locator(".gp-legend")).to_be_visible()
    expect(page.locator(".gp-legend")).to_contain_text(legend)
    expect(page.locator(".gp-title")).to_contain_text("Period")
    counts = page.evaluate(LAYER_COUNTS)
    assert counts[-1] == expected, counts
    page.wait_for_function(f"({PAINTED_PIXELS})() > 1000")
    page.screenshot(path=f"/tmp/html-map-{name}.png")
    context.close()
    assert requested == [], requested
    assert errors == [], errors
