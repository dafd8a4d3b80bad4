"""Against the project's own server: the sign-in lockout sees through a
forged X-Forwarded-For, and the API tokens page works on a 390 px phone (in
Debian's chromium through Playwright), its "revoke" ending the token for
real HTTP callers.

The server is another process and sees only committed rows: the user,
tokens and session are committed here and removed afterwards. The lockout
test talks from 127.0.0.2, a loopback address no other test uses, so the
lock it causes touches no one else."""

import http.client
import json
import random
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from playwright.sync_api import Browser, expect

from conftest import STRONG_PASSWORD
from tests.browser import chromium, new_page, session_delete, session_key_for

PHONE_SCREENSHOT = Path("/tmp/tokens-phone.png")
LONG_AGENT = (
    "Mozilla/5.0(Linux;Android14;SM-A546E)AppleWebKit/537.36(KHTML,likeGecko)Chrome/126.0.0.0MobileSafari/537.36"
)


@pytest.mark.django_db  # also makes pytest-django create the test database the server uses
def test_the_tokens_page_asks_for_a_sign_in(client):
    response = client.get("/accounts/tokens/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/?next=/accounts/tokens/"


def _sign_in(base_url: str, *, source: str, username: str, password: str, forwarded: str) -> int:
    """POST /api/v1/auth/token/ from the loopback address `source`."""
    url = urlsplit(base_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10, source_address=(source, 0))
    try:
        body = json.dumps({"username": username, "password": password})
        headers = {"Content-Type": "application/json", "X-Forwarded-For": forwarded}
        connection.request("POST", "/api/v1/auth/token/", body=body, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def test_the_server_locks_a_client_whatever_x_forwarded_for_it_sends(live_server_url, django_db_blocker):
    from axes.models import AccessAttempt, AccessFailureLog

    run = uuid.uuid4().hex[:8]
    limit = settings.SIGNIN_CLIENT_FAILURE_LIMIT
    try:
        answers = [
            _sign_in(
                live_server_url,
                source="127.0.0.2",
                username=f"e2e-{run}-{n}",  # never the same account twice: only the client limit can lock
                password="guess",
                forwarded=f"198.51.100.{random.randint(1, 254)}, 203.0.113.{random.randint(1, 254)}",
            )
            for n in range(limit + 1)
        ]
        assert answers == [400] * (limit - 1) + [429, 429]
        # Another client is not locked.
        assert (
            _sign_in(
                live_server_url, source="127.0.0.3", username=f"e2e-{run}-x", password="guess", forwarded="127.0.0.2"
            )
            == 400
        )
    finally:
        with django_db_blocker.unblock():
            AccessAttempt.objects.filter(username__startswith=f"e2e-{run}-").delete()
            AccessFailureLog.objects.filter(username__startswith=f"e2e-{run}-").delete()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from chromium()


@pytest.fixture(scope="module")
def holder(django_db_setup, django_db_blocker) -> Iterator[dict]:
    from axes.models import AccessLog

    from gisportal.accounts.services import api_token_create, user_ensure

    with django_db_blocker.unblock():
        user = user_ensure(username=f"tok-browser-{uuid.uuid4().hex[:8]}", password=STRONG_PASSWORD, role="citizen")
        kept, kept_token = api_token_create(user=user, ip_address="203.0.113.50", user_agent="qgis/3.34")
        doomed, doomed_token = api_token_create(user=user, ip_address="2001:db8:ffff::1234", user_agent=LONG_AGENT)
        session = session_key_for(user)
    yield {"user": user, "kept": kept_token, "doomed": doomed, "doomed_token": doomed_token, "session": session}
    with django_db_blocker.unblock():
        session_delete(session)
        AccessLog.objects.filter(username=user.username).delete()
        user.delete()


def _status_with_token(base_url: str, token: str) -> int:
    request = urllib.request.Request(f"{base_url}/api/v1/dossiers/", headers={"Authorization": f"Token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as refused:
        return refused.code


@pytest.mark.browser
def test_the_tokens_page_fits_a_phone_and_revokes_for_real(holder, browser, live_server_url):
    assert _status_with_token(live_server_url, holder["doomed_token"]) == 200
    page, errors = new_page(
        browser,
        live_server_url,
        session_key=holder["session"],
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    page.goto(f"{live_server_url}/accounts/tokens/")
    card = page.locator(f"#token-{holder['doomed'].pk}")
    expect(card).to_contain_text("2001:db8:ffff::1234")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing sticks out sideways
    for box in (card.bounding_box(), page.locator("#revoke-all").bounding_box()):
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390 + 0.5, box
    page.screenshot(path=str(PHONE_SCREENSHOT), full_page=True)

    card.get_by_role("button", name="Thu hồi").click()
    expect(page.locator(".notice--success")).to_contain_text("Đã thu hồi mã")
    expect(page.locator(f"#token-{holder['doomed'].pk}")).to_have_count(0)
    assert _status_with_token(live_server_url, holder["doomed_token"]) == 401
    assert _status_with_token(live_server_url, holder["kept"]) == 200
    assert errors == []
