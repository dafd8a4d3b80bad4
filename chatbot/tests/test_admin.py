"""The admin views of notifications and the Zalo channel: administrators see
the state, attempts and last error of every message and event, and never the
OA's tokens; nobody else gets in."""

import pytest
from django.urls import reverse
from django.utils import timezone

from chatbot.models import ChatUser, OutboundMessage, ZaloEvent, ZaloToken

pytestmark = pytest.mark.django_db

ADMIN_PAGES = [
    "admin:notifications_notification_changelist",
    "admin:notifications_notificationpreference_changelist",
    "admin:chatbot_zaloevent_changelist",
    "admin:chatbot_outboundmessage_changelist",
    "admin:chatbot_chatuser_changelist",
    "admin:chatbot_chatlink_changelist",
    "admin:chatbot_zalotoken_changelist",
]


@pytest.fixture
def staff(people):
    admin = people.administrator
    admin.is_staff = admin.is_superuser = True
    admin.save()
    return admin


@pytest.fixture
def rows(db):
    chat_user = ChatUser.objects.create(zalo_user_id="5551")
    event = ZaloEvent.objects.create(
        event_key="msg:admin-test", event_name="user_send_text", user_id="5551", timestamp_ms=1, payload={}
    )
    failed = OutboundMessage.objects.create(
        chat_user=chat_user,
        event=event,
        payload={"text": "x"},
        status="failed",
        attempts=6,
        message="Zalo -230: window",
    )
    token = ZaloToken.objects.create(
        oa_id="admin-test-oa", access_token="SECRET-ACCESS", refresh_token="SECRET-REFRESH", expires_at=timezone.now()
    )
    return {"event": event, "failed": failed, "token": token}


def test_only_staff_gets_into_the_admin_views(client, people):
    for who in (None, people.citizen_a, people.desk_main, people.leader):
        if who is not None:
            client.force_login(who)
        for page in ADMIN_PAGES:
            answer = client.get(reverse(page))
            assert answer.status_code == 302 and "/admin/login/" in answer["Location"], (who, page)


def test_administrators_see_states_and_errors_but_no_token(client, staff, rows, django_capture_on_commit_callbacks):
    client.force_login(staff)
    for page in ADMIN_PAGES:
        assert client.get(reverse(page)).status_code == 200, page
    replies = client.get(reverse("admin:chatbot_outboundmessage_changelist")).content.decode()
    assert "Zalo -230: window" in replies and "Gửi lỗi / Failed" in replies
    token_page = client.get(reverse("admin:chatbot_zalotoken_change", args=[rows["token"].pk])).content.decode()
    for page in (token_page, client.get(reverse("admin:chatbot_zalotoken_changelist")).content.decode()):
        assert "SECRET-ACCESS" not in page and "SECRET-REFRESH" not in page

    with django_capture_on_commit_callbacks() as published:
        client.post(
            reverse("admin:chatbot_outboundmessage_changelist"),
            {"action": "send_again", "_selected_action": [rows["failed"].pk]},
        )
    again = OutboundMessage.objects.get(pk=rows["failed"].pk)
    assert (again.status, again.attempts) == ("queued", 0) and len(published) == 1
