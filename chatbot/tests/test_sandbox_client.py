"""The portal's Zalo client against the sandbox OA served by the project's own
server (real HTTP): the sandbox enforces Zalo's rules (token expiry, the
reply window, single-use refresh tokens, an outage, a slow answer) and the
client recovers where it can: it refreshes an expired token and sends, it
retries after an outage, and it does not send twice a message whose answer
was lost.

The sandbox is another process: its rows (followers, tokens, rules) are
committed by a module fixture or by statements of their own (`commit_sql`),
and removed afterwards; the portal's rows stay in each test's transaction."""

import datetime as dt
import json
import time
import uuid

import pytest
import requests
from django.test import override_settings
from django.utils import timezone

from chatbot.client import zalo_headers
from chatbot.models import ChatUser, OutboundMessage, ZaloToken
from chatbot.sandbox.models import SandboxFollower, SandboxMessage, SandboxSettings, SandboxToken
from chatbot.sandbox.services import sandbox_token_pair
from chatbot.services import outbound_send
from gisportal.delivery import delivery_retry
from tests.live import commit_sql

pytestmark = pytest.mark.django_db


TESTS = 6  # one follower and one token pair each


@pytest.fixture(scope="module")
def sandbox(live_server_url, django_db_setup, django_db_blocker):
    """Committed for the sandbox's process: followers who just wrote to the
    OA and token pairs, one of each per test; the rules as they were restored
    and everything removed afterwards."""
    with django_db_blocker.unblock():
        rules = SandboxSettings.current()
        saved = {name: getattr(rules, name) for name in ("reply_window_s", "token_ttl_s", "latency_s", "outage")}
        first_token = SandboxToken.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        followers = [
            SandboxFollower.objects.create(
                user_id=str(uuid.uuid4().int)[:18], display_name="Thử nghiệm", last_interaction_at=timezone.now()
            )
            for _ in range(TESTS)
        ]
        pairs = [sandbox_token_pair() for _ in range(TESTS)]
    try:
        yield {"base": live_server_url, "free": list(zip(followers, pairs, strict=True))}
    finally:
        with django_db_blocker.unblock():
            SandboxFollower.objects.filter(pk__in=[f.pk for f in followers]).delete()
            SandboxToken.objects.filter(pk__gt=first_token).delete()
            SandboxSettings.objects.filter(pk=1).update(**saved)


@pytest.fixture
def zalo(sandbox, db):
    """This test's follower and token pair; the portal's client pointed at
    the sandbox, holding the pair (in the test's transaction)."""
    follower, pair = sandbox["free"].pop()
    urls = {
        "ZALO_API_BASE_URL": f"{sandbox['base']}/sandbox/zalo/openapi",
        "ZALO_OAUTH_BASE_URL": f"{sandbox['base']}/sandbox/zalo/oauth",
    }
    ZaloToken.objects.filter(oa_id="sandbox-oa").delete()
    ZaloToken.objects.create(oa_id="sandbox-oa", access_token=pair["access_token"], refresh_token=pair["refresh_token"])
    chat_user = ChatUser.objects.create(zalo_user_id=follower.user_id)
    with override_settings(**urls):
        yield {"follower": follower, "chat_user": chat_user, "pair": pair, "base": sandbox["base"]}
    # Whatever a test changed in the sandbox's rules does not outlive it.
    commit_sql("UPDATE zalo_sandbox_sandboxsettings SET latency_s = 0, outage = false WHERE id = 1")


def reply(zalo, text: str) -> OutboundMessage:
    return OutboundMessage.objects.create(chat_user=zalo["chat_user"], payload={"text": text})


def recorded(zalo) -> list[str]:
    return list(
        SandboxMessage.objects.filter(follower=zalo["follower"], direction="oa")
        .order_by("at")
        .values_list("text", flat=True)
    )


def rules(**values) -> None:
    """Changes the sandbox's rules, committed (the sandbox is another process)."""
    assignments = ", ".join(f"{name} = %s" for name in values)
    commit_sql(f"UPDATE zalo_sandbox_sandboxsettings SET {assignments} WHERE id = 1", list(values.values()))


def follower_wrote(zalo, at: dt.datetime) -> None:
    commit_sql(
        "UPDATE zalo_sandbox_sandboxfollower SET last_interaction_at = %s WHERE id = %s", [at, zalo["follower"].pk]
    )


def wait_until_due(row: OutboundMessage) -> None:
    time.sleep(max((row.queued_at - timezone.now()).total_seconds(), 0) + 0.05)


def test_a_message_goes_through_and_the_sandbox_records_it(zalo):
    sent = outbound_send(message_id=reply(zalo, "Xin chào").pk)
    assert (sent.status, sent.attempts) == ("sent", 1)
    assert recorded(zalo) == ["Xin chào"]
    assert sent.external_id == SandboxMessage.objects.get(follower=zalo["follower"], direction="oa").message_id


def test_an_expired_token_is_refreshed_with_the_single_use_refresh_token_and_the_message_sent(zalo):
    commit_sql(
        "UPDATE zalo_sandbox_sandboxtoken SET expires_at = now() WHERE value = %s", [zalo["pair"]["access_token"]]
    )
    old = zalo["pair"]
    sent = outbound_send(message_id=reply(zalo, "Sau khi làm mới mã").pk)
    assert (sent.status, sent.attempts) == ("sent", 1), sent.message
    assert recorded(zalo) == ["Sau khi làm mới mã"]
    token = ZaloToken.objects.get(oa_id="sandbox-oa")
    assert token.access_token != old["access_token"] and token.refresh_token != old["refresh_token"]
    assert token.expires_at > timezone.now() + dt.timedelta(hours=24)
    # The sandbox said what Zalo says: -220 for the old token; the old refresh token is used up.
    api = f"{zalo['base']}/sandbox/zalo"
    answer = requests.post(
        f"{api}/openapi/v3.0/oa/message/cs",
        headers=zalo_headers("access_token", old["access_token"]),
        json={"recipient": {"user_id": zalo["follower"].user_id}, "message": {"text": "x"}},
        timeout=10,
    ).json()
    assert answer["error"] == -220
    again = requests.post(
        f"{api}/oauth/v4/oa/access_token",
        headers=zalo_headers("secret_key", "sandbox-app-secret"),
        data={"refresh_token": old["refresh_token"], "app_id": "sandbox-app", "grant_type": "refresh_token"},
        timeout=10,
    ).json()
    assert again["error"] == -14014


def test_outside_the_reply_window_the_message_fails_until_the_user_writes_again(zalo):
    follower_wrote(zalo, timezone.now() - dt.timedelta(days=7, seconds=1))
    row = reply(zalo, "Hồ sơ đã có kết quả")
    failed = outbound_send(message_id=row.pk)
    assert (failed.status, failed.attempts) == ("failed", 1)
    assert "-230" in failed.message
    assert recorded(zalo) == []

    rules(reply_window_s=3600)  # a shorter window, and the user writes again
    follower_wrote(zalo, timezone.now())
    assert delivery_retry([failed]) == 1
    assert outbound_send(message_id=row.pk).status == "sent"
    assert recorded(zalo) == ["Hồ sơ đã có kết quả"]


def test_an_outage_leaves_the_message_queued_and_it_goes_once_the_api_is_back(zalo):
    rules(outage=True)
    row = reply(zalo, "Thông báo khi Zalo gặp sự cố")
    before = timezone.now()
    held = outbound_send(message_id=row.pk)
    assert (held.status, held.attempts) == ("queued", 1)
    assert "503" in held.message
    assert held.queued_at >= before + dt.timedelta(seconds=0.5)  # due again after the backoff
    rules(outage=False)
    wait_until_due(held)
    sent = outbound_send(message_id=row.pk)
    assert (sent.status, sent.attempts) == ("sent", 2)
    assert recorded(zalo) == ["Thông báo khi Zalo gặp sự cố"]


@override_settings(ZALO_HTTP_TIMEOUT_S=0.5)
def test_a_message_whose_answer_was_lost_is_not_sent_again(zalo):
    rules(latency_s=1.5)  # recorded at once, answered too late for the client
    row = reply(zalo, "Chỉ một lần")
    held = outbound_send(message_id=row.pk)
    assert (held.status, held.attempts) == ("queued", 1)
    assert "Timeout" in held.message
    rules(latency_s=0)
    wait_until_due(held)
    sent = outbound_send(message_id=row.pk)
    assert (sent.status, sent.attempts) == ("sent", 2)
    assert recorded(zalo) == ["Chỉ một lần"]  # found in the conversation, not sent twice
    assert sent.external_id == SandboxMessage.objects.get(follower=zalo["follower"], direction="oa").message_id


def test_the_sandbox_answers_zalos_error_codes(zalo):
    api = f"{zalo['base']}/sandbox/zalo"
    token = ZaloToken.objects.get(oa_id="sandbox-oa").access_token

    def send(headers, body):
        return requests.post(f"{api}/openapi/v3.0/oa/message/cs", headers=headers, json=body, timeout=10).json()

    user = {"user_id": zalo["follower"].user_id}
    assert send({}, {"recipient": user, "message": {"text": "x"}})["error"] == -216
    made_up = zalo_headers("access_token", "made-up")
    assert send(made_up, {"recipient": user, "message": {"text": "x"}})["error"] == -216
    good = zalo_headers("access_token", token)
    assert send(good, {"recipient": user, "message": {}})["error"] == -201
    assert send(good, {"recipient": {"user_id": "1"}, "message": {"text": "x"}})["error"] == -213
    wrong_secret = requests.post(
        f"{api}/oauth/v4/oa/access_token",
        headers=zalo_headers("secret_key", "wrong"),
        data={"refresh_token": "x", "app_id": "sandbox-app", "grant_type": "refresh_token"},
        timeout=10,
    ).json()
    assert wrong_secret["error"] == -14002
    conversation = requests.get(
        f"{api}/openapi/v2.0/oa/conversation",
        headers=zalo_headers("access_token", token),
        params={"data": json.dumps({"user_id": zalo["follower"].user_id, "offset": 0, "count": 5})},
        timeout=10,
    ).json()
    assert conversation == {"error": 0, "message": "Success", "data": []}
    assert recorded(zalo) == []
