"""Citizens create their own account: the citizen ID number is checked
(format, one account per number), travels in the POST body only, and the
new citizen is signed in and sent to their dossiers."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from gisportal.accounts.models import Profile, Role

pytestmark = pytest.mark.django_db

GOOD_ID = "027096123456"


def _data(**overrides) -> dict:
    data = {
        "username": "h5-new-citizen",
        "full_name": "Lê Thị Hoa",
        "email": "hoa@example.org",
        "phone": "0912 345 678",
        "id_number": GOOD_ID,
        "password1": "Kinh-Bac-2025!",
        "password2": "Kinh-Bac-2025!",
    }
    data.update(overrides)
    return data


def test_register_creates_a_signed_in_citizen(client):
    page = client.get(reverse("register"))
    assert page.status_code == 200 and 'name="id_number"' in page.content.decode()
    response = client.post(reverse("register"), _data())
    assert response.status_code == 302
    assert response["Location"] == reverse("my-dossiers") == "/dossiers/mine/"
    user = get_user_model().objects.get(username="h5-new-citizen")
    assert user.check_password("Kinh-Bac-2025!") and user.email == "hoa@example.org"
    profile = Profile.objects.get(user=user)
    assert (profile.role, profile.id_number, profile.full_name, profile.phone) == (
        Role.CITIZEN,
        GOOD_ID,
        "Lê Thị Hoa",
        "0912 345 678",
    )
    assert client.session.get("_auth_user_id") == str(user.pk)
    # The ID number is never in the redirect; the next page shows it masked.
    assert GOOD_ID not in response["Location"]
    mine = client.get(response["Location"]).content.decode()
    assert GOOD_ID not in mine and "********3456" in mine


@pytest.mark.parametrize(
    ("bad_id", "message"),
    [
        ("12345", "12 digits"),
        ("02709612345x", "12 digits"),
        ("999096123456", "province code"),
    ],
)
def test_a_bad_id_number_is_refused(client, bad_id, message):
    response = client.post(reverse("register"), _data(id_number=bad_id))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not get_user_model().objects.filter(username="h5-new-citizen").exists()
    assert "_auth_user_id" not in client.session


def test_a_second_account_with_the_same_id_number_is_refused(client, make_user):
    first = make_user("h5-first-owner")
    Profile.objects.filter(user=first).update(id_number=GOOD_ID)
    response = client.post(reverse("register"), _data())
    assert response.status_code == 400
    assert "already has an account" in response.content.decode()
    assert not get_user_model().objects.filter(username="h5-new-citizen").exists()
    assert Profile.objects.filter(id_number=GOOD_ID).count() == 1


def test_the_service_refuses_a_duplicate_id_number_too(make_user):
    from django.core.exceptions import ValidationError

    from gisportal.accounts.services import citizen_register

    citizen_register(
        username="h5-svc-1", password="Kinh-Bac-2025!", full_name="A", email="", phone="", id_number=GOOD_ID
    )
    with pytest.raises(ValidationError) as refused:
        citizen_register(
            username="h5-svc-2", password="Kinh-Bac-2025!", full_name="B", email="", phone="", id_number=GOOD_ID
        )
    assert "id_number" in refused.value.message_dict
    assert not get_user_model().objects.filter(username="h5-svc-2").exists()


def test_passwords_must_match_and_be_strong_and_the_user_name_free(client, make_user):
    make_user("h5-taken")
    response = client.post(reverse("register"), _data(username="H5-TAKEN", password1="12345678", password2="12345679"))
    assert response.status_code == 400
    page = response.content.decode()
    assert "This user name is taken" in page and "The two passwords differ" in page
    response = client.post(reverse("register"), _data(password1="12345678", password2="12345678"))
    assert response.status_code == 400
    assert not get_user_model().objects.filter(username="h5-new-citizen").exists()


def test_a_user_name_with_spaces_is_refused_in_both_languages(client):
    response = client.post(reverse("register"), _data(username="le thi hoa"))
    assert response.status_code == 400
    assert "Tên đăng nhập chỉ gồm" in response.content.decode() and "Letters, digits" in response.content.decode()


def test_what_was_typed_stays_but_not_the_passwords(client):
    response = client.post(reverse("register"), _data(id_number="12345"))
    page = response.content.decode()
    assert 'value="Lê Thị Hoa"' in page and 'value="hoa@example.org"' in page
    assert "Kinh-Bac-2025!" not in page


def test_the_id_number_is_not_logged(client, caplog):
    with caplog.at_level("DEBUG"):
        client.post(reverse("register"), _data())
        client.post(reverse("register"), _data(username="h5-dup"))  # refused: the same ID again
    assert GOOD_ID not in caplog.text
