"""Reporting on the map in a real browser (Debian's chromium through
Playwright) at 390 px, against the project's own server with a Celery worker
(the SMS goes through the outbox): a visitor without an account taps the
place, picks the category, sees the report already made nearby, writes,
attaches a photo carrying a GPS position, consents, asks for a code, reads
it from the SMS sandbox (as an administrator), sends; then, once an official
of the routed agency has answered and published, the public page shows the
answer and a photo without any EXIF.

The server and the worker are other processes: the rows are committed here
and removed afterwards."""

import io
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, expect
from pyproj import Geod

from tests.browser import chromium, in_database, new_page, session_delete, session_key_for

from .conftest import KINH_BAC, LOCAL, jpeg_with_gps, point_in

pytestmark = pytest.mark.browser
PHONE = "0988 765 432"
PHONE_E164 = "+84988765432"
SCREENSHOTS = Path("/tmp")
GEOD = Geod(ellps="WGS84")

expect.set_options(timeout=15_000)


@pytest.fixture(scope="module")
def setup(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[dict]:
    from feedback.models import Feedback
    from feedback.services import feedback_submit
    from gisportal.accounts.models import Agency, PhoneCode, SandboxSms, SmsMessage
    from gisportal.accounts.services import user_ensure

    suffix = uuid.uuid4().hex[:8]
    photo = tmp_path_factory.mktemp("photo") / "o-ga.jpg"
    photo.write_bytes(jpeg_with_gps())
    with django_db_blocker.unblock():
        place = point_in(KINH_BAC)
        committee = Agency.objects.get(code=f"ubnd-{KINH_BAC}")
        processor = user_ensure(
            username=f"fb-browser-xl-{suffix}", password="x-Strong-pass-1", role="processing_officer", agency=committee
        )
        leader = user_ensure(
            username=f"fb-browser-ld-{suffix}", password="x-Strong-pass-1", role="leader", agency=committee
        )
        admin = user_ensure(username=f"fb-browser-admin-{suffix}", password="x-Strong-pass-1", role="administrator")
        neighbour = user_ensure(username=f"fb-browser-cd-{suffix}", password="x-Strong-pass-1", role="citizen")
        lon, lat, _ = GEOD.fwd(place[0], place[1], 45, 20)
        earlier = feedback_submit(
            category_code=LOCAL,
            text="Ổ gà đã có người báo.",
            lon=lon,
            lat=lat,
            photos=[],
            reporter_user=neighbour,
            consent_location=True,
        )
        admin_session = session_key_for(admin)
    try:
        yield {
            "place": place,
            "photo": photo,
            "processor": processor,
            "leader": leader,
            "admin_session": admin_session,
            "earlier": earlier.public_id,
        }
    finally:
        with django_db_blocker.unblock():
            session_delete(admin_session)
            for report in Feedback.objects.filter(reporter_phone=PHONE_E164) | Feedback.objects.filter(pk=earlier.pk):
                report.delete()
            PhoneCode.objects.filter(phone=PHONE_E164).delete()
            SmsMessage.objects.filter(phone=PHONE_E164).delete()
            SandboxSms.objects.filter(phone=PHONE_E164).delete()
            for user in (processor, leader, admin, neighbour):
                user.delete()


@pytest.fixture(scope="module")
def browser(setup) -> Iterator[Browser]:
    yield from chromium()


@pytest.mark.django_db
def test_the_pages_answer_without_an_account(client):
    # Runs first, before the browser starts; being a database test it also
    # makes pytest-django create the test database when this module runs alone.
    assert client.get("/feedback/new/").status_code == 200
    assert client.get("/feedback/").status_code == 200
    assert client.get("/feedback/PA-000000-000000/").status_code == 404


def _code_from_sandbox(page, base_url: str) -> str:
    """The newest code the SMS sandbox holds for the phone (the worker sends
    it a moment after the request)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        page.goto(f"{base_url}/accounts/sms-sandbox/?phone={PHONE.replace(' ', '')}")
        items = page.locator("#sms-list .sms-text")
        if items.count():
            return re.search(r"\b(\d{6})\b", items.first.inner_text()).group(1)
        time.sleep(0.5)
    raise AssertionError("no SMS reached the sandbox")


def test_reporting_on_the_map_and_following_the_answer_at_390_px(
    setup, browser, queue_live_server_url, celery_worker_process, django_db_blocker
):
    base = queue_live_server_url
    page, errors = new_page(browser, base, viewport={"width": 390, "height": 844}, ignore_failed_loads_outside=base)
    page.goto(f"{base}/feedback/new/")
    expect(page.locator("#location-map")).to_have_attribute("data-boundaries", "loaded")
    lon, lat = setup["place"]
    # Tap the place: the map is brought to it, then clicked where it is drawn.
    page.evaluate(f"feedbackMap.setView([{lat}, {lon}], 17, {{animate: false}})")
    point = page.evaluate(f"feedbackMap.latLngToContainerPoint([{lat}, {lon}])")
    page.locator("#location-map").click(position={"x": point["x"], "y": point["y"]})
    expect(page.locator("#location-status")).to_contain_text(f"{lat:.4f}"[:6])
    page.select_option("#category", LOCAL)
    # The report already made 20 m away is offered to follow.
    expect(page.locator(f'#nearby-list li[data-report="{setup["earlier"]}"]')).to_be_visible()
    assert "20 m" in page.locator("#nearby-list").inner_text()
    page.fill("#text", "Đèn đường trước nhà văn hoá không sáng, tối rất nguy hiểm.")
    page.set_input_files("#photos", str(setup["photo"]))
    page.check("#consent")
    page.fill("#phone", PHONE)
    page.click("#send-code")
    expect(page.locator("#code-status")).not_to_be_empty()

    admin, admin_errors = new_page(browser, base, session_key=setup["admin_session"])
    code = _code_from_sandbox(admin, base)
    page.fill("#phone-code", code)
    page.screenshot(path=str(SCREENSHOTS / "feedback-form-phone.png"), full_page=True)
    page.click("#submit")
    page.wait_for_url(re.compile(r".*/feedback/PA-\d{6}-\d{6}/$"))
    public_id = page.locator("#report-id").inner_text().strip()
    expect(page.locator("#report-status")).to_have_attribute("data-status", "received")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    def answer_and_publish():
        from feedback.models import Feedback
        from feedback.services import feedback_transition

        report = Feedback.objects.get(public_id=public_id)
        assert (report.agency.code, report.reporter_phone, report.reporter_phone_verified) == (
            f"ubnd-{KINH_BAC}",
            PHONE_E164,
            True,
        )
        feedback_transition(public_id=public_id, action="accept", acting_user=setup["processor"])
        feedback_transition(
            public_id=public_id,
            action="answer",
            acting_user=setup["processor"],
            note="Đã thay bóng đèn ngày hôm nay. Cảm ơn bạn.",
        )
        feedback_transition(public_id=public_id, action="publish", acting_user=setup["leader"])

    in_database(django_db_blocker, answer_and_publish)
    page.reload()
    expect(page.locator("#report-status")).to_have_attribute("data-status", "published")
    expect(page.locator("#answer")).to_contain_text("Đã thay bóng đèn")
    expect(page.locator("#report-text")).to_contain_text("Đèn đường trước nhà văn hoá")
    image = page.locator(".photo-row img").first
    image.scroll_into_view_if_needed()
    page.wait_for_function("document.querySelector('.photo-row img').naturalWidth > 0")
    served = page.request.get(base + image.get_attribute("src"))
    assert not Image.open(io.BytesIO(served.body())).getexif().get_ifd(0x8825)  # no GPS
    page.screenshot(path=str(SCREENSHOTS / "feedback-answer-phone.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert errors == [] and admin_errors == []
