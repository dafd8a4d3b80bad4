"""The inbox and the preferences, in the API and on the pages: a citizen reads
and marks their own notifications only; everyone else (anonymous, another
citizen, an official, an administrator) sees none of them and changes
nothing; bad input is a 400 naming the field."""

import pytest
from django.conf import settings
from django.urls import reverse

from notifications.models import Notification, NotificationPreference

pytestmark = pytest.mark.django_db

INBOX = "/api/v1/notifications/"
READ = "/api/v1/notifications/read/"
PREFERENCES = "/api/v1/notifications/preferences/"


@pytest.fixture
def told(submit, drive):
    """Citizen A's dossier, refused: two inbox notifications (receive, refuse)."""
    dossier = submit(applicant_email="a@example.org")
    drive(dossier, "refused")
    return dossier


def unread_of(user) -> int:
    return Notification.objects.filter(user=user, channel="inbox", read_at__isnull=True).count()


def test_a_citizen_reads_their_inbox_newest_first_and_marks_it_read(client_as, people, told):
    api = client_as(people.citizen_a)
    answer = api.get(INBOX)
    assert answer.status_code == 200
    body = answer.json()
    assert (body["count"], body["unread"]) == (2, 2)
    assert [item["action"] for item in body["results"]] == ["refuse", "receive"]
    first = body["results"][0]
    assert first["dossier"] == told.code and first["read"] is False
    assert first["subject"] == f"Hồ sơ {told.code}: Từ chối"
    assert api.get(INBOX, {"unread": "true", "limit": 1}).json()["next"] is not None

    assert api.post(READ, {"ids": [first["id"]]}, format="json").json() == {"marked": 1}
    assert api.get(INBOX, {"unread": "true"}).json()["count"] == 1
    assert api.post(READ, {}, format="json").json() == {"marked": 1}
    assert unread_of(people.citizen_a) == 0


@pytest.mark.parametrize("who", ["citizen_b", "processor", "desk_main", "administrator"])
def test_nobody_else_sees_or_marks_a_citizens_notifications(client_as, people, told, who):
    api = client_as(getattr(people, who))
    body = api.get(INBOX).json()
    assert (body["count"], body["unread"], body["results"]) == (0, 0, [])
    ids = list(Notification.objects.filter(user=people.citizen_a).values_list("pk", flat=True))
    assert api.post(READ, {"ids": ids}, format="json").json() == {"marked": 0}
    assert unread_of(people.citizen_a) == 2


def test_anonymous_callers_get_401_and_the_pages_ask_for_a_sign_in(api, client, told, people):
    assert api.get(INBOX).status_code == 401
    assert api.post(READ, {}, format="json").status_code == 401
    assert api.get(PREFERENCES).status_code == 401
    assert api.patch(PREFERENCES, {"email": False}, format="json").status_code == 401
    for path in (reverse("inbox"), reverse("notification-settings")):
        answer = client.get(path)
        assert answer.status_code == 302 and answer["Location"].startswith("/accounts/login/")
    assert client.post(reverse("inbox-read")).status_code == 302
    assert unread_of(people.citizen_a) == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ids": "all"}, "ids"),
        ({"ids": [1, "2"]}, "ids"),
        ({"ids": [True]}, "ids"),
        ({"ids": [0]}, "ids"),
        ({"every": True}, "every"),
        ([1, 2], "body"),
    ],
)
def test_bad_mark_read_bodies_are_400_naming_the_field_and_change_nothing(client_as, people, told, body, field):
    answer = client_as(people.citizen_a).post(READ, body, format="json")
    assert answer.status_code == 400
    assert field in answer.json() and " / " in answer.json()[field][0]
    assert unread_of(people.citizen_a) == 2


def test_preferences_read_and_change_through_the_api(client_as, people):
    api = client_as(people.citizen_a)
    assert api.get(PREFERENCES).json() == {
        "inbox": True,
        "email": True,
        "zalo": True,
        "language": "vi",
        "email_address": people.citizen_a.email,
    }
    changed = api.patch(PREFERENCES, {"email": False, "language": "en"}, format="json")
    assert changed.status_code == 200
    assert changed.json()["email"] is False and changed.json()["language"] == "en"
    stored = NotificationPreference.objects.get(user=people.citizen_a)
    assert (stored.inbox, stored.email, stored.zalo, stored.language) == (True, False, True, "en")


@pytest.mark.parametrize(
    ("body", "field"),
    [({"email": "no"}, "email"), ({"language": "fr"}, "language"), ({"sms": True}, "sms"), ("x", "body")],
)
def test_bad_preferences_are_400_naming_the_field_and_change_nothing(client_as, people, body, field):
    answer = client_as(people.citizen_a).patch(PREFERENCES, body, format="json")
    assert answer.status_code == 400 and field in answer.json()
    assert not NotificationPreference.objects.filter(user=people.citizen_a).exists()


def test_the_inbox_page_shows_the_unread_count_in_the_menu_and_marks_read(client, people, told):
    client.force_login(people.citizen_a)
    page = client.get(reverse("inbox"))
    html = page.content.decode()
    assert page.status_code == 200
    assert '<span class="nav-count" id="nav-unread"' in html and ">2</span>" in html
    assert html.count('class="inbox-item inbox-item--unread"') == 2
    assert f"Hồ sơ {told.code}: Từ chối" in html
    assert "Thông báo" in html and "Đánh dấu đã đọc tất cả" in html

    other = Notification.objects.get(user=people.citizen_a, action="receive", channel="inbox")
    client.force_login(people.citizen_b)
    client.post(reverse("inbox-read"), {"id": other.pk})
    assert unread_of(people.citizen_a) == 2  # not B's to mark

    client.force_login(people.citizen_a)
    client.post(reverse("inbox-read"), {"id": other.pk})
    assert unread_of(people.citizen_a) == 1
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    html = client.get(reverse("inbox")).content.decode()
    assert "Notifications" in html and "Mark all as read" in html and 'id="nav-unread"' in html


def test_the_settings_page_saves_the_choice(client, people):
    client.force_login(people.citizen_a)
    assert "Cách nhận thông báo" in client.get(reverse("notification-settings")).content.decode()
    answer = client.post(reverse("notification-settings"), {"inbox": "on", "zalo": "on", "language": "en"})
    assert answer.status_code == 302
    stored = NotificationPreference.objects.get(user=people.citizen_a)
    assert (stored.inbox, stored.email, stored.zalo, stored.language) == (True, False, True, "en")
    refused = client.post(reverse("notification-settings"), {"email": "on", "language": "xx"})
    assert refused.status_code == 400
    assert NotificationPreference.objects.get(user=people.citizen_a).language == "en"
