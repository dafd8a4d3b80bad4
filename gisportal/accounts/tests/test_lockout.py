"""Sign-in lockout (django-axes with the portal's rules,
gisportal.accounts.lockout), on the API and the login page, with the real
limits of the settings: per account from any client, per client to any
account, a bilingual 429 with Retry-After, an audit row per failure, and
sign-in again after the cool-off."""

import datetime as dt
import random

from axes.models import AccessAttempt, AccessFailureLog
from django.conf import settings
from django.db.models import F

from conftest import STRONG_PASSWORD
from gisportal.accounts.models import ApiToken

TOKEN = "/api/v1/auth/token/"
LOGIN = "/accounts/login/"
PROTECTED = "/api/v1/dossiers/"


def _token_sign_in(api, username: str, password: str, ip: str, **headers):
    return api.post(TOKEN, {"username": username, "password": password}, format="json", REMOTE_ADDR=ip, **headers)


def _page_sign_in(client, username: str, password: str, ip: str):
    return client.post(LOGIN, {"username": username, "password": password, "next": "/map/"}, REMOTE_ADDR=ip)


def _limits() -> tuple[int, int]:
    return settings.AXES_FAILURE_LIMIT, settings.SIGNIN_CLIENT_FAILURE_LIMIT


def test_the_settings_lock_an_account_before_fifty_guesses():
    """What the tests below rely on (the defaults are 10 and 50)."""
    account, client = _limits()
    assert 1 < account <= 50 and account < client
    assert dt.timedelta(minutes=1) <= settings.AXES_COOLOFF_TIME


def test_fifty_wrong_passwords_lock_the_account_on_the_api(api, make_user):
    make_user("lock-api")
    account_limit, _ = _limits()
    answers = [_token_sign_in(api, "lock-api", f"guess-{n}", "203.0.113.10").status_code for n in range(50)]
    assert answers == [400] * (account_limit - 1) + [429] * (50 - account_limit + 1)

    # The right password, even from another client, is refused while locked.
    refused = _token_sign_in(api, "lock-api", STRONG_PASSWORD, "198.51.100.10")
    assert refused.status_code == 429
    detail = refused.json()["detail"]
    assert "Đăng nhập tạm bị khóa" in detail and "Sign-in is locked" in detail and " / " in detail
    assert refused["Content-Type"].startswith("application/json")
    assert int(refused["Retry-After"]) == int(settings.AXES_COOLOFF_TIME.total_seconds())
    assert not ApiToken.objects.filter(user__username="lock-api").exists()

    # The audit: one row per failure saying who, from where, what, when, locked or not.
    failures = AccessFailureLog.objects.filter(username="lock-api").order_by("attempt_time", "id")
    assert failures.count() == 51
    assert [f.locked_out for f in failures] == [False] * (account_limit - 1) + [True] * (51 - account_limit + 1)
    first, last = failures.first(), failures.last()
    assert (first.ip_address, first.path_info) == ("203.0.113.10", TOKEN)
    assert (last.ip_address, last.path_info) == ("198.51.100.10", TOKEN)
    assert first.attempt_time <= last.attempt_time and last.attempt_time is not None
    assert str(last).startswith("Failed access: user lock-api locked out")
    # No password is kept anywhere in the attempt rows.
    assert not AccessAttempt.objects.filter(post_data__contains="guess-").exists()


def test_fifty_wrong_passwords_lock_the_account_on_the_login_page(client, make_user):
    make_user("lock-page")
    account_limit, _ = _limits()
    answers = [_page_sign_in(client, "lock-page", f"guess-{n}", "203.0.113.11").status_code for n in range(50)]
    assert answers == [200] * (account_limit - 1) + [429] * (50 - account_limit + 1)

    refused = _page_sign_in(client, "lock-page", STRONG_PASSWORD, "198.51.100.11")
    assert refused.status_code == 429 and "_auth_user_id" not in client.session
    html = refused.content.decode()
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    assert 'role="alert"' in html and "Đăng nhập tạm bị khóa" in html and f"{minutes} phút" in html
    assert 'name="password"' in html and 'value="lock-page"' in html  # the form, to try again later
    assert int(refused["Retry-After"]) == int(settings.AXES_COOLOFF_TIME.total_seconds())

    # In English for a visitor who chose English.
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    english = _page_sign_in(client, "lock-page", STRONG_PASSWORD, "198.51.100.11")
    assert english.status_code == 429
    assert "Sign-in is locked after too many failed attempts" in english.content.decode()
    assert f"{minutes} minutes" in english.content.decode()
    assert AccessFailureLog.objects.filter(username="lock-page", path_info=LOGIN, locked_out=True).exists()


def test_the_lock_is_per_account_and_then_per_client(api, make_user):
    for name in ("victim", "neighbour", "third"):
        make_user(name)
    account_limit, client_limit = _limits()
    attacker, elsewhere = "203.0.113.20", "198.51.100.20"

    # The account limit locks the account, from every client...
    assert [_token_sign_in(api, "victim", "guess", attacker).status_code for _ in range(account_limit)][-1] == 429
    assert _token_sign_in(api, "victim", STRONG_PASSWORD, elsewhere).status_code == 429
    # ...but not the client: another account from there still signs in.
    assert _token_sign_in(api, "neighbour", STRONG_PASSWORD, attacker).status_code == 200

    # Guesses spread over accounts, each below the account limit, lock the
    # client at its own limit, whatever X-Forwarded-For it sends.
    spread = client_limit - account_limit
    answers = [
        _token_sign_in(
            api, f"nobody-{n}", "guess", attacker, HTTP_X_FORWARDED_FOR=f"198.51.100.{random.randint(1, 254)}"
        ).status_code
        for n in range(spread)
    ]
    assert answers == [400] * (spread - 1) + [429]
    assert _token_sign_in(api, "third", STRONG_PASSWORD, attacker).status_code == 429
    assert _token_sign_in(api, "third", STRONG_PASSWORD, elsewhere).status_code == 200


def test_sign_in_works_again_after_the_cool_off(api, client, make_user):
    make_user("cooled")
    account_limit, _ = _limits()
    for _ in range(account_limit):
        _token_sign_in(api, "cooled", "guess", "203.0.113.30")
    assert _token_sign_in(api, "cooled", STRONG_PASSWORD, "203.0.113.30").status_code == 429
    assert _page_sign_in(client, "cooled", STRONG_PASSWORD, "203.0.113.30").status_code == 429

    # The cool-off passes (the attempts move back in time, as the clock would move on).
    moved = AccessAttempt.objects.filter(username="cooled").update(
        attempt_time=F("attempt_time") - settings.AXES_COOLOFF_TIME - dt.timedelta(seconds=1)
    )
    assert moved >= 1
    signed_in = _token_sign_in(api, "cooled", STRONG_PASSWORD, "203.0.113.30")
    assert signed_in.status_code == 200
    api.credentials(HTTP_AUTHORIZATION=f"Token {signed_in.json()['token']}")
    assert api.get(PROTECTED).status_code == 200
    page = _page_sign_in(client, "cooled", STRONG_PASSWORD, "203.0.113.30")
    assert page.status_code == 302 and client.session.get("_auth_user_id")


def test_a_wrong_password_below_the_limit_is_a_plain_bilingual_400(api, make_user):
    make_user("typo")
    refused = _token_sign_in(api, "typo", "wrong", "203.0.113.40")
    assert refused.status_code == 400
    assert refused.json() == {
        "non_field_errors": ["Sai tên đăng nhập hoặc mật khẩu. / Wrong user name or password."],
    }
    missing = api.post(TOKEN, {"username": "typo"}, format="json", REMOTE_ADDR="203.0.113.40")
    assert missing.status_code == 400
    assert missing.json() == {"password": ["Trường này là bắt buộc. / This field is required."]}
    for body, field in (({"username": "ty\x00po", "password": "x"}, "username"), ({"username": ["typo"]}, "username")):
        refused = api.post(TOKEN, body, format="json", REMOTE_ADDR="203.0.113.40")
        assert refused.status_code == 400 and " / " in refused.json()[field][0], refused.json()
    assert _token_sign_in(api, "typo", STRONG_PASSWORD, "203.0.113.40").status_code == 200


def test_administrators_see_the_failures_and_the_tokens(admin_client, api, make_user):
    make_user("audited")
    _token_sign_in(api, "audited", "guess", "203.0.113.60")
    _token_sign_in(api, "audited", STRONG_PASSWORD, "203.0.113.60")
    failures = admin_client.get("/admin/axes/accessfailurelog/")
    assert failures.status_code == 200 and "audited" in failures.content.decode()
    assert "203.0.113.60" in admin_client.get("/admin/axes/accessattempt/").content.decode()
    tokens = admin_client.get("/admin/accounts/apitoken/")
    assert tokens.status_code == 200 and "audited" in tokens.content.decode()
    assert admin_client.get("/admin/accounts/apitoken/add/").status_code == 403
