"""The shared base map and the submit map's address tools in a real browser
(Debian's chromium through Playwright) against the project's own server:

- the main map and a planning map open with the default base map, make no
  request outside 127.0.0.1 (every request is intercepted and recorded), and
  show commune names that do not overlap;
- on a 390 px phone the submit map opens on the province, finds a ward by
  name without diacritics, uses a granted (faked) location, proposes the desk
  of the ward the address is in with its reason (not the nearest desk, which
  is Vũ Ninh ward's), warns in words when the citizen picks Vũ Ninh's desk,
  and the server refuses that submission naming the receiving point; a
  refused location permission is explained."""

import json
import re
import uuid
from collections.abc import Iterator

import numpy as np
import pytest
from playwright.sync_api import Browser, Page, expect
from pyproj import Geod
from shapely import wkb
from shapely.geometry import Point as ShapelyPoint

from tests.browser import (
    chromium,
    in_database,
    new_page,
    record_outside_requests,
    session_delete,
    session_key_for,
)

pytestmark = pytest.mark.browser

GEOD = Geod(ellps="WGS84")
KINH_BAC, VU_NINH = "09187", "09169"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}

expect.set_options(timeout=15_000)


def _spot_nearest_to_vu_ninh_desk() -> tuple[float, float, tuple[float, float, float, float]]:
    """(lon, lat) inside Kinh Bắc ward (shapely) whose nearest commune desk of
    all is Vũ Ninh ward's (pyproj), and the province's box (the communes')."""
    from layers.models import AdministrativeUnit, ServicePoint

    communes = {
        u.code: wkb.loads(bytes(u.geom.wkb)) for u in AdministrativeUnit.objects.filter(era="2025", level="commune")
    }
    ward = communes[KINH_BAC]
    desks = [(d.code, d.geom.x, d.geom.y) for d in ServicePoint.objects.filter(kind="commune_desk", is_active=True)]
    boxes = np.array([shape.bounds for shape in communes.values()])
    province = (boxes[:, 0].min(), boxes[:, 1].min(), boxes[:, 2].max(), boxes[:, 3].max())
    west, south, east, north = ward.bounds
    for lat in np.linspace(south, north, 80):
        for lon in np.linspace(west, east, 80):
            if ward.contains(ShapelyPoint(lon, lat)):
                nearest = min(desks, key=lambda d: GEOD.inv(lon, lat, d[1], d[2])[2])
                if nearest[0] == f"DESK-{VU_NINH}":
                    return round(float(lon), 6), round(float(lat), 6), province
    pytest.fail("no spot of Kinh Bắc ward has Vũ Ninh's desk as its nearest")


@pytest.fixture(scope="module")
def setup(django_db_setup, django_db_blocker) -> Iterator[dict]:
    from dossiers.models import Dossier, Procedure, Sector
    from gisportal.accounts.models import Agency, Profile
    from gisportal.accounts.services import user_ensure

    suffix = uuid.uuid4().hex[:8]
    with django_db_blocker.unblock():
        lon, lat, province = _spot_nearest_to_vu_ninh_desk()
        sector = Sector.objects.create(code=f"t15-browser-{suffix}", name="Hộ tịch (thử T15)")
        procedure = Procedure.objects.create(
            code=f"9.97{int(suffix, 16) % 10000:04d}",
            name=f"Đăng ký khai sinh (thử {suffix})",
            sector=sector,
            agency=Agency.objects.get(code="so-tp"),
            level="commune",
            online_level="full",
            processing_days=1,
        )
        citizen = user_ensure(username=f"t15-citizen-{suffix}", password="x-Strong-pass-1", role="citizen")
        Profile.objects.filter(user=citizen).update(
            full_name="Ngô Thị Hoa", id_number="027095004321", phone="0912 000 222"
        )
        session = session_key_for(citizen)
    try:
        yield {"procedure": procedure, "session": session, "spot": (lon, lat), "province": province}
    finally:
        with django_db_blocker.unblock():
            session_delete(session)
            Dossier.objects.filter(procedure=procedure).delete()
            procedure.delete()
            sector.delete()
            citizen.delete()


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/map/", "/planning/coverage/", "/feedback/", "/feedback/new/"])
def test_every_public_map_page_carries_the_base_map(client, path):
    # Runs first, before the browser starts; being a database test it also
    # makes pytest-django create the test database when this module runs alone.
    html = client.get(path).content.decode()
    match = re.search(r'<script id="base-map-config" type="application/json">(.*?)</script>', html, re.S)
    assert match, path
    config = json.loads(match.group(1))
    assert (config["kind"], config["tiles"]) == ("none", None)  # the offline default
    assert config["context"]["communes"].startswith("/api/v1/admin-units/?level=commune")
    assert html.index("leaflet.js") < html.index("maps/basemap.js")


@pytest.fixture(scope="module")
def browser(setup) -> Iterator[Browser]:
    # After `setup`: while Playwright runs, Django refuses database access in this thread.
    yield from chromium()


def _visible_context_names(page: Page, selector: str) -> list[dict]:
    return page.evaluate(
        """(selector) => Array.from(document.querySelectorAll(selector))
            .filter((node) => getComputedStyle(node).visibility !== "hidden" && node.firstChild)
            .map((node) => {
                const r = node.firstChild.getBoundingClientRect();
                return {text: node.textContent, left: r.left, right: r.right, top: r.top, bottom: r.bottom};
            })""",
        selector,
    )


def _assert_no_overlap(boxes: list[dict]) -> None:
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            apart = (
                a["right"] <= b["left"] or b["right"] <= a["left"] or a["bottom"] <= b["top"] or b["bottom"] <= a["top"]
            )
            assert apart, (a, b)


@pytest.mark.parametrize("path", ["/map/", "/planning/coverage/"])
def test_maps_use_the_offline_base_map_and_show_commune_names(setup, browser, live_server_url, path):
    page, errors = new_page(browser, live_server_url, viewport={"width": 1280, "height": 900})
    outside = record_outside_requests(page, live_server_url)
    page.goto(live_server_url + path)
    expect(page.locator(".leaflet-container").first).to_have_attribute("data-context", "ready")
    if path == "/map/":
        # The main map fits the province once its own boundaries are in: a
        # view set before that was undone by the fit (the names then stayed
        # hidden below zoom 12, in some runs and not others).
        expect(page.locator("#map")).to_have_attribute("aria-busy", "false")
    # No tiles by default: only the portal's own layers.
    assert page.locator(".leaflet-tile").count() == 0
    # At a town's zoom (13) around Bắc Ninh's wards, commune names show and none overlap.
    page.evaluate(
        "() => { const map = window.PortalBaseMap.maps()[0]; map.setView([21.18, 106.07], 13, {animate: false}); }"
    )
    if path == "/planning/coverage/":
        names = page.locator(".context-label--commune:not(.context-label--hidden)")
        expect(names.filter(has_text="Kinh Bắc")).to_have_count(1)
        boxes = _visible_context_names(page, ".context-label--commune")
        assert len(boxes) >= 3
        _assert_no_overlap(boxes)
        # At the province's zoom fewer names fit, and they still do not overlap.
        page.evaluate("() => window.PortalBaseMap.maps()[0].setView([21.2, 106.2], 9, {animate: false})")
        wide = _visible_context_names(page, ".context-label--commune")
        assert len(wide) < 99
        _assert_no_overlap(wide)
    else:
        # The main map names the communes of the chosen era itself, from zoom 12.
        expect(page.locator(".show-commune-labels .commune-label span", has_text="Kinh Bắc").first).to_be_visible()
        # And the shared layer names the service points at street level (16).
        page.evaluate(
            """async () => {
                const answer = await (await fetch("/api/v1/service-points/?kind=provincial_centre")).json();
                const [lon, lat] = answer.features[0].geometry.coordinates;
                window.portalMap.setView([lat, lon], 16, {animate: false});
                // Names added to the map with the view are placed on the next tick.
                await new Promise((resolve) => window.setTimeout(resolve, 50));
            }"""
        )
        points = _visible_context_names(page, ".context-label--point")
        assert points, "service-point names at zoom 16"
        _assert_no_overlap(points)
    page.wait_for_load_state("networkidle")
    assert outside == [], outside
    assert errors == []


def _wait_for_submit_map(page: Page) -> None:
    expect(page.locator("#location-map")).to_have_attribute("aria-busy", "false")


def test_a_phone_finds_the_ward_uses_its_location_and_is_warned_off_the_wrong_desk(
    setup, browser, live_server_url, django_db_blocker
):
    from dossiers.models import Dossier

    lon, lat = setup["spot"]
    page, errors = new_page(
        browser,
        live_server_url,
        session_key=setup["session"],
        geolocation={"longitude": lon, "latitude": lat, "accuracy": 10},
        permissions=["geolocation"],
        **PHONE,
    )
    outside = record_outside_requests(page, live_server_url)
    page.goto(f"{live_server_url}/procedures/{setup['procedure'].code}/submit/")
    _wait_for_submit_map(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # The map opened on the whole province (not a fixed zoom around a fixed centre).
    west, south, east, north = setup["province"]
    shown = page.evaluate(
        "() => { const b = window.submitMap.getBounds();"
        " return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]; }"
    )
    tolerance = 0.02  # degrees: the map's zoom steps are quarter zooms
    assert shown[0] <= west + tolerance and shown[1] <= south + tolerance
    assert shown[2] >= east - tolerance and shown[3] >= north - tolerance

    # 1. Search the ward without diacritics.
    page.locator("#place-search").fill("kinh bac")
    result = page.locator(f"#place-results button[data-code='{KINH_BAC}']")
    expect(result).to_contain_text("Phường Kinh Bắc")
    result.click()
    expect(page.locator("#id_applicant_commune")).to_have_value(KINH_BAC)
    expect(page.locator("#id_receiving_point")).to_have_value(f"DESK-{KINH_BAC}")
    expect(page.locator("#desk-proposed")).to_contain_text("Phường Kinh Bắc")
    expect(page.locator("#desk-proposed")).to_contain_text("Thủ tục cấp xã")

    # 2. The device's location: a spot of Kinh Bắc whose nearest desk is Vũ Ninh's.
    # Its desk proposal is held back until the citizen has picked a desk (step 3),
    # as a slow network would: a late proposal must not undo the citizen's pick.
    held = []

    def located(url: str) -> bool:
        return "/desks/" in url and f"lon={lon:.6f}" in url

    def hold(route) -> None:
        held.append(route)

    page.route(located, hold)
    page.locator("#locate-me").click()
    expect(page.locator("#id_lon")).not_to_have_value("")
    assert (
        GEOD.inv(float(page.locator("#id_lon").input_value()), float(page.locator("#id_lat").input_value()), lon, lat)[
            2
        ]
        < 1.0
    )
    proposed = page.locator("#desk-list li[data-role='receiving']").first
    expect(proposed).to_have_attribute("data-code", f"DESK-{KINH_BAC}")
    expect(proposed.locator(".desk-tag")).to_have_text("đề xuất")
    expect(proposed.locator(".desk-reason")).to_contain_text("nơi có địa chỉ")
    expect(page.locator("#id_receiving_point")).to_have_value(f"DESK-{KINH_BAC}")
    expect(page.locator(f"#desk-list li[data-code='DESK-{VU_NINH}']")).to_have_count(0)
    expect(page.locator("#desk-warning")).to_be_hidden()

    # 3. Picking the nearer desk of Vũ Ninh ward: a warning in words.
    page.locator("#id_receiving_point").select_option(f"DESK-{VU_NINH}")
    warning = page.locator("#desk-warning")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("Cảnh báo")
    expect(warning).to_contain_text("Phường Kinh Bắc")
    expect(warning).to_contain_text("Vũ Ninh")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # The location's proposal (Kinh Bắc's desk again) answers now: the pick stays, so does the warning.
    assert len(held) == 1
    with page.expect_response(lambda answer: "/desks/" in answer.url):
        held[0].continue_()
    page.unroute(located)  # the refused page below asks for the same place again
    expect(page.locator("#desk-list li[data-role='receiving']").first).to_have_attribute(
        "data-code", f"DESK-{KINH_BAC}"
    )
    page.wait_for_timeout(100)  # the answer is drawn a task after it arrives
    expect(page.locator("#id_receiving_point")).to_have_value(f"DESK-{VU_NINH}")
    expect(warning).to_be_visible()

    # 4. Sent anyway: the server refuses it, naming the receiving point; nothing is stored.
    page.locator("#id_applicant_address").fill("Số 5 phố Nguyễn Đăng Đạo")
    page.locator("#submit-button").click()
    expect(page.locator("#form-errors")).to_be_visible()
    field_error = page.locator("#id_receiving_point").locator("xpath=..").locator(".field-error")
    expect(field_error).to_contain_text("Vũ Ninh")
    stored = in_database(django_db_blocker, lambda: Dossier.objects.filter(procedure=setup["procedure"]).count())
    assert stored == 0
    # The refused page explains it again next to the list.
    expect(page.locator("#desk-warning")).to_be_visible()
    assert outside == [], outside
    # The refused form comes back as a 400 page, which the console reports; nothing else.
    assert [e for e in errors if "status of 400 (Bad Request)" not in e or "/submit/" not in e] == []


def test_a_refused_location_permission_is_explained(setup, browser, live_server_url):
    page, errors = new_page(browser, live_server_url, session_key=setup["session"], **PHONE)
    page.goto(f"{live_server_url}/procedures/{setup['procedure'].code}/submit/")
    _wait_for_submit_map(page)
    page.evaluate(
        """() => { navigator.geolocation.getCurrentPosition = (ok, fail) =>
                     fail({code: 1, PERMISSION_DENIED: 1, message: "User denied Geolocation"}); }"""
    )
    page.locator("#locate-me").click()
    expect(page.locator("#locate-error")).to_be_visible()
    expect(page.locator("#locate-error")).to_contain_text("từ chối chia sẻ vị trí")
    assert errors == []
