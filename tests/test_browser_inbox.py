"""The notification inbox on a 390 px phone (Debian's chromium through
Playwright), against the project's own server: a citizen whose dossier was
received and then refused sees both notifications and the unread count in
the menu, marks them read, and chooses English and no e-mail; the inbox is
then English. And the map link the Zalo chat sends (`/map/?near=LON,LAT`)
opens the map with the nearest points of that spot listed."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from notifications.models import NotificationPreference
from tests.browser import chromium, in_database, new_page, session_delete, session_key_for
from tests.committed_dossiers import committed_dossiers

PHONE_SCREENSHOT = Path("/tmp/inbox-phone.png")
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from chromium()


@pytest.fixture(scope="module")
def told(django_db_setup, django_db_blocker) -> Iterator[dict]:
    with committed_dossiers(django_db_blocker, email="thu@example.org") as made:
        with django_db_blocker.unblock():
            dossier = made.submit()
            made.move(dossier, "refuse", note="Thiếu bản sao giấy khai sinh, xin bổ sung rồi nộp lại hồ sơ mới")
            session = session_key_for(made.citizen)
        yield {"dossier": dossier, "session": session, "citizen": made.citizen}
        with django_db_blocker.unblock():
            session_delete(session)


@pytest.mark.django_db  # also makes pytest-django create the test database the server uses
def test_the_inbox_asks_for_a_sign_in(client):
    answer = client.get("/inbox/")
    assert answer.status_code == 302 and answer["Location"] == "/accounts/login/?next=/inbox/"


def fits(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing sticks out sideways


@pytest.mark.browser
def test_the_inbox_on_a_phone(told, browser, live_server_url, django_db_blocker):
    code = told["dossier"].code
    page, errors = new_page(browser, live_server_url, session_key=told["session"], **PHONE)
    page.goto(f"{live_server_url}/inbox/")
    expect(page.locator("#nav-unread")).to_have_text("2")
    items = page.locator(".inbox-item--unread")
    expect(items).to_have_count(2)
    expect(items.first).to_contain_text(f"Hồ sơ {code}: Từ chối")
    expect(items.first).to_contain_text("Thiếu bản sao giấy khai sinh")
    fits(page)
    for box in (items.first.bounding_box(), page.locator("#read-all").bounding_box()):
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390 + 0.5, box
    page.screenshot(path=str(PHONE_SCREENSHOT), full_page=True)

    page.locator("#read-all").click()
    expect(page.locator(".inbox-item--unread")).to_have_count(0)
    expect(page.locator("#nav-unread")).to_have_count(0)

    page.get_by_role("link", name="Cách nhận thông báo").click()
    page.wait_for_url("**/inbox/settings/")  # measured mid-navigation, the document had no root element yet
    fits(page)
    page.get_by_label("Thư điện tử").uncheck()
    page.get_by_label("English").check()
    page.get_by_role("button", name="Lưu").click()
    expect(page.locator(".notice--success")).to_contain_text("Đã lưu cách nhận thông báo")
    stored = in_database(django_db_blocker, lambda: NotificationPreference.objects.get(user=told["citizen"]))
    assert (stored.inbox, stored.email, stored.zalo, stored.language) == (True, False, True, "en")

    page.goto(f"{live_server_url}/inbox/?lang=en")
    expect(page.locator("h1")).to_have_text("Notifications")
    expect(page.locator("#inbox-summary")).to_contain_text("0 unread")
    assert errors == []


@pytest.mark.browser
def test_the_map_link_of_the_chat_opens_the_map_searching_from_the_point(browser, live_server_url):
    page, errors = new_page(browser, live_server_url, ignore_failed_loads_outside=live_server_url, **PHONE)
    page.goto(f"{live_server_url}/map/?near=106.076300,21.186100")
    expect(page.locator("#nearest-list .nearest-item")).to_have_count(5, timeout=20_000)
    assert errors == []
