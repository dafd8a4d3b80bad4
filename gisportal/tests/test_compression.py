"""Answers that hold no secret are gzipped (the commune boundaries shrink
several times); pages with a CSRF token, answers that read the session or an
API token, and POSTs are not (BREACH: gisportal/compression.py)."""

import gzip
import json

import pytest

pytestmark = pytest.mark.django_db

GZIP = {"HTTP_ACCEPT_ENCODING": "gzip, deflate, br"}
COMMUNES = "/api/v1/admin-units/?level=commune&era=2025&limit=500&geometry=simplified"  # what the map asks for


def _body(response) -> bytes:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return gzip.decompress(content) if response.get("Content-Encoding") == "gzip" else content


def test_the_commune_boundaries_are_compressed(client):
    plain = client.get(COMMUNES)
    packed = client.get(COMMUNES, **GZIP)
    assert plain.status_code == packed.status_code == 200
    assert "Content-Encoding" not in plain and packed["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed["Vary"]
    assert json.loads(_body(packed)) == json.loads(plain.content)
    assert len(plain.content) > 100_000
    assert len(packed.content) < len(plain.content) / 3


def test_a_signed_in_visitor_gets_public_data_compressed_too(client, make_user):
    client.force_login(make_user("gzip-citizen"))
    assert client.get(COMMUNES, **GZIP)["Content-Encoding"] == "gzip"


def test_pages_with_a_csrf_token_are_not_compressed(client):
    page = client.get("/accounts/login/", **GZIP)
    assert page.status_code == 200 and "csrfmiddlewaretoken" in page.content.decode()
    assert "Content-Encoding" not in page


def test_personal_answers_are_not_compressed(client, make_user):
    client.force_login(make_user("gzip-citizen-2"))
    mine = client.get("/api/v1/dossiers/", **GZIP)
    assert mine.status_code == 200 and "Content-Encoding" not in mine
    page = client.get("/dossiers/mine/", **GZIP)
    assert page.status_code == 200 and "Content-Encoding" not in page


def test_token_authenticated_answers_are_not_compressed(api, make_user):
    make_user("gzip-token-user")
    from conftest import STRONG_PASSWORD

    token = api.post("/api/v1/auth/token/", {"username": "gzip-token-user", "password": STRONG_PASSWORD}).json()
    assert "Content-Encoding" not in api.get(COMMUNES, HTTP_AUTHORIZATION=f"Token {token['token']}", **GZIP)


def test_an_anonymous_visitor_gets_the_ogc_api_compressed_and_a_signed_in_one_not(client, make_user):
    """The OGC API reads the session to know whose layers to list: without a
    session cookie that session is empty and the answer is everyone's; with one
    it may list a signed-in official's own layers, so it stays uncompressed."""
    anonymous = client.get("/ogc/collections", **GZIP)
    assert anonymous.status_code == 200 and anonymous["Content-Encoding"] == "gzip"
    assert json.loads(_body(anonymous))["collections"] is not None
    client.force_login(make_user("gzip-ogc-citizen"))
    signed_in = client.get("/ogc/collections", **GZIP)
    assert signed_in.status_code == 200 and "Content-Encoding" not in signed_in
