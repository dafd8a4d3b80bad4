"""The webhook accepts only signed, fresh, new events from our app, and a
refused one changes nothing: no event row, no follower, nothing published."""

import hashlib
import json

import pytest
from django.test import override_settings

from chatbot.models import ChatUser, ZaloEvent
from chatbot.signature import zalo_mac

from .signing import APP_ID, SECRET, now_ms, sign, text_event

pytestmark = pytest.mark.django_db

WEBHOOK = "/zalo/webhook/"

# Vectors computed outside Python (coreutils sha256sum over the concatenation
# app_id + body + timestamp + secret, written out by hand).
VECTOR_BODY = (
    b'{"app_id":"sandbox-app","event_name":"user_send_text","timestamp":"1767225600000",'
    b'"sender":{"id":"246813579"},"recipient":{"id":"sandbox-oa"},"message":{"msg_id":"m-1","text":"tra cuu"}}'
)
VECTOR_MAC = "cf69e5c1ac52eeea9e557f21223a06894c4cee2d56c76ae1d122c11c59e08e81"
VECTOR_UTF8_BODY = (
    '{"app_id":"sandbox-app","event_name":"user_send_text","timestamp":"1767225600000",'
    '"sender":{"id":"246813579"},"recipient":{"id":"sandbox-oa"},"message":{"msg_id":"m-2","text":"tra cứu hồ sơ"}}'
).encode()
VECTOR_UTF8_MAC = "30393a561e102f9187c1edca71b873c34fbb6893b69b573a0cb04e2067f041d9"


def test_the_signature_is_sha256_of_app_id_body_timestamp_and_secret():
    assert zalo_mac(app_id=APP_ID, body=VECTOR_BODY, timestamp="1767225600000", secret=SECRET) == VECTOR_MAC
    assert zalo_mac(app_id=APP_ID, body=VECTOR_UTF8_BODY, timestamp="1767225600000", secret=SECRET) == VECTOR_UTF8_MAC
    by_hand = hashlib.sha256(b"sandbox-app" + VECTOR_BODY + b"1767225600000" + b"sandbox-oa-secret").hexdigest()
    assert by_hand == VECTOR_MAC


def post(client, body: bytes, signature: str | None):
    headers = {"HTTP_X_ZEVENT_SIGNATURE": signature} if signature is not None else {}
    return client.post(WEBHOOK, data=body, content_type="application/json", **headers)


@pytest.fixture
def nothing_changed():
    """Asserts, after the test body, that no event or follower was written."""
    before = (ZaloEvent.objects.count(), ChatUser.objects.count())
    yield
    assert (ZaloEvent.objects.count(), ChatUser.objects.count()) == before


def test_a_signed_fresh_event_is_stored_and_its_work_queued(client, django_capture_on_commit_callbacks):
    event = text_event("1001", "tra cứu")
    body, signature = sign(event)
    with django_capture_on_commit_callbacks() as published:
        answer = post(client, body, signature)
    assert answer.status_code == 200, answer.content
    stored = ZaloEvent.objects.get(pk=answer.json()["event"])
    assert (stored.event_name, stored.user_id, stored.status) == ("user_send_text", "1001", "queued")
    assert stored.event_key == f"msg:{event['message']['msg_id']}"
    assert stored.payload == event
    assert len(published) == 1  # the worker's task, sent once committed
    assert not ChatUser.objects.filter(zalo_user_id="1001").exists()  # the worker's job


def test_a_tampered_body_is_refused(client, nothing_changed):
    event = text_event("1002", "tra cứu")
    body, signature = sign(event)
    tampered = body.replace(b"1002", b"1003")
    answer = post(client, tampered, signature)
    assert answer.status_code == 403 and "signature" in answer.json()["detail"]


@pytest.mark.parametrize(
    ("signature", "status"),
    [(None, 401), ("", 401), ("mac=" + "0" * 64, 403), ("sha256=abc", 403), ("garbage", 403)],
)
def test_a_missing_or_wrong_signature_is_refused(client, nothing_changed, signature, status):
    body, _ = sign(text_event("1004", "xin chào"))
    assert post(client, body, signature).status_code == status


def test_another_secret_or_another_app_is_refused(client, nothing_changed):
    body, signature = sign(text_event("1005", "xin chào"), secret="not-our-secret")
    assert post(client, body, signature).status_code == 403
    other_app = {**text_event("1005", "xin chào"), "app_id": "another-app"}
    body, signature = sign(other_app)
    assert post(client, body, signature).status_code == 403


def test_a_replayed_event_is_refused_and_stored_once(client):
    body, signature = sign(text_event("1006", "tra cuu"))
    assert post(client, body, signature).status_code == 200
    before = ZaloEvent.objects.count()
    answer = post(client, body, signature)
    assert answer.status_code == 409 and "replay" in answer.json()["detail"]
    assert ZaloEvent.objects.count() == before


def test_an_event_without_a_message_id_is_deduplicated_by_its_body(client):
    event = {"app_id": APP_ID, "event_name": "follow", "timestamp": str(now_ms()), "follower": {"id": "1007"}}
    body, signature = sign(event)
    first = post(client, body, signature)
    assert first.status_code == 200
    assert ZaloEvent.objects.get(pk=first.json()["event"]).event_key == "sha256:" + hashlib.sha256(body).hexdigest()
    assert post(client, body, signature).status_code == 409


@override_settings(ZALO_WEBHOOK_MAX_AGE_S=300)
@pytest.mark.parametrize("offset_s", [-301, -3600, 301])
def test_a_late_or_future_event_is_refused_even_when_signed(client, nothing_changed, offset_s):
    body, signature = sign(text_event("1008", "tra cuu", timestamp_ms=now_ms() + offset_s * 1000))
    answer = post(client, body, signature)
    assert answer.status_code == 403 and "too old or its clock is off" in answer.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", "JSON"),
        (b"[1, 2]", "object"),
        (json.dumps({"event_name": "follow", "timestamp": "1"}).encode(), "app_id"),
        (json.dumps({"app_id": APP_ID, "event_name": "follow"}).encode(), "timestamp"),
    ],
)
def test_a_malformed_body_is_a_400_naming_what_is_wrong(client, nothing_changed, body, field):
    answer = post(client, body, "mac=" + "0" * 64)
    assert answer.status_code == 400 and field in answer.json()["detail"]


def test_a_signed_event_without_event_name_is_a_400(client, nothing_changed):
    event = text_event("1009", "x")
    del event["event_name"]
    body, signature = sign(event)
    assert post(client, body, signature).status_code == 400


def test_the_webhook_takes_only_post(client, nothing_changed):
    assert client.get(WEBHOOK).status_code == 405


@override_settings(ZALO_OA_SECRET_KEY="")
def test_without_a_secret_the_webhook_refuses_everything(client, nothing_changed):
    body, signature = sign(text_event("1010", "tra cuu"), secret="")
    assert post(client, body, signature).status_code == 503
