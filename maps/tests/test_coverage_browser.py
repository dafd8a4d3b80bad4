"""The coverage planning page in Chromium on a phone-sized screen: communes,
points and buffers are drawn, and changing the map date or the kind redraws
the map from the APIs.

The HTML is rendered by Django's test client and opened from a file; every
API request the page makes is answered by the test client too, from the same
test database (Playwright request routing, no server process)."""

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.test import Client

from layers.models import AdministrativeUnit, ServicePoint
from tests.browser import chromium

STATIC_ROOT = Path(settings.BASE_DIR) / "static"


def _local_html(html: str) -> str:
    return re.sub(r'(src|href)="/static/', rf'\1="file://{STATIC_ROOT}/', html)


def _paths(page) -> int:
    return page.locator("#map path.leaflet-interactive").count()


@pytest.mark.django_db
def test_coverage_page_redraws_on_filter_change(tmp_path, monkeypatch):
    # The routed requests are answered from inside Playwright's event loop,
    # on this thread and in this test's transaction.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    # One commune of the current map without population: the headline says it was left out.
    first = AdministrativeUnit.objects.filter(era="2025", level="commune").order_by("code").first()
    AdministrativeUnit.objects.filter(pk=first.pk).update(population=None)
    unknown = AdministrativeUnit.objects.filter(era="2025", level="commune", population__isnull=True).count()
    client = Client()
    html = client.get("/planning/coverage/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    (tmp_path / "coverage.html").write_text(_local_html(html), encoding="utf-8")
    communes = {era: AdministrativeUnit.objects.filter(era=era, level="commune").count() for era in ("2019", "2025")}
    posts = ServicePoint.objects.filter(kind="post_office", is_active=True).count()
    centres = ServicePoint.objects.filter(kind="provincial_centre", is_active=True).count()
    requested: list[str] = []

    def answer(route):
        url = urlsplit(route.request.url)
        requested.append(f"{url.path}?{url.query}")
        response = client.get(f"{url.path}?{url.query}")
        route.fulfill(status=response.status_code, content_type="application/json", body=response.content)

    browsers = chromium()
    browser = next(browsers)
    try:
        page = browser.new_page(viewport={"width": 390, "height": 844})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.route(re.compile(r".*/api/v1/.*"), answer)
        page.goto(f"file://{tmp_path / 'coverage.html'}")
        # A polygon per commune, a buffer and a marker per post office.
        expected = communes["2025"] + 2 * posts
        page.wait_for_function(f"document.querySelectorAll('#map path.leaflet-interactive').length === {expected}")
        assert page.locator("#worst-list li").count() == 10
        headline = page.locator("#coverage-status").inner_text()
        assert f"{unknown} xã, phường chưa rõ dân số không được tính vào các số liệu này." in headline

        page.select_option("#date-select", index=1)  # the 2019 map
        expected = communes["2019"] + 2 * posts
        page.wait_for_function(f"document.querySelectorAll('#map path.leaflet-interactive').length === {expected}")
        assert any("on=2024-01-01" in r for r in requested)

        page.select_option("#kind-select", "provincial_centre")
        expected = communes["2019"] + 2 * centres
        page.wait_for_function(f"document.querySelectorAll('#map path.leaflet-interactive').length === {expected}")

        page.select_option("#suggest-count", "2")
        page.wait_for_selector("#suggest-list li >> nth=1")
        # The suggestions' markers (the shared base map's names are markers too).
        assert page.locator(".leaflet-marker-icon:not(.context-label)").count() == 2
        assert errors == []
    finally:
        browsers.close()
