"""The sandbox carrier speaks the partner API with its own credentials,
issues S10 tracking numbers, moves parcels on its schedule or by the
operator's hand, and owes the portal signed callbacks (checked here with
an independent HMAC), sent once, twice, late or held, retried until
answered."""

import datetime as dt
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings
from django.utils import timezone

from postal.sandbox.models import Callback, Event, Order
from postal.sandbox.services import callback_send_run, item_code_for, order_move, s10_check_digit, sandbox_tick

API = "/sandbox/vnpost/api/v1"


def _body(**overrides) -> dict:
    body = {
        "CustomerCode": settings.VNPOST_SANDBOX_CUSTOMER_CODE,
        "OrderCode": "TEST-ORDER-1",
        "SenderName": "Bộ phận một cửa",
        "SenderAddress": "Số 1",
        "SenderProvinceCode": "24",
        "SenderWardCode": "09187",
        "ReceiverName": "Nguyễn Văn A",
        "ReceiverAddress": "Số 2",
        "ReceiverProvinceCode": "24",
        "ReceiverWardCode": "09187",
        "Weight": 300,
        "PickupType": "collect",
        "CallbackUrl": "http://127.0.0.1:9/cb",
    }
    body.update(overrides)
    return body


def _post(client, operation, body, key=None):
    return client.post(
        f"{API}/{operation}",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {key or settings.VNPOST_SANDBOX_API_KEY}",
    )


def test_the_upu_check_digit():
    # The UPU S10 example RR 47312482 9 GB.
    assert s10_check_digit("47312482") == 9
    code = item_code_for(15)
    assert code == "EB00000015" + str(s10_check_digit("00000015")) + "VN" and len(code) == 13


@pytest.mark.parametrize(("key", "customer"), [("wrong-key", None), (None, "SOMEONE-ELSE")])
def test_the_sandbox_wants_its_own_credentials(client, db, key, customer):
    body = _body(**({"CustomerCode": customer} if customer else {}))
    response = _post(client, "CreateOrder", body, key=key)
    assert response.status_code == 401 and response.json()["Success"] is False
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"ReceiverWardCode": ""}, "ReceiverWardCode"),
        ({"Weight": 0}, "Weight"),
        ({"PickupType": "drop"}, "PickupPostOfficeCode"),
    ],
)
def test_a_bad_order_is_refused_naming_the_field(client, db, change, named):
    response = _post(client, "CreateOrder", _body(**change))
    assert response.status_code == 400 and named in response.json()["Message"]


def test_create_order_is_idempotent_by_order_code_and_get_order_gives_the_history(client, db):
    first = _post(client, "CreateOrder", _body()).json()
    again = _post(client, "CreateOrder", _body()).json()
    assert first["ItemCode"] == again["ItemCode"] and (first["Created"], again["Created"]) == (True, False)
    order = Order.objects.get()
    order_move(order=order, delivery="hold")  # picked up
    history = _post(
        client, "GetOrder", {"CustomerCode": settings.VNPOST_SANDBOX_CUSTOMER_CODE, "ItemCode": first["ItemCode"]}
    )
    assert history.json()["Status"] == "picked_up"
    assert [h["Status"] for h in history.json()["History"]] == ["picked_up"]


def test_the_operator_moves_a_parcel_with_duplicate_late_and_held_callbacks(client, db):
    item = _post(client, "CreateOrder", _body()).json()["ItemCode"]
    base = {"CustomerCode": settings.VNPOST_SANDBOX_CUSTOMER_CODE, "ItemCode": item}
    assert _post(client, "MoveOrder", {**base, "Delivery": "duplicate"}).json()["Status"] == "picked_up"
    assert _post(client, "MoveOrder", {**base, "Delivery": "late", "DelaySeconds": 120}).status_code == 200
    assert _post(client, "MoveOrder", {**base, "Status": "delivered", "Delivery": "hold"}).status_code == 200
    events = list(Event.objects.order_by("id"))
    assert [e.status for e in events] == ["picked_up", "in_transit", "delivered"]
    assert [Callback.objects.filter(event=e).count() for e in events] == [2, 1, 0]
    late = Callback.objects.get(event=events[1])
    assert late.queued_at > timezone.now() + dt.timedelta(seconds=100)
    released = _post(client, "MoveOrder", {**base, "Release": True}).json()
    assert released["Released"] == 1 and Callback.objects.filter(event=events[2]).count() == 1
    refused = _post(client, "MoveOrder", {**base, "Status": "in_transit"})
    assert refused.status_code == 409  # delivered is final


def test_the_schedule_moves_parcels_whose_step_is_due(client, db, settings):
    settings.VNPOST_SANDBOX_DUPLICATE_RATE = settings.VNPOST_SANDBOX_LATE_RATE = 0
    _post(client, "CreateOrder", _body())
    order = Order.objects.get()
    assert sandbox_tick() == 0  # not due yet
    Order.objects.filter(pk=order.pk).update(next_step_at=timezone.now() - dt.timedelta(seconds=1))
    assert sandbox_tick() == 1
    order.refresh_from_db()
    assert order.status == "picked_up" and order.next_step_at > timezone.now()


@pytest.fixture
def portal_stub():
    """A recording HTTP server standing in for the portal's callback URL;
    answers with the statuses queued in `answers` (200 when none left)."""
    received, answers = [], []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((dict(self.headers), body))
            self.send_response(answers.pop(0) if answers else 200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {"url": f"http://127.0.0.1:{server.server_address[1]}/cb", "received": received, "answers": answers}
    server.shutdown()
    server.server_close()


def test_a_callback_is_signed_and_retried_until_answered(client, db, portal_stub):
    item = _post(client, "CreateOrder", _body(CallbackUrl=portal_stub["url"])).json()["ItemCode"]
    order = Order.objects.get(item_code=item)
    event = order_move(order=order)
    callback = Callback.objects.get(event=event)
    portal_stub["answers"].append(503)
    callback_send_run(callback_id=callback.pk)
    callback.refresh_from_db()
    assert (callback.status, callback.tries) == ("queued", 1) and callback.queued_at > timezone.now()
    callback_send_run(callback_id=callback.pk)  # too early: not taken
    assert Callback.objects.get(pk=callback.pk).tries == 1
    Callback.objects.filter(pk=callback.pk).update(queued_at=timezone.now())  # its wait is over
    callback_send_run(callback_id=callback.pk)
    callback.refresh_from_db()
    assert (callback.status, callback.tries) == ("done", 2)

    (headers_1, body_1), (headers_2, body_2) = portal_stub["received"]
    first, second = json.loads(body_1), json.loads(body_2)
    assert first["DeliveryId"] != second["DeliveryId"]  # two requests...
    assert {**first, "DeliveryId": ""} == {**second, "DeliveryId": ""}  # ...of one event
    for headers, body in portal_stub["received"]:
        timestamp = headers["X-VNPost-Timestamp"]
        canonical = f"{settings.VNPOST_CUSTOMER_CODE}\n{timestamp}\n".encode() + body
        expected = hmac.new(settings.VNPOST_CALLBACK_SECRET.encode(), canonical, hashlib.sha256).hexdigest()
        assert headers["X-VNPost-Signature"] == expected
    data = json.loads(body_1)
    assert (data["ItemCode"], data["Status"], data["EventId"]) == (item, "picked_up", event.event_id)
