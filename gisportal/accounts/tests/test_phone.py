"""Phone verification (gisportal/accounts/phone.py) and the SMS it sends
(gisportal/accounts/sms.py): numbers normalised, codes stored only as an
HMAC, used once, dead after 10 minutes or 5 wrong tries, sends limited per
phone and per client, the SMS sent through the outbox by the configured
backend (the sandbox's inbox, a real HTTP gateway on loopback), the code
blanked from the message row once sent, and the sandbox page."""

import datetime as dt
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import override_settings
from django.utils import timezone

from gisportal.accounts.models import PhoneCode, SandboxSms, SmsMessage
from gisportal.accounts.phone import (
    PhoneCodeThrottled,
    PhoneInvalid,
    phone_code_send,
    phone_code_verify,
    phone_mask,
    phone_normalize,
)
from gisportal.accounts.sms import sms_deliver
from gisportal.outbox import outbox_reap

pytestmark = pytest.mark.django_db

PHONE = "0912 345 678"
E164 = "+84912345678"


@pytest.mark.parametrize(
    "raw",
    ["0912345678", "0912 345 678", "091.234.5678", "+84 912 345 678", "84912345678", "(+84) 912-345-678"],
)
def test_the_ways_people_write_a_mobile_number_are_one_number(raw):
    assert phone_normalize(raw) == E164


def test_numbers_renumbered_in_2018_are_converted():
    assert phone_normalize("0168 123 4567") == "+84381234567"
    assert phone_normalize("0123 456 7890") == "+84834567890"


@pytest.mark.parametrize("raw", ["", "12345", "0222 3822 000", "0412345678", "09123456789", "+1 212 555 0100", "abc"])
def test_what_is_not_a_vietnamese_mobile_is_refused(raw):
    with pytest.raises(PhoneInvalid) as refused:
        phone_normalize(raw)
    assert " / " in str(refused.value) and refused.value.field == "phone"


def test_a_masked_number_shows_its_ends_only():
    assert phone_mask(E164) == "091****678"


def _send_and_deliver(phone=PHONE, purpose="feedback", client="") -> str:
    """Sends a code, runs the worker's job, and reads the code from the sandbox inbox."""
    phone_code_send(phone=phone, purpose=purpose, client=client)
    sms = SmsMessage.objects.latest("pk")
    assert sms_deliver(sms.pk) == "sent"
    text = SandboxSms.objects.filter(phone=phone_normalize(phone)).latest("pk").text
    return re.search(r"\b(\d{6})\b", text).group(1)


def _age(phone: str = E164, seconds: int = 61) -> None:
    """Moves the phone's codes `seconds` into the past (as if sent earlier)."""
    for row in PhoneCode.objects.filter(phone=phone):
        row.created_at -= dt.timedelta(seconds=seconds)
        row.expires_at -= dt.timedelta(seconds=seconds)
        row.save(update_fields=["created_at", "expires_at"])


def test_a_code_is_sent_through_the_outbox_and_stored_only_as_a_hash(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as published:
        phone_code_send(phone=PHONE, purpose="feedback", client="203.0.113.9")
    assert len(published) == 1  # the task goes out once the row is committed
    row = PhoneCode.objects.get(phone=E164)
    sms = SmsMessage.objects.get(pk=row.sms_id)
    assert (sms.status, sms.phone, sms.kind) == ("queued", E164, "feedback")
    assert "{code}" in sms.body and re.fullmatch(r"\d{6}", sms.secret)
    code = sms.secret
    assert code not in row.code_hash and len(row.code_hash) == 64
    assert "203.0.113.9" not in row.client_hash
    assert row.expires_at - row.created_at == dt.timedelta(minutes=10)

    assert sms_deliver(sms.pk) == "sent"
    sms.refresh_from_db()
    inbox = SandboxSms.objects.get(phone=E164)
    assert code in inbox.text and "10 phut" in inbox.text
    assert (sms.status, sms.secret) == ("sent", "")  # the code is gone from the outbox row
    assert sms.provider_id == f"sandbox-{inbox.pk}" and sms.sent_at is not None
    assert sms_deliver(sms.pk) is None  # a duplicate message sends nothing twice
    assert SandboxSms.objects.filter(phone=E164).count() == 1


def test_a_code_verifies_once_for_its_phone_and_purpose():
    code = _send_and_deliver()
    assert not phone_code_verify(phone=PHONE, purpose="zalo_link", code=code)  # another purpose
    assert not phone_code_verify(phone="0912 345 679", purpose="feedback", code=code)  # another phone
    assert phone_code_verify(phone="+84 912 345 678", purpose="feedback", code=code)
    assert not phone_code_verify(phone=PHONE, purpose="feedback", code=code)  # used up


def test_five_wrong_tries_kill_the_code():
    code = _send_and_deliver()
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        assert not phone_code_verify(phone=PHONE, purpose="feedback", code=wrong)
    assert PhoneCode.objects.get(phone=E164).attempts == 5
    assert not phone_code_verify(phone=PHONE, purpose="feedback", code=code)


def test_four_wrong_tries_leave_the_right_code_working():
    code = _send_and_deliver()
    for wrong in ("", "abcdef", "12345", f"{(int(code) + 7) % 1_000_000:06d}"):
        assert not phone_code_verify(phone=PHONE, purpose="feedback", code=wrong)
    assert phone_code_verify(phone=PHONE, purpose="feedback", code=code)


def test_a_code_dies_after_ten_minutes():
    code = _send_and_deliver()
    _age(seconds=601)
    assert not phone_code_verify(phone=PHONE, purpose="feedback", code=code)


def test_only_the_newest_code_verifies():
    first = _send_and_deliver()
    _age()
    second = _send_and_deliver()
    if first != second:
        assert not phone_code_verify(phone=PHONE, purpose="feedback", code=first)
    assert phone_code_verify(phone=PHONE, purpose="feedback", code=second)


def test_a_second_code_within_a_minute_is_refused_and_changes_nothing():
    phone_code_send(phone=PHONE, purpose="feedback")
    with pytest.raises(PhoneCodeThrottled) as refused:
        phone_code_send(phone=PHONE, purpose="feedback")
    assert 1 <= refused.value.retry_after <= 60
    assert (PhoneCode.objects.count(), SmsMessage.objects.count()) == (1, 1)
    phone_code_send(phone=PHONE, purpose="zalo_link")  # another purpose is not held back by it


def test_a_phone_gets_at_most_five_codes_an_hour():
    for _ in range(5):
        phone_code_send(phone=PHONE, purpose="feedback")
        _age(seconds=61)
    with pytest.raises(PhoneCodeThrottled) as refused:
        phone_code_send(phone=PHONE, purpose="feedback")
    # The oldest of the five was sent 5 × 61 s ago: it leaves the hour in 3600 - 305 s.
    assert 3290 <= refused.value.retry_after <= 3300
    assert PhoneCode.objects.filter(phone=E164).count() == 5


@override_settings(PHONE_CODE_PER_CLIENT_PER_HOUR=3)
def test_one_client_gets_a_limited_number_of_codes_for_any_phones():
    for number in ("0912000001", "0912000002", "0912000003"):
        phone_code_send(phone=number, purpose="feedback", client="198.51.100.7")
    with pytest.raises(PhoneCodeThrottled):
        phone_code_send(phone="0912000004", purpose="feedback", client="198.51.100.7")
    assert not PhoneCode.objects.filter(phone="+84912000004").exists()
    phone_code_send(phone="0912000004", purpose="feedback", client="198.51.100.8")


def test_a_bad_number_or_purpose_sends_nothing():
    with pytest.raises(PhoneInvalid):
        phone_code_send(phone="0222 3822 000", purpose="feedback")
    with pytest.raises(ValueError):
        phone_code_send(phone=PHONE, purpose="Bad purpose!")
    assert not PhoneCode.objects.exists() and not SmsMessage.objects.exists()


def test_a_code_message_that_waited_past_its_expiry_is_not_sent():
    phone_code_send(phone=PHONE, purpose="feedback")
    sms = SmsMessage.objects.get()
    SmsMessage.objects.filter(pk=sms.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert sms_deliver(sms.pk) == "failed"
    sms.refresh_from_db()
    assert sms.secret == "" and "Expired" in sms.message
    assert not SandboxSms.objects.exists()


@override_settings(OUTBOX_MAX_ATTEMPTS=2, OUTBOX_STALE_AFTER_S=60)
def test_a_message_whose_worker_died_is_given_up_without_its_code(django_capture_on_commit_callbacks):
    phone_code_send(phone=PHONE, purpose="feedback")
    SmsMessage.objects.update(status="running", attempts=2, heartbeat_at=timezone.now() - dt.timedelta(seconds=61))
    with django_capture_on_commit_callbacks(execute=True):
        assert outbox_reap()["failed"] == 1
    sms = SmsMessage.objects.get()
    assert (sms.status, sms.secret) == ("failed", "")


# --- a real gateway on loopback --------------------------------------------------------


class _Gateway(BaseHTTPRequestHandler):
    answers: list[int] = []
    received: list[dict] = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append({"auth": self.headers.get("Authorization"), **json.loads(body)})
        status = self.answers.pop(0) if self.answers else 200
        payload = json.dumps({"id": f"gw-{len(self.received)}"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def gateway():
    _Gateway.answers, _Gateway.received = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/sms", _Gateway
    finally:
        server.shutdown()
        server.server_close()


def test_a_gateway_is_configuration_and_its_refusals_are_retried_then_failed(gateway):
    url, handler = gateway
    gateway_settings = {
        "SMS_BACKEND": "gisportal.accounts.sms.HttpJsonSmsBackend",
        "SMS_HTTP_URL": url,
        "SMS_HTTP_TOKEN": "t0ken",
        "SMS_SENDER": "BACNINH",
        "OUTBOX_MAX_ATTEMPTS": 2,
    }
    with override_settings(**gateway_settings):
        phone_code_send(phone=PHONE, purpose="feedback")
        sms = SmsMessage.objects.get()
        code = sms.secret
        assert sms_deliver(sms.pk) == "sent"
        assert handler.received == [
            {"auth": "Bearer t0ken", "to": E164, "sender": "BACNINH", "text": handler.received[0]["text"]}
        ]
        assert code in handler.received[0]["text"]
        sms.refresh_from_db()
        assert (sms.provider_id, sms.secret, sms.backend) == ("gw-1", "", gateway_settings["SMS_BACKEND"])
        assert not SandboxSms.objects.exists()  # the sandbox is not involved

        handler.answers = [503, 500]
        _age()
        phone_code_send(phone=PHONE, purpose="feedback")
        second = SmsMessage.objects.latest("pk")
        assert sms_deliver(second.pk) == "queued"  # refused once: back in the queue, for later
        second.refresh_from_db()
        assert (second.status, second.published_at, second.attempts) == ("queued", None, 1)
        assert second.queued_at > timezone.now() and "503" in second.message and second.secret
        assert sms_deliver(second.pk) is None  # a message before it is due sends nothing
        SmsMessage.objects.filter(pk=second.pk).update(queued_at=timezone.now())
        assert sms_deliver(second.pk) == "failed"  # refused again, the last attempt
        second.refresh_from_db()
        assert (second.status, second.secret) == ("failed", "") and "500" in second.message


# --- the sandbox page -------------------------------------------------------------------


SANDBOX = "/accounts/sms-sandbox/"


def test_the_sandbox_page_shows_a_phones_messages_to_administrators(client, make_user):
    code = _send_and_deliver()
    other = _send_and_deliver(phone="0987 654 321")
    assert client.get(SANDBOX, {"phone": PHONE}).status_code == 302  # anonymous: sign in first (DEBUG off)
    client.force_login(make_user("sandbox-citizen"))
    assert client.get(SANDBOX, {"phone": PHONE}).status_code == 302
    client.force_login(make_user("sandbox-admin", role="administrator"))
    page = client.get(SANDBOX, {"phone": "+84912345678"})
    assert page.status_code == 200 and page["Cache-Control"] == "private, no-store"
    text = page.content.decode()
    listed = text.split("sms-list")[-1]
    # Only this phone's messages: not the other phone's code nor its number (a timestamp's
    # microseconds may hold any three digits, so no digits of the number alone are looked for).
    assert code in listed and "091****678" in text and other not in listed and "098****321" not in text
    assert "Số điện thoại di động không hợp lệ" in client.get(SANDBOX, {"phone": "12"}).content.decode()


def test_the_sandbox_page_is_open_to_all_under_debug_and_gone_with_a_gateway(client):
    with override_settings(DEBUG=True):
        assert client.get(SANDBOX, {"phone": PHONE}).status_code == 200
    with override_settings(DEBUG=True, SMS_BACKEND="gisportal.accounts.sms.HttpJsonSmsBackend"):
        assert client.get(SANDBOX, {"phone": PHONE}).status_code == 404
