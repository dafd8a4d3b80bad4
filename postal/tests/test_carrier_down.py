"""A carrier that is down or slow: the shipment waits "to be created", its
job goes back to the queue with a growing wait (the outbox sweep publishes
it once due), and the order is made when the carrier answers, once.
(End to end, with a worker and a carrier switched off and on, in
tests/test_browser_postal.py.)"""

import datetime as dt
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from dossiers.models import DossierEvent
from postal.models import CarrierRequest, Shipment
from postal.sandbox.models import Order
from tests.processes import free_port

from .conftest import KINH_BAC, carrier_in_process_install


@pytest.fixture
def waiting(submit, drive):
    """A result ready to go by post, its shipment not yet ordered."""
    dossier = drive(
        submit(result_delivery="post", delivery_address="Số 2", delivery_lon=KINH_BAC[0], delivery_lat=KINH_BAC[1]),
        "result_ready",
    )
    return Shipment.objects.get(dossier=dossier)


@pytest.fixture
def slow_carrier():
    """An HTTP server that takes the request and answers only after 2 s."""

    class Slow(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            time.sleep(2)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/v1"
    server.shutdown()
    server.server_close()


def _run(shipment):
    from postal.services import carrier_request_run

    job = CarrierRequest.objects.get(shipment=shipment, kind="create_order")
    # Its wait is over (a try before then is not taken: outbox_claim_when_due).
    CarrierRequest.objects.filter(pk=job.pk, queued_at__gt=timezone.now()).update(queued_at=timezone.now())
    carrier_request_run(job_id=job.pk)
    job.refresh_from_db()
    return job


def _closed_port_url() -> str:
    port = free_port()
    with socket.socket() as probe:  # nobody listens there
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    return f"http://127.0.0.1:{port}/api/v1"


def test_a_carrier_that_is_down_leaves_the_shipment_waiting_then_it_is_created(
    waiting, settings, monkeypatch, client_as, people
):
    settings.OUTBOX_RETRY_BASE_S, settings.OUTBOX_RETRY_MAX_S = 30, 3600
    settings.VNPOST_BASE_URL = _closed_port_url()  # down: nobody listens there
    before = timezone.now()
    job = _run(waiting)
    assert (job.status, job.tries, job.published_at) == ("queued", 1, None)
    assert "ConnectionError" in job.last_error
    # Not before its wait: the outbox sweep publishes a queued row once its queued_at is past.
    assert job.queued_at >= before + dt.timedelta(seconds=30)
    waiting.refresh_from_db()
    assert (waiting.status, waiting.tracking_number) == ("pending", None)
    shown = client_as(people.desk_main).get(f"/api/v1/postal/shipments/{waiting.order_code}/").json()
    assert shown["creation"]["tries"] == 1 and "ConnectionError" in shown["creation"]["last_error"]
    assert not DossierEvent.objects.filter(dossier_id=waiting.dossier_id, action="shipment_created").exists()

    job = _run(waiting)  # still down: the wait doubles
    assert job.tries == 2 and job.queued_at >= timezone.now() + dt.timedelta(seconds=59)

    # Back up (the sandbox, answering in this process): created, once.
    carrier_in_process_install(monkeypatch)
    settings.VNPOST_BASE_URL = "http://testserver/sandbox/vnpost/api/v1"
    job = _run(waiting)
    waiting.refresh_from_db()
    assert (job.status, job.tries) == ("done", 3)
    assert waiting.status == "created" and waiting.tracking_number
    assert Order.objects.filter(order_code=waiting.order_code).count() == 1
    assert DossierEvent.objects.filter(dossier_id=waiting.dossier_id, action="shipment_created").count() == 1


def test_a_slow_carrier_times_out_and_the_order_is_tried_again(waiting, settings, slow_carrier):
    settings.VNPOST_BASE_URL = slow_carrier
    settings.VNPOST_TIMEOUT_S = 0.3
    started = time.monotonic()
    job = _run(waiting)
    assert time.monotonic() - started < 1.9  # gave up at the timeout, did not wait for the answer
    assert (job.status, job.tries) == ("queued", 1)
    assert "Timeout" in job.last_error
    waiting.refresh_from_db()
    assert waiting.status == "pending"


def test_ordering_again_after_a_lost_answer_makes_one_parcel(waiting, run_carrier_jobs):
    """The carrier made the order but its answer was lost: the same
    OrderCode again gets the same parcel (the sandbox keeps the protocol's
    promise), so a retry never ships twice."""
    from postal.services import carrier_order
    from postal.vnpost import vnpost_client

    first = vnpost_client().create_order(carrier_order(waiting))  # made, answer "lost"
    run_carrier_jobs()
    waiting.refresh_from_db()
    assert waiting.tracking_number == first.item_code
    assert Order.objects.filter(order_code=waiting.order_code).count() == 1
