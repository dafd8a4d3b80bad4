""" "Where can I get this done, now?" on the map page, in Chromium on a 390 px
phone against the project's own server: choose a procedure from the
catalogue search and a moment, tap the map, and see only the points that
accept the procedure, open ones first, each with its opening state, load and
wait, as the API answers the same question."""

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, expect

from tests.browser import chromium
from tests.test_browser_map import CLICK_TARGET, _open, _settled_point_inside_province, _wait_for_map

pytestmark = pytest.mark.browser

SCREENSHOT = Path("/tmp/map-nearest-phone.png")
# Certification of copies: commune desks and the provincial centres receive it, post offices do not.
PROCEDURE = "2.000815"
# An ordinary Saturday morning: the centres are open, the desks closed.
SATURDAY = "2026-08-29T09:00"
ACCEPTING = {"commune_desk", "provincial_centre"}

expect.set_options(timeout=10_000)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from chromium()


@pytest.mark.django_db
def test_the_procedure_is_in_the_catalogue():
    # Before the browser starts (see test_browser_map): the data it will see.
    from dossiers.models import Procedure

    procedure = Procedure.objects.get(code=PROCEDURE)
    assert procedure.level == "commune" and not procedure.postal_submission_allowed


def test_procedure_and_moment_on_a_phone(browser, live_server_url):
    page, errors = _open(
        browser,
        live_server_url,
        "/map/",
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    _wait_for_map(page)
    page.locator("#open-at").fill(SATURDAY)
    # Typed without diacritics, as people do on a phone.
    page.locator("#procedure-search").fill("chung thuc ban sao tu ban chinh")
    option = page.locator(f'#procedure-options button[data-code="{PROCEDURE}"]')
    expect(option).to_be_visible()
    option.click()
    expect(page.locator("#procedure-chosen")).to_contain_text(PROCEDURE)
    expect(page.locator("#procedure-options")).to_be_hidden()

    # Back up to the map (the panel is below it on a phone), zoomed in as a user would before tapping.
    page.evaluate("window.scrollTo(0, 0)")
    page.evaluate("([lat, lon]) => window.portalMap.setView([lat, lon], 12, {animate: false})", list(CLICK_TARGET))
    point = _settled_point_inside_province(page, *CLICK_TARGET)
    with page.expect_response(lambda r: "/service-points/nearest/" in r.url) as answer:
        page.touchscreen.tap(point["x"], point["y"])
    url = answer.value.url
    assert f"procedure={PROCEDURE}" in url and "open_at=2026-08-29T09%3A00" in url
    items = page.locator("#nearest-list li")
    expect(items).to_have_count(5)

    # The same question to the API, from outside the browser.
    api = requests.get(url, timeout=10).json()
    features = [f["properties"] for f in api["features"]]
    assert [items.nth(i).get_attribute("data-code") for i in range(5)] == [f["code"] for f in features]
    kinds = [items.nth(i).get_attribute("data-kind") for i in range(5)]
    assert set(kinds) <= ACCEPTING
    states = [items.nth(i).get_attribute("data-open") for i in range(5)]
    assert states == ["open" if f["open_now"] else "closed" for f in features]
    assert states[0] == "open" and kinds[0] == "provincial_centre" and states[-1] == "closed"
    # Without the procedure, post offices are among the nearest here: the filter did something.
    plain = requests.get(url.split("?")[0], params={"lon": api["query"]["lon"], "lat": api["query"]["lat"]}, timeout=10)
    assert "post_office" in {f["properties"]["kind"] for f in plain.json()["features"]}

    # Vietnamese page: "Đang mở cửa, đóng lúc 11:30" / "Đang đóng cửa, mở lúc T5, 03/09 07:30".
    expect(items.first.locator(".nearest-state")).to_contain_text("Đang mở cửa, đóng lúc 11:30")
    closed = items.nth(4).locator(".nearest-state")
    expect(closed).to_contain_text("Đang đóng cửa, mở lúc")
    expect(closed).to_contain_text("03/09")
    expect(items.first.locator(".nearest-load")).to_contain_text("phút")
    expect(page.locator("#nearest-ranking")).to_contain_text("điểm đang mở cửa trước")

    items.first.locator(".nearest-name").click()
    popup = page.locator(".leaflet-popup-content .popup", has_text="Thời gian chờ ước tính")
    expect(popup).to_contain_text("Đang mở cửa, đóng lúc 11:30")
    expect(popup).to_contain_text(features[0]["name"])

    # Balanced order: each item says its distance with the queue.
    page.locator('input[name="rank"][value="balanced"]').check()
    expect(page.locator("#nearest-list li .nearest-score")).to_have_count(5)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing sticks out sideways
    page.wait_for_timeout(300)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert errors == []
