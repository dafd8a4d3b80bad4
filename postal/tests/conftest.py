"""Fixtures of the postal tests: the dossier tests' catalogue, offices,
people and helpers (dossiers/tests/conftest.py), and helpers of our own
that sign carrier callbacks and drive shipments."""

import datetime as dt
import hashlib
import hmac
import json
import uuid
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from dossiers.tests.conftest import (  # noqa: F401  (fixtures)
    CITIZEN_A_ID,
    api_payload,
    catalogue,
    drive,
    people,
    points,
    submit,
)

CALLBACK_URL = "/api/v1/postal/callbacks/vnpost/"
# A point in Phường Kinh Bắc (09187), where the demo desk and post office stand.
KINH_BAC = (106.0763, 21.1861)


def signed_headers(body: bytes, *, timestamp: int | None = None, secret: str | None = None) -> dict:
    """The carrier's headers, computed here from the protocol as the README
    writes it (not with postal.signing): hex HMAC-SHA256 over
    customer code, LF, timestamp, LF, raw body."""
    timestamp = int(timezone.now().timestamp()) if timestamp is None else timestamp
    canonical = settings.VNPOST_CUSTOMER_CODE.encode() + b"\n" + str(timestamp).encode() + b"\n" + body
    key = (secret or settings.VNPOST_CALLBACK_SECRET).encode()
    return {
        "HTTP_X_VNPOST_TIMESTAMP": str(timestamp),
        "HTTP_X_VNPOST_SIGNATURE": hmac.new(key, canonical, hashlib.sha256).hexdigest(),
    }


def callback_body(shipment, status: str, occurred_at: dt.datetime, *, event_id: str | None = None, **extra) -> bytes:
    return json.dumps(
        {
            "EventId": event_id or uuid.uuid4().hex,
            "ItemCode": shipment.tracking_number or "",
            "OrderCode": shipment.order_code,
            "Status": status,
            "OccurredAt": timezone.localtime(occurred_at).isoformat(),
            "PostOfficeCode": extra.pop("post_office", ""),
            "Note": extra.pop("note", ""),
            **extra,
        },
        ensure_ascii=False,
    ).encode()


@pytest.fixture
def post_callback(client):
    """post_callback(body, **header overrides) -> response of the callback endpoint, signed."""

    def send(body: bytes, **headers):
        return client.post(
            CALLBACK_URL, data=body, content_type="application/json", **{**signed_headers(body), **headers}
        )

    return send


def carrier_in_process_install(monkeypatch) -> None:
    """The sandbox carrier answering inside this test's process and
    transaction: the client's one HTTP function (postal.vnpost.http_post)
    goes through Django's test client to the same URL path, so the
    sandbox's views, services and tables are the real ones."""
    import postal.vnpost as vnpost

    client = Client()

    def post(url, *, body, headers, timeout_s, operation):
        response = client.post(
            urlsplit(url).path,
            data=json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=headers["Authorization"],
        )
        answer = response.json() if response["Content-Type"].startswith("application/json") else {}
        return response.status_code, answer, response.reason_phrase

    monkeypatch.setattr(vnpost, "http_post", post)


@pytest.fixture
def carrier_in_process(monkeypatch):
    carrier_in_process_install(monkeypatch)


@pytest.fixture
def run_carrier_jobs(carrier_in_process):
    """run_carrier_jobs() runs every queued CarrierRequest as the worker
    would (claim, call, record) and returns how many ran."""
    from postal.models import CarrierRequest
    from postal.services import carrier_request_run

    def run() -> int:
        queued = list(CarrierRequest.objects.filter(status="queued").values_list("pk", flat=True))
        for pk in queued:
            carrier_request_run(job_id=pk)
        return len(queued)

    return run


@pytest.fixture
def shipped(submit, drive, people, run_carrier_jobs):  # noqa: F811  (the fixtures imported above)
    """shipped(**submission fields) -> the outbound shipment of a dossier
    whose result goes by post, created at the carrier (tracking number)."""
    from postal.models import Shipment

    def make(**fields):
        values = {
            "result_delivery": "post",
            "delivery_address": "Số 2 Ngô Gia Tự, Kinh Bắc",
            "delivery_lon": KINH_BAC[0],
            "delivery_lat": KINH_BAC[1],
            **fields,
        }
        dossier = drive(submit(**values), "result_ready")
        run_carrier_jobs()
        return Shipment.objects.get(dossier=dossier, leg="outbound")

    return make
