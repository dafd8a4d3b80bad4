"""The carrier's signed status callbacks: believed only when signed with the
shared secret over a fresh timestamp (vectors computed here by hand, not
with postal.signing), never twice; each event applied once, in the order
things happened whatever order the reports come in; refusals change
nothing. A result delivered by post returns the dossier on the delivery
date."""

import datetime as dt
import hashlib
import hmac
import json

import pytest
from django.utils import timezone

from dossiers.models import Dossier, DossierEvent
from dossiers.tests.conftest import local
from postal.models import CarrierCallback, Shipment, TrackingEvent
from postal.signing import callback_signature

from .conftest import CALLBACK_URL, callback_body, signed_headers


def _state(shipment):
    """Everything a callback may change, to compare before and after a refusal."""
    shipment = Shipment.objects.get(pk=shipment.pk)
    return (
        shipment.status,
        shipment.status_at,
        shipment.picked_up_at,
        shipment.delivered_at,
        TrackingEvent.objects.filter(shipment=shipment).count(),
        DossierEvent.objects.filter(dossier_id=shipment.dossier_id).count(),
        CarrierCallback.objects.count(),
        Dossier.objects.get(pk=shipment.dossier_id).status,
    )


def test_the_signature_is_hmac_sha256_over_customer_timestamp_and_body():
    """A fixed vector, written out by hand from the README's protocol."""
    body = b'{"EventId":"e1","ItemCode":"EB000000015VN","Status":"delivered","OccurredAt":"2026-01-05T10:00:00+07:00"}'
    canonical = b"BNPORTAL\n1767582000\n" + body
    expected = hmac.new(b"s3cret", canonical, hashlib.sha256).hexdigest()
    # Its value, so that a change of the canonical form cannot pass unnoticed.
    assert expected == "bd68a4b4e3b0b509633cd03d039148eb40ab1bf26c91eb5ba90e61b44a963e48"
    assert callback_signature(secret="s3cret", customer_code="BNPORTAL", timestamp=1767582000, body=body) == expected


def test_a_signed_callback_moves_the_parcel_and_records_the_hand_over(shipped, post_callback):
    shipment = shipped()
    picked = timezone.now() - dt.timedelta(hours=2)
    response = post_callback(callback_body(shipment, "picked_up", picked, post_office="POST-09187"))
    assert response.status_code == 200, response.content
    assert response.json() == {"outcome": "applied", "order_code": shipment.order_code, "status": "picked_up"}
    shipment.refresh_from_db()
    assert (shipment.status, shipment.picked_up_at, shipment.last_point.code) == ("picked_up", picked, "POST-09187")
    step = DossierEvent.objects.get(dossier_id=shipment.dossier_id, action="shipment_picked_up")
    assert (step.at, step.actor_name) == (picked, "Bưu điện / Vietnam Post")
    assert shipment.tracking_number in step.note


@pytest.mark.parametrize(
    "tamper",
    ["body", "secret", "stale", "future", "missing_signature", "missing_timestamp", "not_hex"],
)
def test_a_callback_not_believed_is_refused_and_changes_nothing(shipped, client, tamper, settings):
    shipment = shipped()
    body = callback_body(shipment, "delivered", timezone.now())
    now = int(timezone.now().timestamp())
    headers = signed_headers(body)
    if tamper == "body":
        body = body.replace(b"delivered", b"returned")
    elif tamper == "secret":
        headers = signed_headers(body, secret="not-the-shared-secret")
    elif tamper == "stale":
        headers = signed_headers(body, timestamp=now - settings.VNPOST_CALLBACK_MAX_SKEW_S - 5)
    elif tamper == "future":
        headers = signed_headers(body, timestamp=now + settings.VNPOST_CALLBACK_MAX_SKEW_S + 5)
    elif tamper == "missing_signature":
        headers.pop("HTTP_X_VNPOST_SIGNATURE")
    elif tamper == "missing_timestamp":
        headers.pop("HTTP_X_VNPOST_TIMESTAMP")
    else:
        headers["HTTP_X_VNPOST_SIGNATURE"] = "z" * 64
    before = _state(shipment)
    response = client.post(CALLBACK_URL, data=body, content_type="application/json", **headers)
    assert response.status_code == 401, response.content
    detail = response.json()["detail"]
    assert " / " in detail  # Vietnamese / English
    assert _state(shipment) == before


def test_a_replayed_request_is_refused_and_applied_once(shipped, client):
    shipment = shipped()
    body = callback_body(shipment, "picked_up", timezone.now())
    headers = signed_headers(body)
    first = client.post(CALLBACK_URL, data=body, content_type="application/json", **headers)
    assert first.status_code == 200
    before = _state(shipment)
    again = client.post(CALLBACK_URL, data=body, content_type="application/json", **headers)
    assert again.status_code == 409
    assert "replay" in again.json()["detail"]
    assert _state(shipment) == before


def test_a_duplicated_event_is_kept_but_applied_once(shipped, post_callback):
    """The carrier sends the same event again (its retry, signed afresh)."""
    shipment = shipped()
    body = callback_body(shipment, "picked_up", timezone.now(), event_id="evt-dup")
    now = int(timezone.now().timestamp())
    assert post_callback(body, **signed_headers(body, timestamp=now)).json()["outcome"] == "applied"
    again = post_callback(body, **signed_headers(body, timestamp=now + 1))
    assert again.status_code == 200 and again.json()["outcome"] == "duplicate"
    assert CarrierCallback.objects.filter(event_id="evt-dup").count() == 2
    assert TrackingEvent.objects.filter(shipment=shipment, carrier_event_id="evt-dup").count() == 1
    assert DossierEvent.objects.filter(dossier_id=shipment.dossier_id, action="shipment_picked_up").count() == 1


def test_out_of_order_and_late_reports_end_in_the_right_state(shipped, post_callback):
    """Delivered arrives first; in transit and picked up arrive late, and a
    failed attempt later still. The parcel stays delivered, the history
    keeps every step in the order it happened, each hand-over is on the
    dossier once, at its own time, and the dossier is returned once, on the
    delivery date."""
    shipment = shipped()
    base = timezone.now() - dt.timedelta(days=1)
    picked, transit, failed, delivered = (base + dt.timedelta(hours=h) for h in (1, 3, 5, 7))
    outcomes = [
        post_callback(callback_body(shipment, status, at)).json()["outcome"]
        for status, at in (
            ("delivered", delivered),
            ("in_transit", transit),
            ("picked_up", picked),
            ("delivery_failed", failed),
        )
    ]
    assert outcomes == ["applied", "history", "history", "history"]
    shipment.refresh_from_db()
    dossier = Dossier.objects.get(pk=shipment.dossier_id)
    assert (shipment.status, shipment.status_at, shipment.delivered_at) == ("delivered", delivered, delivered)
    assert (shipment.picked_up_at, shipment.failed_attempts) == (picked, 1)
    reported = TrackingEvent.objects.filter(shipment=shipment, carrier_event_id__isnull=False)
    assert list(reported.values_list("status", flat=True)) == [
        "picked_up",
        "in_transit",
        "delivery_failed",
        "delivered",
    ]
    steps = DossierEvent.objects.filter(dossier=dossier, action__startswith="shipment_").order_by("at", "id")
    assert [(s.action, s.at) for s in steps if s.action != "shipment_created"] == [
        ("shipment_picked_up", picked),
        ("shipment_failed", failed),
        ("shipment_delivered", delivered),
    ]
    assert DossierEvent.objects.filter(dossier=dossier, action="return_result").count() == 1
    assert (dossier.status, dossier.finished_at, dossier.returned_at) == ("result_returned", delivered, delivered)


def test_a_result_delivered_by_post_is_finished_on_the_delivery_date(submit, drive, run_carrier_jobs, post_callback):
    """Received on Monday 5 Jan 2026 for a 3-working-day procedure: due
    Thursday 8 Jan. Ready on Tuesday; the post delivers on Friday 9 Jan,
    and reports it on Monday: the dossier is finished on Friday, late."""
    dossier = submit(
        result_delivery="post",
        delivery_address="Số 2 Ngô Gia Tự",
        delivery_commune_code="09187",
        received_at=local(2026, 1, 5, 9, 0),
    )
    dossier = drive(dossier, "result_ready")
    assert dossier.finished_at is None and dossier.timeliness == ""
    run_carrier_jobs()
    shipment = Shipment.objects.get(dossier=dossier)
    delivered = local(2026, 1, 9, 15, 30)
    response = post_callback(callback_body(shipment, "delivered", delivered))
    assert response.status_code == 200
    dossier.refresh_from_db()
    assert (dossier.status, dossier.finished_at, dossier.returned_at) == ("result_returned", delivered, delivered)
    assert dossier.timeliness == "late"
    returned = DossierEvent.objects.get(dossier=dossier, action="return_result")
    assert (returned.at, returned.actor_name, returned.actor_id) == (delivered, "Bưu điện / Vietnam Post", None)


def test_a_report_about_an_unknown_parcel_is_kept_and_answered_404(post_callback, db):
    body = json.dumps(
        {"EventId": "x1", "ItemCode": "EB999999999VN", "OrderCode": "nope", "Status": "in_transit",
         "OccurredAt": timezone.now().isoformat()}
    ).encode()  # fmt: skip
    response = post_callback(body)
    assert response.status_code == 404
    assert CarrierCallback.objects.get(event_id="x1").outcome == "unknown"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"Status": "teleported"}, "Status"),
        ({"OccurredAt": "yesterday"}, "OccurredAt"),
        ({"OccurredAt": "2026-01-05T10:00:00"}, "OccurredAt"),  # no offset
        ({"EventId": ""}, "EventId"),
        ({"Note": 5}, "Note"),
    ],
)
def test_a_malformed_report_is_a_400_naming_the_field(shipped, post_callback, change, field):
    shipment = shipped()
    data = json.loads(callback_body(shipment, "in_transit", timezone.now()))
    data.update(change)
    before = _state(shipment)
    response = post_callback(json.dumps(data).encode())
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert _state(shipment) == before


def test_a_report_naming_only_our_order_code_sets_the_tracking_number(submit, drive, post_callback):
    """CreateOrder's answer was lost (the carrier was slow), but the carrier
    made the order and reports on it: the callback names the parcel."""
    dossier = drive(submit(result_delivery="post", delivery_address="Số 2 Ngô Gia Tự"), "result_ready")
    shipment = Shipment.objects.get(dossier=dossier)
    assert shipment.tracking_number is None
    data = json.loads(callback_body(shipment, "picked_up", timezone.now()))
    data["ItemCode"] = "EB000000015VN"
    assert post_callback(json.dumps(data).encode()).json()["outcome"] == "applied"
    shipment.refresh_from_db()
    assert (shipment.tracking_number, shipment.status) == ("EB000000015VN", "picked_up")
    assert DossierEvent.objects.filter(dossier=dossier, action="shipment_created").count() == 1
