"""The two planning pages run their scripts without errors in Chromium: the
load map draws a marker per service point, the accessibility toggle layer
draws the communes, the indicator page draws its chart and commune map.

The HTML is rendered by Django's test client and opened from a file, the
API answers it fetches are served from the same test database through
Playwright's request routing (no server process needed)."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from dossiers.demo_history import dossier_history_generate
from dossiers.demo_setup import commune_committees_ensure
from layers.models import ServicePoint
from tests.browser import chromium

STATIC_ROOT = Path(settings.BASE_DIR) / "static"


def _local_html(html: str) -> str:
    # Static files straight from the source tree.
    return re.sub(r'(src|href)="/static/', rf'\1="file://{STATIC_ROOT}/', html)


@pytest.mark.django_db
def test_planning_pages_in_chromium(make_user, tmp_path):
    commune_committees_ensure()
    dossier_history_generate(count=1500, years=1, seed=5)
    client = Client()
    client.force_login(make_user("p3-browser", role="leader", agency="so-tp"))
    load_html = client.get("/planning/load/").content.decode()
    indicators_html = client.get("/planning/indicators/", {"group_by": "commune"}).content.decode()
    accessibility = re.search(r'"accessibilityUrl": "([^"]+)"', load_html).group(1).replace("\\u0026", "&")
    units = re.search(r'"unitsUrl": "([^"]+)"', indicators_html).group(1).replace("\\u0026", "&")
    answers = {
        "accessibility": client.get(accessibility).content,
        "admin-units": client.get(units).content,
    }
    (tmp_path / "load.html").write_text(_local_html(load_html), encoding="utf-8")
    (tmp_path / "indicators.html").write_text(_local_html(indicators_html), encoding="utf-8")
    points = ServicePoint.objects.filter(is_active=True).count()

    browsers = chromium()
    browser = next(browsers)
    try:
        page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))

        def answer(route):
            url = route.request.url
            key = "accessibility" if "accessibility" in url else "admin-units"
            route.fulfill(status=200, content_type="application/json", body=answers[key])

        page.route(re.compile(r".*/api/v1/.*"), answer)
        page.goto(f"file://{tmp_path / 'load.html'}")
        page.wait_for_selector("#load-map path.leaflet-interactive")
        assert page.locator("#load-map path.leaflet-interactive").count() == points
        page.get_by_label(re.compile("Accessibility|tiếp cận")).check()
        page.wait_for_function(f"document.querySelectorAll('#load-map path.leaflet-interactive').length > {points}")
        assert page.locator("#load-map path.leaflet-interactive").count() == points + 99
        # The legend: the colour classes, grey for nothing received, the norm of "overloaded",
        # and once the accessibility layer is on, its classes and grey for unknown population.
        legend = page.locator("#load-legend")
        assert legend.is_visible()
        text = legend.inner_text()
        assert "Quá tải: hơn 32 hồ sơ mỗi quầy" in text and "Không tiếp nhận hồ sơ nào trong kỳ" in text
        assert "Không có số liệu: chưa rõ dân số" in text
        assert errors == []

        page.goto(f"file://{tmp_path / 'indicators.html'}")
        page.wait_for_selector("#indicators-map path.leaflet-interactive")
        assert page.locator("#indicators-map path.leaflet-interactive").count() == 99
        assert page.evaluate("Chart.getChart('indicators-chart').data.datasets.length") == 2
        legend = page.locator("#indicators-legend")
        assert legend.is_visible()
        assert "Không có số liệu: không có hồ sơ nào giải quyết xong trong kỳ" in legend.inner_text()
        assert legend.locator("i").count() == 6  # five classes and grey
        assert errors == []
    finally:
        browsers.close()
