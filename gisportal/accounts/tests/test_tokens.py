"""API tokens (django-rest-knox): the sign-in contract of
`POST /api/v1/auth/token/`, expiry, logout, and listing and revoking one's
own tokens by API and on the tokens page."""

import datetime as dt

from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from conftest import STRONG_PASSWORD
from gisportal.accounts.models import ApiToken
from gisportal.accounts.services import api_token_create

TOKEN = "/api/v1/auth/token/"
PROTECTED = "/api/v1/dossiers/"


def _with_token(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def test_sign_in_answers_a_token_that_authenticates(api, make_user):
    user = make_user("tok-user")
    before = timezone.now()
    answer = api.post(TOKEN, {"username": "tok-user", "password": STRONG_PASSWORD}, format="json")
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"token", "expiry", "id"}
    expiry = dt.datetime.fromisoformat(body["expiry"])
    ttl = settings.REST_KNOX["TOKEN_TTL"]
    assert before + ttl <= expiry <= timezone.now() + ttl
    # Only a hash is stored: the token text is nowhere in the database.
    stored = ApiToken.objects.get(pk=body["id"])
    assert stored.user == user and body["token"] not in (stored.digest, stored.token_key)
    assert stored.ip_address == "127.0.0.1"
    # The contract: `Authorization: Token <token>`.
    assert _with_token(body["token"]).get(PROTECTED).status_code == 200
    # Form-encoded sign-in, as DRF's obtain_auth_token took, still works.
    form = api.post(TOKEN, {"username": "tok-user", "password": STRONG_PASSWORD})
    assert form.status_code == 200 and form.json()["token"] != body["token"]


def test_an_expired_token_is_refused_with_401(make_user):
    instance, token = api_token_create(user=make_user("tok-expired"))
    client = _with_token(token)
    assert client.get(PROTECTED).status_code == 200
    ApiToken.objects.filter(pk=instance.pk).update(expiry=timezone.now() - dt.timedelta(seconds=1))
    refused = client.get(PROTECTED)
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"] == "Token"
    assert refused.json() == {
        "detail": "Mã truy cập (token) không hợp lệ, đã bị thu hồi hoặc đã hết hạn. / "
        "Invalid, revoked or expired token."
    }
    assert not ApiToken.objects.filter(pk=instance.pk).exists()  # and it is gone


def test_unknown_and_malformed_tokens_are_refused_with_401(db):
    # An old DRF key, no token, two words, a byte that is not UTF-8.
    for header in ("Token " + "0" * 40, "Token", "Token a b", "Token ÿ"):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=header)
        answer = client.get(PROTECTED)
        assert answer.status_code == 401, header
        assert "Invalid, revoked or expired token." in answer.json()["detail"]
    # A NUL in any header is refused before authentication, naming the header.
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token ab\x00cd")
    answer = client.get(PROTECTED)
    assert answer.status_code == 400
    assert "Authorization" in answer.json()


def test_logout_revokes_the_token_used_and_only_it(make_user):
    user = make_user("tok-logout")
    _, used = api_token_create(user=user)
    _, other = api_token_create(user=user)
    assert _with_token(used).post("/api/v1/auth/logout/").status_code == 204
    assert _with_token(used).get(PROTECTED).status_code == 401
    assert _with_token(other).get(PROTECTED).status_code == 200
    # A session has no token to revoke.
    session = APIClient()
    session.force_login(user)
    assert session.post("/api/v1/auth/logout/").status_code == 401


def test_logout_all_revokes_every_token_of_the_caller_only(make_user):
    user, someone = make_user("tok-all"), make_user("tok-all-other")
    tokens = [api_token_create(user=user)[1] for _ in range(3)]
    _, theirs = api_token_create(user=someone)
    assert _with_token(tokens[0]).post("/api/v1/auth/logoutall/").status_code == 204
    assert [_with_token(t).get(PROTECTED).status_code for t in tokens] == [401, 401, 401]
    assert _with_token(theirs).get(PROTECTED).status_code == 200


def test_listing_shows_only_one_s_own_live_tokens(make_user):
    user, someone = make_user("tok-list"), make_user("tok-list-other")
    current, token = api_token_create(user=user, ip_address="203.0.113.5", user_agent="qgis/3.34")
    older, _ = api_token_create(user=user)
    expired, _ = api_token_create(user=user)
    ApiToken.objects.filter(pk=expired.pk).update(expiry=timezone.now() - dt.timedelta(minutes=1))
    theirs, _ = api_token_create(user=someone)

    listed = _with_token(token).get("/api/v1/auth/tokens/")
    assert listed.status_code == 200
    rows = listed.json()
    assert {row["id"] for row in rows} == {current.pk, older.pk}
    mine = next(row for row in rows if row["id"] == current.pk)
    assert mine["current"] is True and mine["ip_address"] == "203.0.113.5" and mine["user_agent"] == "qgis/3.34"
    assert set(mine) == {"id", "created", "expiry", "ip_address", "user_agent", "current"}
    assert all("token" not in row and "digest" not in row for row in rows)
    assert theirs.pk not in {row["id"] for row in rows}
    # Anonymous: 401.
    assert APIClient().get("/api/v1/auth/tokens/").status_code == 401


def test_revoking_one_s_own_token_and_not_another_s(make_user):
    user, someone = make_user("tok-revoke"), make_user("tok-revoke-other")
    _, token = api_token_create(user=user)
    spare, spare_token = api_token_create(user=user)
    theirs, their_token = api_token_create(user=someone)
    client = _with_token(token)

    refused = client.delete(f"/api/v1/auth/tokens/{theirs.pk}/")
    assert refused.status_code == 404
    assert refused.json() == {"detail": "Không có mã truy cập này. / No such token."}
    assert _with_token(their_token).get(PROTECTED).status_code == 200  # untouched
    assert client.delete("/api/v1/auth/tokens/999999999/").status_code == 404

    assert client.delete(f"/api/v1/auth/tokens/{spare.pk}/").status_code == 204
    assert _with_token(spare_token).get(PROTECTED).status_code == 401
    assert client.get(PROTECTED).status_code == 200


def test_the_tokens_page_lists_and_revokes_one_s_own_tokens(client, make_user):
    user, someone = make_user("tok-page"), make_user("tok-page-other")
    assert client.get("/accounts/tokens/").status_code == 302  # sign in first
    mine, token = api_token_create(user=user, ip_address="203.0.113.6", user_agent="curl/8.5")
    theirs, their_token = api_token_create(user=someone, user_agent="their-agent")
    client.force_login(user)

    page = client.get("/accounts/tokens/")
    html = page.content.decode()
    assert page.status_code == 200 and "Mã truy cập API" in html
    assert f'id="token-{mine.pk}"' in html and "curl/8.5" in html and "203.0.113.6" in html
    assert f'id="token-{theirs.pk}"' not in html and "their-agent" not in html

    assert client.post(f"/accounts/tokens/{theirs.pk}/revoke/").status_code == 404
    assert _with_token(their_token).get(PROTECTED).status_code == 200
    assert client.get(f"/accounts/tokens/{mine.pk}/revoke/").status_code == 405  # only by the form's POST

    revoked = client.post(f"/accounts/tokens/{mine.pk}/revoke/", follow=True)
    assert revoked.status_code == 200 and "Đã thu hồi mã" in revoked.content.decode()
    assert _with_token(token).get(PROTECTED).status_code == 401
    assert 'id="no-tokens"' in revoked.content.decode()


def test_the_tokens_page_revokes_all_in_english_too(client, make_user):
    user = make_user("tok-page-all")
    tokens = [api_token_create(user=user)[1] for _ in range(2)]
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    assert "API tokens" in client.get("/accounts/tokens/").content.decode()
    done = client.post("/accounts/tokens/revoke-all/", follow=True)
    assert "2 tokens revoked." in done.content.decode()
    assert [_with_token(t).get(PROTECTED).status_code for t in tokens] == [401, 401]
