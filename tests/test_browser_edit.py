"""Editing registry features on the map, end to end in a real browser
(Debian's chromium through Playwright) against the project's own server: an
official of the health department edits a feature's properties, moves a
point (by a click on the map, then by dragging the marker), adds a point and
deletes one; each change goes through the registry API with the session and
the CSRF token and is checked in the database, with a FeatureChange naming
the official. A citizen gets no edit buttons. Positions are checked against
pyproj's geodesic distance from where the test clicked."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from pyproj import Geod

from tests.browser import chromium, in_database, new_page, session_delete, session_key_for

pytestmark = pytest.mark.browser

POPUP_SCREENSHOT = Path("/tmp/edit-popup.png")
EDIT_SCREENSHOT = Path("/tmp/edit-form.png")
MOVE_SCREENSHOT = Path("/tmp/edit-move.png")
ADD_SCREENSHOT = Path("/tmp/edit-add.png")
PHONE_SCREENSHOT = Path("/tmp/edit-phone.png")
REFUSED_SCREENSHOT = Path("/tmp/edit-refused.png")
# In Bắc Ninh city, over a kilometre from the nearest service point marker
# (a click there would open the service point instead).
CENTRE = (106.07, 21.18)
POINTS = {
    "west": (CENTRE[0] - 0.003, CENTRE[1]),
    "east": (CENTRE[0] + 0.003, CENTRE[1]),
    "north": (CENTRE[0], CENTRE[1] + 0.003),
    "south": (CENTRE[0], CENTRE[1] - 0.003),
    "spare": (CENTRE[0] - 0.0015, CENTRE[1] - 0.0015),
}
SCHEMA = [
    {"name": "name", "type": "string", "title": "Tên cơ sở / Name", "required": True},
    {"name": "beds", "type": "integer", "title": "Số giường / Beds"},
    {"name": "public", "type": "boolean", "title": "Công lập / Public"},
    {"name": "opened", "type": "date", "title": "Ngày mở / Opened"},
]
# A click lands on a whole pixel, about 2 m at the zooms used here.
TOLERANCE_M = 5.0
GEOD = Geod(ellps="WGS84")

expect.set_options(timeout=10_000)


@pytest.fixture(scope="module")
def setup(django_db_setup, django_db_blocker) -> Iterator[dict]:
    """A small public point layer of the health department with four
    features, an official of that department and a citizen, each with a
    session; committed (the server is another process) and removed afterwards."""
    from gisportal.accounts.models import Agency
    from gisportal.accounts.services import user_ensure
    from layers.models import Feature
    from layers.registries.services import layer_create_or_update, layer_touch

    suffix = uuid.uuid4().hex[:8]
    with django_db_blocker.unblock():
        agency = Agency.objects.get(code="so-y-te")
        official = user_ensure(
            username=f"browser-edit-yte-{suffix}", password="x-Strong-pass-1", role="processing_officer", agency=agency
        )
        # Loses the right to edit while the form is open.
        demoted = user_ensure(
            username=f"browser-edit-yte2-{suffix}", password="x-Strong-pass-1", role="processing_officer", agency=agency
        )
        citizen = user_ensure(username=f"browser-edit-citizen-{suffix}", password="x-Strong-pass-1", role="citizen")
        layer = layer_create_or_update(
            slug=f"browser-edit-{suffix}",
            title="Phòng khám thử nghiệm / Test clinics",
            owner=agency,
            geometry_type="Point",
            schema=SCHEMA,
            visibility="public",
        )
        ids = {}
        for key, (lon, lat) in POINTS.items():
            feature = Feature.objects.create(
                layer=layer,
                geom=f"SRID=4326;POINT({lon} {lat})",
                properties={"name": f"Phòng khám {key}", "beds": 10, "public": True, "opened": "2020-01-15"},
            )
            ids[key] = feature.pk
        layer_touch(layer)
        sessions = {
            name: session_key_for(user)
            for name, user in (("official", official), ("demoted", demoted), ("citizen", citizen))
        }
    try:
        yield {
            "layer": layer,
            "official": official,
            "demoted": demoted,
            "citizen": citizen,
            "sessions": sessions,
            "ids": ids,
        }
    finally:
        with django_db_blocker.unblock():
            for session_key in sessions.values():
                session_delete(session_key)
            layer.delete()  # its features and change records go with it
            for user in (official, demoted, citizen):
                user.delete()


@pytest.fixture(scope="module")
def browser(setup) -> Iterator[Browser]:
    # After `setup`: while Playwright runs, Django refuses database access in this thread.
    yield from chromium()


@pytest.mark.django_db
def test_the_citizen_may_not_edit_through_the_api(setup, client):
    # Runs first, before the browser starts; being a database test it also
    # makes pytest-django create the test database when this module runs alone.
    client.force_login(setup["citizen"])
    url = f"/api/v1/layers/{setup['layer'].slug}/features/{setup['ids']['west']}/"
    response = client.patch(url, {"properties": {"beds": 1}}, content_type="application/json")
    assert response.status_code == 403


def _open_map(browser: Browser, base_url: str, session_key: str, slug: str, **context_options) -> tuple[Page, list]:
    options = {"viewport": {"width": 1280, "height": 800}, **context_options}
    page, errors = new_page(browser, base_url, session_key=session_key, **options)
    page.goto(f"{base_url}/map/?layers={slug}")
    expect(page.locator("#map")).to_have_attribute("aria-busy", "false")
    _wait_for_tiles(page, slug)
    return page, errors


def _wait_for_tiles(page: Page, slug: str) -> None:
    """Every tile of the view fetched and drawn, and the map still."""
    page.wait_for_function(
        """([slug]) => {
            const map = window.portalMap;
            const layer = window.portalRegistryLayers.get(slug);
            const panning = map._panAnim && map._panAnim._inProgress;
            return layer && layer._map && !layer.isLoading() && !map._animatingZoom && !panning;
        }""",
        arg=[slug],
    )
    page.wait_for_timeout(300)  # tiles fade in


def _screen_point(page: Page, lon: float, lat: float) -> dict:
    """Whole-pixel viewport coordinates of a place on the map."""
    return page.evaluate(
        """([lat, lon]) => {
            const map = window.portalMap;
            const box = map.getContainer().getBoundingClientRect();
            const p = map.latLngToContainerPoint([lat, lon]);
            return {x: Math.round(box.left + p.x), y: Math.round(box.top + p.y)};
        }""",
        [lat, lon],
    )


def _place_at(page: Page, x: float, y: float) -> tuple[float, float]:
    """(lon, lat) of the map under viewport pixel (x, y), by the page's own
    map.containerPointToLatLng."""
    found = page.evaluate(
        """([x, y]) => {
            const map = window.portalMap;
            const box = map.getContainer().getBoundingClientRect();
            const latlng = map.containerPointToLatLng([x - box.left, y - box.top]);
            return [latlng.lng, latlng.lat];
        }""",
        [x, y],
    )
    return found[0], found[1]


def _open_feature(page: Page, lon: float, lat: float) -> None:
    popups = page.locator(".leaflet-popup-content .popup--registry")
    page.evaluate("() => window.portalMap.closePopup()")
    expect(popups).to_have_count(0)  # one popup at a time, even while the last fades out
    point = _screen_point(page, lon, lat)
    page.mouse.click(point["x"], point["y"])
    expect(popups).to_have_count(1)


def _distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    return GEOD.inv(a[0], a[1], b[0], b[1])[2]


def _wait_until_still(page: Page) -> None:
    page.wait_for_function(
        "() => { const map = window.portalMap;"
        " return !map._animatingZoom && !(map._panAnim && map._panAnim._inProgress); }"
    )


def test_an_official_edits_moves_adds_and_deletes_features_on_the_map(
    setup, browser, live_server_url, django_db_blocker
):
    from layers.models import Feature, FeatureChange

    layer, official, ids = setup["layer"], setup["official"], setup["ids"]
    page, errors = _open_map(browser, live_server_url, setup["sessions"]["official"], layer.slug)
    tile_requests: list[tuple[str, int]] = []
    page.on("response", lambda r: f"/tiles/{layer.slug}/" in r.url and tile_requests.append((r.url, r.status)))
    expect(page.locator(f'#edit-help li[data-editable="{layer.slug}"]')).to_be_visible()

    def feature(feature_id: int) -> Feature | None:
        return in_database(django_db_blocker, lambda: Feature.objects.filter(pk=feature_id).first())

    def changes() -> list[tuple[str, int | None, int | None]]:
        return in_database(
            django_db_blocker,
            lambda: list(
                FeatureChange.objects.filter(layer=layer).order_by("at").values_list("action", "feature_id", "user_id")
            ),
        )

    # --- Edit: the form comes from the schema, filled with the feature's values.
    _open_feature(page, *POINTS["west"])
    popup = page.locator(".leaflet-popup-content .popup--registry")
    expect(popup.locator("[data-action]")).to_have_count(3)
    page.wait_for_timeout(250)  # the popup fades in
    page.screenshot(path=str(POPUP_SCREENSHOT))
    popup.locator('[data-action="edit"]').click()
    panel = page.locator(".edit-panel")
    expect(panel).to_be_visible()
    expect(panel.locator("h2")).to_have_text("Sửa đối tượng")
    name = panel.locator('input[name="name"]')
    expect(name).to_have_value("Phòng khám west")
    expect(panel.locator('input[name="beds"]')).to_have_attribute("type", "number")
    expect(panel.locator('select[name="public"]')).to_have_value("true")
    expect(panel.locator('input[name="opened"]')).to_have_attribute("type", "date")
    expect(panel.locator('input[name="opened"]')).to_have_value("2020-01-15")
    expect(panel.locator('label[for="edit-field-1"]')).to_have_text("Số giường")

    # A value only the server refuses (NUL): its message shows next to the field, nothing changes.
    name.fill("Phòng khám\u0000west")
    with page.expect_response(lambda r: r.request.method == "PATCH") as refused:
        panel.locator('button[type="submit"]').click()
    assert refused.value.status == 400
    assert refused.value.request.headers.get("x-csrftoken")
    expect(panel.locator("#edit-field-0-error")).to_contain_text("NUL")
    expect(name).to_have_attribute("aria-invalid", "true")
    assert feature(ids["west"]).properties["name"] == "Phòng khám west"
    assert changes() == []

    name.fill("Phòng khám đã sửa")
    panel.locator('input[name="beds"]').fill("42")
    page.screenshot(path=str(EDIT_SCREENSHOT))
    with page.expect_response(lambda r: r.request.method == "PATCH") as saved:
        panel.locator('button[type="submit"]').click()
    assert saved.value.status == 200, saved.value.text()
    # Only the changed properties were sent; the rest are kept by the API's merge.
    assert saved.value.request.post_data_json == {
        "type": "Feature",
        "properties": {"name": "Phòng khám đã sửa", "beds": 42},
    }
    expect(panel).to_be_hidden()
    expect(page.locator(".edit-toast")).to_have_text("Đã lưu.")
    edited = feature(ids["west"])
    assert edited.properties == {"name": "Phòng khám đã sửa", "beds": 42, "public": True, "opened": "2020-01-15"}
    assert changes() == [("update", ids["west"], official.pk)]
    # The layer's tiles are fetched again, past the browser's cache.
    _wait_for_tiles(page, layer.slug)
    assert any("?edit=" in url and status == 200 for url, status in tile_requests), tile_requests

    # --- Move: click the new place, then drag the marker a little further.
    _open_feature(page, *POINTS["east"])
    page.locator('.leaflet-popup-content [data-action="move"]').click()
    expect(panel.locator("h2")).to_have_text("Di chuyển điểm")
    marker = page.locator(".edit-marker")
    expect(marker).to_be_visible()
    save = panel.locator('button[type="submit"]')
    expect(save).to_be_disabled()
    _wait_until_still(page)  # the map may pan the point out from under the panel
    start = marker.bounding_box()
    start_x, start_y = round(start["x"] + start["width"] / 2), round(start["y"] + start["height"] / 2)
    click_x, click_y = start_x - 90, start_y + 70
    page.mouse.click(click_x, click_y)
    expect(save).to_be_enabled()
    moved_box = marker.bounding_box()
    assert abs(moved_box["x"] + moved_box["width"] / 2 - click_x) <= 1
    # A drag from the marker's centre moves it by the drag's offset.
    page.mouse.move(click_x, click_y)
    page.mouse.down()
    page.mouse.move(click_x + 20, click_y - 15, steps=5)
    page.mouse.move(click_x + 30, click_y - 25, steps=5)
    page.mouse.up()
    target = _place_at(page, click_x + 30, click_y - 25)
    page.screenshot(path=str(MOVE_SCREENSHOT))
    with page.expect_response(lambda r: r.request.method == "PATCH") as moved:
        save.click()
    assert moved.value.status == 200, moved.value.text()
    expect(panel).to_be_hidden()
    expect(page.locator(".edit-marker")).to_have_count(0)
    geom = feature(ids["east"]).geom
    assert _distance_m((geom.x, geom.y), target) < TOLERANCE_M, ((geom.x, geom.y), target)
    assert _distance_m((geom.x, geom.y), POINTS["east"]) > 50  # it did move
    assert changes()[-1] == ("update", ids["east"], official.pk)

    # --- Add a point where the map is clicked, with the form.
    _wait_for_tiles(page, layer.slug)
    page.locator("#add-point-button").click()
    expect(page.locator("#add-point-button")).to_have_attribute("aria-pressed", "true")
    expect(panel.locator("h2")).to_have_text("Điểm mới")
    # The official may add to the hospitals too; the layer on the map comes first.
    expect(panel.locator("#add-point-layer")).to_have_value(layer.slug)
    expect(panel.locator("#add-point-layer option")).to_have_count(2)
    expect(panel.locator(".edit-fields")).to_be_hidden()
    spot = _screen_point(page, CENTRE[0] - 0.0015, CENTRE[1] + 0.0015)
    added_at = _place_at(page, spot["x"], spot["y"])
    page.mouse.click(spot["x"], spot["y"])
    expect(panel.locator(".edit-fields")).to_be_visible()
    # The name is required: the form says so before asking the server.
    posts: list[str] = []
    page.on("request", lambda r: r.method == "POST" and posts.append(r.url))
    panel.locator('button[type="submit"]').click()
    expect(panel.locator("#edit-field-0-error")).to_have_text("Cần nhập giá trị này.")
    page.wait_for_timeout(200)
    assert posts == []
    panel.locator('input[name="name"]').fill("Điểm mới thử")
    panel.locator('input[name="beds"]').fill("7")
    panel.locator('select[name="public"]').select_option("false")
    panel.locator('input[name="opened"]').fill("2025-07-01")
    page.screenshot(path=str(ADD_SCREENSHOT))
    with page.expect_response(lambda r: r.request.method == "POST" and "/features/" in r.url) as created:
        panel.locator('button[type="submit"]').click()
    assert created.value.status == 201, created.value.text()
    new_id = created.value.json()["id"]
    new = feature(new_id)
    assert new.properties == {"name": "Điểm mới thử", "beds": 7, "public": False, "opened": "2025-07-01"}
    assert _distance_m((new.geom.x, new.geom.y), added_at) < TOLERANCE_M
    assert changes()[-1] == ("create", new_id, official.pk)
    # The new point is on the refreshed tiles: a click on it opens it.
    _wait_for_tiles(page, layer.slug)
    _open_feature(page, new.geom.x, new.geom.y)
    expect(page.locator(".leaflet-popup-content .popup--registry dd").first).to_have_text("Điểm mới thử")

    # --- Delete, after a confirmation naming the layer.
    _open_feature(page, *POINTS["south"])
    dialogs: list[str] = []

    def accept(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    with page.expect_response(lambda r: r.request.method == "DELETE") as deleted:
        page.locator('.leaflet-popup-content [data-action="delete"]').click()
    assert deleted.value.status == 204
    assert "Phòng khám thử nghiệm" in dialogs[0]
    expect(page.locator(".edit-toast")).to_have_text("Đã xoá đối tượng.")
    assert feature(ids["south"]) is None
    assert changes()[-1] == ("delete", ids["south"], official.pk)
    # Gone from the map as well: a click there reaches no feature.
    _wait_for_tiles(page, layer.slug)
    page.evaluate("() => window.portalMap.closePopup()")
    point = _screen_point(page, *POINTS["south"])
    page.mouse.click(point["x"], point["y"])
    page.wait_for_timeout(300)
    assert page.locator(".leaflet-popup-content .popup--registry").count() == 0

    assert [action for action, _, _ in changes()] == ["update", "update", "create", "delete"]
    assert all(user_id == official.pk for _, _, user_id in changes())
    assert all(status in (200, 204) for _, status in tile_requests), tile_requests
    # The browser logs the one refused request, the NUL above; nothing else went wrong.
    assert len(errors) == 1 and "status of 400" in errors[0], errors


def test_the_edit_form_fits_a_phone(setup, browser, live_server_url):
    layer = setup["layer"]
    page, errors = _open_map(
        browser,
        live_server_url,
        setup["sessions"]["official"],
        layer.slug,
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
    )
    # The feature in the middle of the small map, clear of the controls.
    page.evaluate("([lon, lat]) => window.portalMap.setView([lat, lon], 16, {animate: false})", list(POINTS["north"]))
    _wait_for_tiles(page, layer.slug)
    _open_feature(page, *POINTS["north"])
    page.locator('.leaflet-popup-content [data-action="edit"]').click()
    panel = page.locator(".edit-panel")
    expect(panel.locator('input[name="name"]')).to_have_value("Phòng khám north")
    page.wait_for_timeout(200)
    box = panel.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390 + 0.5, box
    assert box["y"] + box["height"] <= 844 + 0.5, box
    assert box["height"] <= 844 * 0.56, box  # a sheet over the lower half: the map stays in view above
    # Every field and the buttons can be reached: the sheet scrolls.
    save = panel.locator('button[type="submit"]')
    save.scroll_into_view_if_needed()
    expect(save).to_be_in_viewport()
    field_box = panel.locator('input[name="name"]').bounding_box()
    assert field_box["width"] > 300, field_box  # full-width fields, easy to tap
    page.screenshot(path=str(PHONE_SCREENSHOT))
    panel.locator("button", has_text="Huỷ").click()
    expect(panel).to_be_hidden()
    assert errors == [], errors


def test_a_citizen_sees_the_features_but_no_edit_buttons(setup, browser, live_server_url):
    layer = setup["layer"]
    page, errors = _open_map(browser, live_server_url, setup["sessions"]["citizen"], layer.slug)
    _open_feature(page, *POINTS["north"])
    popup = page.locator(".leaflet-popup-content .popup--registry")
    expect(popup.locator("h3")).to_have_text("Phòng khám thử nghiệm")
    expect(popup).to_contain_text("Phòng khám north")
    assert popup.locator("[data-action]").count() == 0
    assert page.locator("#add-point-button").count() == 0
    assert page.locator("#edit-help").count() == 0
    assert errors == [], errors


def test_refusals_by_the_api_are_shown_in_the_form(setup, browser, live_server_url, django_db_blocker):
    """The official's rights go while the form is open: the API's 403 is
    shown as such; then the feature is deleted elsewhere: a 404 says so.
    Neither changes anything."""
    from gisportal.accounts.models import Profile
    from layers.models import Feature, FeatureChange
    from layers.registries.services import layer_touch

    layer, demoted, spare = setup["layer"], setup["demoted"], setup["ids"]["spare"]
    page, errors = _open_map(browser, live_server_url, setup["sessions"]["demoted"], layer.slug)
    _open_feature(page, *POINTS["spare"])
    page.locator('.leaflet-popup-content [data-action="edit"]').click()
    panel = page.locator(".edit-panel")
    expect(panel.locator('input[name="name"]')).to_have_value("Phòng khám spare")

    def set_agency(code: str) -> None:
        from gisportal.accounts.models import Agency

        Profile.objects.filter(user=demoted).update(agency=Agency.objects.get(code=code))

    in_database(django_db_blocker, lambda: set_agency("so-gddt"))
    panel.locator('input[name="beds"]').fill("99")
    with page.expect_response(lambda r: r.request.method == "PATCH") as refused:
        panel.locator('button[type="submit"]').click()
    assert refused.value.status == 403
    message = panel.locator(".edit-error")
    expect(message).to_have_text("Không được phép: Bạn không có quyền sửa lớp dữ liệu này.")
    expect(panel).to_be_visible()  # the form stays, with what was typed
    expect(panel.locator('input[name="beds"]')).to_have_value("99")

    def delete_spare() -> None:
        set_agency("so-y-te")
        Feature.objects.filter(pk=spare).delete()
        layer_touch(layer)

    in_database(django_db_blocker, delete_spare)
    with page.expect_response(lambda r: r.request.method == "PATCH") as missing:
        panel.locator('button[type="submit"]').click()
    assert missing.value.status == 404
    expect(message).to_have_text("Đối tượng này không còn nữa, hoặc bạn không còn được xem lớp dữ liệu của nó.")
    assert (
        in_database(django_db_blocker, lambda: FeatureChange.objects.filter(layer=layer, user=demoted).exists())
        is False
    )
    _wait_for_tiles(page, layer.slug)  # the layer is drawn again, without the deleted feature
    page.screenshot(path=str(REFUSED_SCREENSHOT))
    # The browser logs the two refused requests; nothing else went wrong.
    assert len(errors) == 2 and all("status of 40" in error for error in errors), errors
