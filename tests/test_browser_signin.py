"""Signed out, a citizen opens a procedure on a 390 px phone and taps
"Nộp hồ sơ trực tuyến": the sign-in page offers registration, and after
registering they land on that procedure's submit form, not on "Hồ sơ của
tôi" (Debian's chromium through Playwright, the project's own server)."""

import uuid
from collections.abc import Iterator

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Browser, expect

from tests.browser import chromium, in_database, new_page

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
PROCEDURE = "1.001193"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from chromium()


@pytest.fixture
def username(django_db_blocker) -> Iterator[str]:
    name = f"journey-{uuid.uuid4().hex[:8]}"
    yield name
    in_database(django_db_blocker, lambda: get_user_model().objects.filter(username=name).delete())


@pytest.mark.django_db  # makes pytest-django create the test database the server uses
def test_submit_online_asks_for_a_sign_in_that_comes_back(client):
    answer = client.get(f"/procedures/{PROCEDURE}/submit/")
    assert answer["Location"] == f"/accounts/login/?next=/procedures/{PROCEDURE}/submit/"


@pytest.mark.browser
def test_register_from_submit_online_lands_on_the_form(browser, live_server_url, username):
    page, errors = new_page(browser, live_server_url, **PHONE)
    page.goto(f"{live_server_url}/procedures/{PROCEDURE}/")
    page.get_by_role("link", name="Nộp hồ sơ trực tuyến").first.click()
    expect(page).to_have_url(f"{live_server_url}/accounts/login/?next=/procedures/{PROCEDURE}/submit/")
    expect(page.locator("#password-reset-link")).to_be_visible()
    page.locator("#register-link").click()
    page.fill("#id_username", username)
    page.fill("#id_full_name", "Trần Thị Bình")
    page.fill("#id_email", f"{username}@example.org")
    page.fill("#id_id_number", "027196000123")
    page.fill("#id_password1", "Kinh-Bac-2025!")
    page.fill("#id_password2", "Kinh-Bac-2025!")
    page.get_by_role("button", name="Tạo tài khoản").click()
    expect(page).to_have_url(f"{live_server_url}/procedures/{PROCEDURE}/submit/")
    expect(page.locator("input[name=applicant_name]")).to_have_value("Trần Thị Bình")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert errors == []
