"""Officials and citizens sign in on the portal's own page, not the admin."""

import pytest

from conftest import STRONG_PASSWORD


@pytest.mark.parametrize("role", ["processing_officer", "citizen"])
def test_sign_in_and_return_to_the_page_asked_for(client, make_user, role):
    make_user("login-user", role=role, agency="so-y-te" if role != "citizen" else None)
    page = client.get("/accounts/login/?next=/map/")
    assert page.status_code == 200 and 'name="password"' in page.content.decode()
    response = client.post("/accounts/login/", {"username": "login-user", "password": STRONG_PASSWORD, "next": "/map/"})
    assert response.status_code == 302 and response["Location"] == "/map/"
    assert client.session.get("_auth_user_id")


def test_wrong_password_is_refused_with_a_message(client, make_user):
    make_user("login-user2")
    response = client.post("/accounts/login/", {"username": "login-user2", "password": "wrong"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert 'role="alert"' in response.content.decode()


def test_sign_in_never_redirects_off_site(client, make_user):
    make_user("login-user3")
    response = client.post(
        "/accounts/login/",
        {"username": "login-user3", "password": STRONG_PASSWORD, "next": "https://evil.example/"},
    )
    assert response.status_code == 302 and response["Location"] == "/map/"
