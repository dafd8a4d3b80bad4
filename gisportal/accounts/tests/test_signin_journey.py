"""The way from "Submit online" to the submit form for someone without a
session: the sign-in page offers registration and password reset, both keep
`next` (same-site paths only), and the reset goes by e-mail through
EMAIL_BACKEND (locmem in tests). The axes lockout still applies."""

import re
from urllib.parse import quote

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.cache import cache
from django.test import override_settings

from conftest import STRONG_PASSWORD

pytestmark = pytest.mark.django_db

SUBMIT = "/procedures/1.001193/submit/"
GOOD_ID = "027096654321"


def _registration(**overrides) -> dict:
    return {
        "username": "journey-citizen",
        "full_name": "Nguyễn Văn An",
        "email": "an@example.org",
        "phone": "",
        "id_number": GOOD_ID,
        "password1": "Kinh-Bac-2025!",
        "password2": "Kinh-Bac-2025!",
        **overrides,
    }


def test_the_sign_in_page_offers_registration_keeping_next(client):
    page = client.get(f"/accounts/login/?next={quote(SUBMIT)}").content.decode()
    assert f'href="/accounts/register/?next={quote(SUBMIT)}"' in page
    assert 'href="/accounts/password_reset/"' in page


def test_the_sign_in_page_drops_an_off_site_next_from_the_register_link(client):
    page = client.get("/accounts/login/?next=https://evil.example/x").content.decode()
    link = re.search(r'<a href="([^"]*)" id="register-link">', page).group(1)
    login_form_next = r'<input type="hidden" name="next" value="([^"]*)">\s*<button type="submit"'
    hidden = re.search(login_form_next, page).group(1)
    assert (link, hidden) == ("/accounts/register/", "")


def test_registration_goes_on_to_next(client):
    form = client.get(f"/accounts/register/?next={quote(SUBMIT)}").content.decode()
    assert f'name="next" value="{SUBMIT}"' in form
    response = client.post("/accounts/register/", {**_registration(), "next": SUBMIT})
    assert response.status_code == 302 and response["Location"] == SUBMIT
    assert client.get(SUBMIT).status_code == 200  # signed in: the form itself


@pytest.mark.parametrize("bad", ["https://evil.example/", "//evil.example/", "javascript:alert(1)"])
def test_registration_never_goes_off_site(client, bad):
    response = client.post("/accounts/register/", {**_registration(), "next": bad})
    assert response.status_code == 302 and response["Location"] == "/dossiers/mine/"


def test_a_refused_registration_keeps_next(client):
    response = client.post("/accounts/register/", {**_registration(id_number="123"), "next": SUBMIT})
    assert response.status_code == 400
    assert f'name="next" value="{SUBMIT}"' in response.content.decode()
    assert not get_user_model().objects.filter(username="journey-citizen").exists()


def _reset_link(body: str) -> str:
    return re.search(r"http://testserver(/accounts/reset/\S+/)", body).group(1)


def test_password_reset_by_e_mail(client, make_user):
    user = make_user("reset-user")
    user.email = "reset@example.org"
    user.save(update_fields=["email"])
    page = client.get("/accounts/password_reset/")
    assert page.status_code == 200 and 'name="email"' in page.content.decode()
    response = client.post("/accounts/password_reset/", {"email": "RESET@example.org"})
    assert response.status_code == 302 and response["Location"] == "/accounts/password_reset/done/"
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["reset@example.org"]
    # Vietnamese is the site's language: the e-mail is too.
    assert "Cổng dịch vụ công Bắc Ninh: đặt mật khẩu mới" in mail.outbox[0].subject
    link = _reset_link(mail.outbox[0].body)
    form = client.get(link, follow=True)
    assert form.status_code == 200 and 'name="new_password1"' in form.content.decode()
    done = client.post(
        form.redirect_chain[-1][0], {"new_password1": "Moi-Mat-Khau-9!", "new_password2": "Moi-Mat-Khau-9!"}
    )
    assert done.status_code == 302 and done["Location"] == "/accounts/reset/done/"
    user.refresh_from_db()
    assert user.check_password("Moi-Mat-Khau-9!")
    # The link works once.
    again = client.get(link, follow=True).content.decode()
    assert 'id="reset-link-invalid"' in again


def test_password_reset_in_english(client, make_user):
    user = make_user("reset-user-en")
    user.email = "reset-en@example.org"
    user.save(update_fields=["email"])
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    client.post("/accounts/password_reset/", {"email": "reset-en@example.org"})
    assert mail.outbox[0].subject == "Bắc Ninh public service portal: choose a new password"
    assert "Open this link to choose it" in mail.outbox[0].body


def test_password_reset_says_the_same_for_an_unknown_address(client):
    response = client.post("/accounts/password_reset/", {"email": "nobody@example.org"})
    assert response.status_code == 302 and response["Location"] == "/accounts/password_reset/done/"
    assert mail.outbox == []


@override_settings(AXES_FAILURE_LIMIT=2)
def test_the_lockout_still_holds_and_keeps_the_register_link(client, make_user):
    make_user("locked-user")
    for _ in range(2):
        client.post("/accounts/login/", {"username": "locked-user", "password": "wrong", "next": SUBMIT})
    response = client.post("/accounts/login/", {"username": "locked-user", "password": STRONG_PASSWORD, "next": SUBMIT})
    assert response.status_code == 429 and "_auth_user_id" not in client.session
    assert f'href="/accounts/register/?next={quote(SUBMIT)}"' in response.content.decode()


@override_settings(PASSWORD_RESET_CLIENT_RATE="3/hour", PASSWORD_RESET_ADDRESS_RATE="2/hour")
def test_password_reset_is_limited_per_client_and_per_address(client, make_user):
    cache.clear()
    user = make_user("reset-limited")
    user.email = "limited@example.org"
    user.save(update_fields=["email"])
    answers = [client.post("/accounts/password_reset/", {"email": "Limited@example.org"}) for _ in range(3)]
    # The third request for one address looks the same to the visitor, and sends nothing.
    assert [a.status_code for a in answers] == [302, 302, 302]
    assert len(mail.outbox) == 2
    refused = client.post("/accounts/password_reset/", {"email": "limited@example.org"})
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "Thiết bị này đã gửi quá nhiều yêu cầu" in refused.content.decode()
    assert len(mail.outbox) == 2
    # Another client is not held back by this one.
    other = client.post("/accounts/password_reset/", {"email": "x@example.org"}, REMOTE_ADDR="192.0.2.77")
    assert other.status_code == 302


def test_password_change_on_the_portal_s_own_page(client, make_user):
    user = make_user("change-user")
    client.force_login(user)
    page = client.get("/accounts/password_change/").content.decode()
    assert "<h1>Đổi mật khẩu</h1>" in page and 'name="old_password"' in page
    assert "admin/" not in page  # not Django admin's page and breadcrumbs
    wrong = client.post(
        "/accounts/password_change/",
        {"old_password": "not-it", "new_password1": "Moi-Mat-Khau-9!", "new_password2": "Moi-Mat-Khau-9!"},
    )
    assert wrong.status_code == 200 and 'role="alert"' in wrong.content.decode()
    user.refresh_from_db()
    assert user.check_password(STRONG_PASSWORD)  # nothing changed
    done = client.post(
        "/accounts/password_change/",
        {"old_password": STRONG_PASSWORD, "new_password1": "Moi-Mat-Khau-9!", "new_password2": "Moi-Mat-Khau-9!"},
    )
    assert done.status_code == 302 and done["Location"] == "/accounts/password_change/done/"
    user.refresh_from_db()
    assert user.check_password("Moi-Mat-Khau-9!")
    assert "Mật khẩu mới đã được lưu." in client.get(done["Location"]).content.decode()
