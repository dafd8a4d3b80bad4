"""Submit, then look up, end to end in a real browser (Debian's chromium
through Playwright) against the project's own server: a citizen opens a
procedure's submit page (pre-filled from their account), clicks the address
on the small map (which fills the hidden lon/lat, picks the commune and
proposes the nearest commune desk), uploads a PDF and submits; the dossier
page shows the code; an anonymous visitor then finds the dossier on the
public lookup page. Also: the submit page on a 390 px phone.

The server is another process and sees only committed rows: the procedure,
a commune desk of our own (so the code counter and the nearest desk are
ours alone) and the citizen are committed here and removed afterwards, with
the dossier and the indicator counts it added."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import Browser, expect
from pyproj import Geod
from shapely import wkb
from shapely.geometry import Point as ShapelyPoint

from tests.browser import chromium, in_database, new_page, session_delete, session_key_for

pytestmark = pytest.mark.browser

SUBMIT_SCREENSHOT = Path("/tmp/dossier-submit.png")
DOSSIER_SCREENSHOT = Path("/tmp/dossier-page.png")
LOOKUP_SCREENSHOT = Path("/tmp/dossier-lookup.png")
PHONE_SCREENSHOT = Path("/tmp/dossier-submit-phone.png")
WORKLIST_SCREENSHOT = Path("/tmp/dossier-worklist-phone.png")
# In Bắc Ninh city; our own commune desk stands exactly here, so it is the
# nearest one to a click on this place.
PLACE = (106.0763, 21.1861)
UNIT_IDENTIFIER = "000.99.95.H95"
CITIZEN_ID = "027095004321"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
# A click lands on a whole pixel: a few metres at zoom 16.
TOLERANCE_M = 10.0
GEOD = Geod(ellps="WGS84")

expect.set_options(timeout=15_000)


def _commune_containing(lon: float, lat: float) -> str:
    """The 2025 commune around a place, by shapely on the stored polygons."""
    from layers.models import AdministrativeUnit

    point = ShapelyPoint(lon, lat)
    found = [
        unit.code
        for unit in AdministrativeUnit.objects.filter(era="2025", level="commune").only("code", "geom")
        if wkb.loads(bytes(unit.geom.wkb)).contains(point)
    ]
    assert len(found) == 1, found
    return found[0]


@pytest.fixture(scope="module")
def setup(django_db_setup, django_db_blocker) -> Iterator[dict]:
    from django.contrib.gis.geos import Point
    from django.utils import timezone

    from dossiers.attachments import attachments_remove
    from dossiers.density_counts import density_rebuild
    from dossiers.models import Attachment, CodeCounter, DailyStat, Dossier, Procedure, Sector
    from gisportal.accounts.models import Agency, Profile
    from gisportal.accounts.services import user_ensure
    from layers.models import ServicePoint, ServicePointKind

    suffix = uuid.uuid4().hex[:8]
    with django_db_blocker.unblock():
        today = timezone.localdate()
        # The submission adds to today's indicator counts; put them back afterwards.
        stats_before = list(DailyStat.objects.filter(day=today))
        sector = Sector.objects.create(code=f"h5-browser-{suffix}", name="Lĩnh vực thử nghiệm H5")
        procedure = Procedure.objects.create(
            code=f"9.95{int(suffix, 16) % 10000:04d}",
            name=f"Cấp bản sao trích lục hộ tịch (thử {suffix})",
            sector=sector,
            agency=Agency.objects.get(code="so-tp"),
            level="province",
            online_level="full",
            processing_days=3,
            required_documents=["Tờ khai theo mẫu", "Bản chụp CCCD"],
        )
        desk = ServicePoint.objects.create(
            code=f"H5-DESK-{suffix}",
            kind=ServicePointKind.COMMUNE_DESK,
            name=f"Bộ phận một cửa thử nghiệm {suffix}",
            address="Số 1 đường thử nghiệm",
            geom=Point(*PLACE, srid=4326),
            receiving_unit_identifier=UNIT_IDENTIFIER,
        )
        citizen = user_ensure(username=f"browser-citizen-{suffix}", password="x-Strong-pass-1", role="citizen")
        Profile.objects.filter(user=citizen).update(
            full_name="Phạm Thị Lan", id_number=CITIZEN_ID, phone="0912 000 111"
        )
        officer = user_ensure(
            username=f"browser-desk-{suffix}",
            password="x-Strong-pass-1",
            role="desk_officer",
            agency=Agency.objects.get(code="ttpvhcc"),
            service_point=desk,
        )
        session = session_key_for(citizen)
        officer_session = session_key_for(officer)
        commune = _commune_containing(*PLACE)
    try:
        yield {
            "procedure": procedure,
            "desk": desk,
            "citizen": citizen,
            "session": session,
            "officer_session": officer_session,
            "commune": commune,
        }
    finally:
        with django_db_blocker.unblock():
            session_delete(session)
            session_delete(officer_session)
            dossiers = Dossier.objects.filter(procedure=procedure)
            attachments_remove(
                list(Attachment.objects.filter(dossier__in=dossiers).values_list("stored_name", flat=True))
            )
            dossiers.delete()  # events, attachments and idempotency keys go with them
            CodeCounter.objects.filter(unit_identifier=UNIT_IDENTIFIER).delete()
            DailyStat.objects.filter(day=today).delete()
            DailyStat.objects.bulk_create(stats_before)
            density_rebuild()  # the density counts of the deleted dossiers
            procedure.delete()
            sector.delete()
            officer.delete()
            desk.delete()
            citizen.delete()


@pytest.fixture(scope="module")
def browser(setup) -> Iterator[Browser]:
    # After `setup`: while Playwright runs, Django refuses database access in this thread.
    yield from chromium()


@pytest.mark.django_db
def test_the_submit_page_asks_for_a_sign_in(setup, client):
    # Runs first, before the browser starts; being a database test it also
    # makes pytest-django create the test database when this module runs alone.
    url = reverse("dossier-submit", args=[setup["procedure"].code])
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def _wait_for_map(page) -> None:
    expect(page.locator("#location-map")).to_have_attribute("aria-busy", "false")
    page.wait_for_function(
        "() => { const map = window.submitMap;"
        " return !map._animatingZoom && !(map._panAnim && map._panAnim._inProgress); }"
    )


def test_a_citizen_submits_online_and_anyone_looks_the_dossier_up(
    setup, browser, live_server_url, django_db_blocker, tmp_path
):
    from dossiers.models import Dossier

    procedure, desk = setup["procedure"], setup["desk"]
    page, errors = new_page(
        browser, live_server_url, session_key=setup["session"], viewport={"width": 1280, "height": 900}
    )
    page.goto(f"{live_server_url}/procedures/{procedure.code}/submit/")
    expect(page.locator("#procedure-heading")).to_have_text(procedure.name)
    expect(page.locator("#id_applicant_name")).to_have_value("Phạm Thị Lan")  # from the account
    expect(page.locator("#id_applicant_id_number")).to_have_value(CITIZEN_ID)
    _wait_for_map(page)

    # Click the address on the map, zoomed in as a person would.
    page.locator("#location-map").scroll_into_view_if_needed()
    page.evaluate("([lat, lon]) => window.submitMap.setView([lat, lon], 16, {animate: false})", [PLACE[1], PLACE[0]])
    _wait_for_map(page)
    point = page.evaluate(
        """([lat, lon]) => {
            const map = window.submitMap;
            const box = map.getContainer().getBoundingClientRect();
            const p = map.latLngToContainerPoint([lat, lon]);
            return {x: Math.round(box.left + p.x), y: Math.round(box.top + p.y)};
        }""",
        [PLACE[1], PLACE[0]],
    )
    page.mouse.click(point["x"], point["y"])
    # The commune clicked is chosen; for this province-level procedure a provincial centre is
    # proposed with its reason (issue 15), and any commune desk may receive it too (Decree
    # 118/2025): the citizen picks ours, right there, without a warning.
    expect(page.locator("#id_applicant_commune")).to_have_value(setup["commune"])
    expect(page.locator("#desk-list li[data-role='receiving']").first).to_have_attribute("data-code", "CENTRE-KINHBAC")
    expect(page.locator("#desk-proposed")).to_contain_text("Thủ tục cấp tỉnh")
    page.locator("#id_receiving_point").select_option(desk.code)
    expect(page.locator("#desk-warning")).to_be_hidden()
    lon = float(page.locator("#id_lon").input_value())
    lat = float(page.locator("#id_lat").input_value())
    assert GEOD.inv(lon, lat, *PLACE)[2] < TOLERANCE_M

    page.locator("#id_applicant_address").fill("Số 12 phố Nguyễn Gia Thiều")
    pdf = tmp_path / "to-khai.pdf"
    pdf.write_bytes(PDF)
    page.locator("#id_attachments").set_input_files(str(pdf))
    page.screenshot(path=str(SUBMIT_SCREENSHOT), full_page=True)
    page.locator("#submit-button").click()

    page.wait_for_url(f"{live_server_url}/dossiers/**")
    code = page.locator("#dossier-code").inner_text().strip()
    assert code.startswith(UNIT_IDENTIFIER + "-")
    expect(page.locator("#page-message")).to_contain_text(code)
    # Issue #15: an online dossier waits for the desk; no receipt slip before receipt.
    expect(page.locator("#receipt-link")).to_have_count(0)
    expect(page.locator("#dossier-status")).to_have_text("Chờ tiếp nhận")
    expect(page.locator("#dossier-due")).to_contain_text("tiếp nhận")
    expect(page.locator("#attachments li")).to_have_count(1)
    expect(page.locator("#attachments")).to_contain_text("to-khai.pdf")
    page.screenshot(path=str(DOSSIER_SCREENSHOT), full_page=True)
    assert errors == []

    stored = in_database(
        django_db_blocker,
        lambda: list(
            Dossier.objects.filter(procedure=procedure).values_list(
                "code", "channel", "receiving_point_id", "applicant_id", "applicant_commune__code", "location"
            )
        ),
    )
    assert len(stored) == 1
    stored_code, channel, point_id, applicant_id, commune, location = stored[0]
    assert (stored_code, channel, point_id, applicant_id, commune) == (
        code,
        2,
        desk.pk,
        setup["citizen"].pk,
        setup["commune"],
    )
    assert GEOD.inv(location.x, location.y, *PLACE)[2] < TOLERANCE_M

    # A fresh browser, nobody signed in: the public lookup page.
    visitor, visitor_errors = new_page(browser, live_server_url, viewport={"width": 1280, "height": 900})
    visitor.goto(f"{live_server_url}/dossiers/lookup/?code={code}")
    result = visitor.locator(".lookup-result")
    expect(result).to_contain_text(procedure.name)
    expect(result).to_contain_text("Chờ tiếp nhận")
    expect(result).not_to_contain_text("Phạm Thị Lan")  # no personal data
    visitor.screenshot(path=str(LOOKUP_SCREENSHOT), full_page=True)
    assert visitor_errors == []


def test_the_submit_page_fits_a_phone(setup, browser, live_server_url):
    page, errors = new_page(
        browser,
        live_server_url,
        session_key=setup["session"],
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    page.goto(f"{live_server_url}/procedures/{setup['procedure'].code}/submit/")
    _wait_for_map(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing sticks out sideways
    for selector in ("#location-map", "#id_receiving_point", "#id_attachments", "#submit-button"):
        box = page.locator(selector).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390 + 0.5, (selector, box)
    page.screenshot(path=str(PHONE_SCREENSHOT), full_page=True)
    assert errors == []


def test_the_worklist_is_cards_on_a_phone_and_its_buttons_move_the_dossier(
    setup, browser, live_server_url, django_db_blocker
):
    from dossiers.models import Dossier
    from dossiers.services import Submission, dossier_submit

    def submitted() -> str:
        dossier, _ = dossier_submit(
            submission=Submission(
                procedure_code=setup["procedure"].code,
                applicant_name="Phạm Thị Lan",
                applicant_id_number=CITIZEN_ID,
                applicant_address="Số 12 phố Nguyễn Gia Thiều",
                channel=2,
                receiving_point_code=setup["desk"].code,
            ),
            acting_user=setup["citizen"],
        )
        return dossier.code

    code = in_database(django_db_blocker, submitted)
    page, errors = new_page(
        browser,
        live_server_url,
        session_key=setup["officer_session"],
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    # Issue #15: the online dossier waits for receipt; the desk receives it from its list on the phone.
    page.goto(f"{live_server_url}/worklist/")
    # (The dossier of the submit test above, at the same desk, may wait too.)
    expect(page.locator("#tab-waiting")).to_contain_text("Chờ tiếp nhận (")
    page.locator("#tab-waiting").click()
    assert "status=waiting_receipt" in page.url
    waiting = page.locator(f'#worklist tr[data-code="{code}"]')
    expect(waiting).to_contain_text("Chờ tiếp nhận")
    rows = page.locator("#worklist tbody tr")
    assert all("Chờ tiếp nhận" in text for text in rows.all_inner_texts())
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    receive = waiting.get_by_role("button", name="Tiếp nhận hồ sơ")
    box = receive.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390 + 0.5, box
    receive.click()
    expect(page.locator(".notice--success")).to_contain_text(code)
    received = in_database(
        django_db_blocker, lambda: Dossier.objects.values("status", "received_at", "due_at").get(code=code)
    )
    assert received["status"] == "received"
    assert received["received_at"] is not None and received["due_at"] > received["received_at"]

    page.goto(f"{live_server_url}/worklist/?status=received")
    row = page.locator(f'#worklist tr[data-code="{code}"]')
    expect(row).to_be_visible()
    # One card per dossier, each value with its label: the header row is visually hidden.
    assert page.locator("#worklist thead").bounding_box()["height"] <= 1
    label = row.locator("td").first.evaluate("td => getComputedStyle(td, '::before').content")
    assert label not in ("none", "normal", '""'), label
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    box = row.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390 + 0.5, box
    page.screenshot(path=str(WORKLIST_SCREENSHOT), full_page=True)

    row.get_by_role("button", name="Chuyển cơ quan xử lý").click()
    expect(page.locator(".notice--success")).to_contain_text(code)
    assert "status=received" in page.url  # back to the same filtered list
    status = in_database(django_db_blocker, lambda: Dossier.objects.get(code=code).status)
    assert status == "assigned"
    expect(page.locator(f'#worklist tr[data-code="{code}"]')).to_have_count(0)  # no longer "received"
    assert errors == []
