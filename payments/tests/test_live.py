"""Against the project's own server (real HTTP, committed rows): 20
copies of one IPN at once settle it exactly once; the sandbox gateway's
page, signed redirect and IPN; a refund while the gateway is down or slow
waits in the outbox and goes through once it answers."""

import datetime as dt
import http.server
import json
import socketserver
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.test import override_settings
from django.utils import timezone

from tests.processes import free_port

from .conftest import ipn_params, ipn_url
from .live_support import FEE, committed_fee_world, submit_committed

COPIES = 20


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker) -> Iterator[dict]:
    with committed_fee_world(django_db_blocker) as world:
        yield world


@pytest.mark.django_db
def test_an_unsigned_ipn_is_refused(client):
    # A database test first: pytest-django then creates the test database
    # even when this module runs alone.
    assert client.get("/api/v1/payments/vnpay/ipn/?vnp_TxnRef=x").json() == {
        "RspCode": "97",
        "Message": "Invalid Checksum",
    }


def _get_json(url: str, timeout: float = 15) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        assert response.status == 200
        return json.loads(response.read())


def _start(world, base_url: str):
    from payments.services import online_payment_start

    dossier = submit_committed(world)
    started = online_payment_start(
        code=dossier.code,
        acting_user=world["citizen"],
        ip_address="127.0.0.1",
        gateway_url=f"{base_url}/sandbox/vnpay/paymentv2/vpcpay.html",
        return_url=f"{base_url}/payments/vnpay/return/",
    )
    return dossier, started


def test_twenty_concurrent_copies_of_an_ipn_settle_once(world, live_server_url, django_db_blocker):
    from dossiers.models import DossierEvent
    from payments.models import GatewayTransaction, Payment, PaymentRequest

    with django_db_blocker.unblock():
        dossier, started = _start(world, live_server_url)
        url = live_server_url + ipn_url(ipn_params(started.order))
    answers: list[str] = []
    barrier = threading.Barrier(COPIES)

    def send():
        barrier.wait()
        answers.append(_get_json(url)["RspCode"])

    threads = [threading.Thread(target=send) for _ in range(COPIES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(answers) == ["00"] + ["02"] * (COPIES - 1)
    with django_db_blocker.unblock():
        request = PaymentRequest.objects.get(dossier=dossier)
        assert request.status == "paid"
        assert Payment.objects.filter(request=request).count() == 1
        assert DossierEvent.objects.filter(dossier=dossier, action="payment_paid").count() == 1
        assert GatewayTransaction.objects.filter(order=started.order).count() == COPIES  # every copy kept


def test_the_sandbox_pays_redirects_signed_and_sends_the_ipn(world, live_server_url, django_db_blocker):
    from payments import sandbox, vnpay
    from payments.models import PaymentRequest, SandboxIpn

    with django_db_blocker.unblock():
        dossier, started = _start(world, live_server_url)
        params = dict(parse_qsl(urlsplit(started.payment_url).query, keep_blank_values=True))
        with override_settings(VNPAY_SANDBOX_EAGER=True, VNPAY_SANDBOX_IPN_COPIES=2, VNPAY_SANDBOX_IPN_REPEAT_S=0.2):
            txn = sandbox.sandbox_transaction_open(params)
            assert (txn.amount_vnd, txn.ipn_url) == (FEE, f"{live_server_url}/api/v1/payments/vnpay/ipn/")
            finished = sandbox.sandbox_transaction_finish(transaction_id=txn.pk, choice="success")
        back = dict(parse_qsl(urlsplit(finished.return_url).query, keep_blank_values=True))
        assert vnpay.signature_valid(back, "SANDBOXSECRETBACNINHPORTAL000000")
        assert back["vnp_ResponseCode"] == back["vnp_TransactionStatus"] == "00"
        # The first IPN went before the redirect (eager); the duplicate waits its turn.
        first, duplicate = SandboxIpn.objects.filter(transaction=txn).order_by("copy")
        assert first.status == "delivered" and '"00"' in first.last_answer
        assert PaymentRequest.objects.get(dossier=dossier).status == "paid"
        time.sleep(0.3)
        sandbox.sandbox_ipn_deliver(delivery_id=duplicate.pk)
        duplicate.refresh_from_db()
        assert duplicate.status == "delivered" and '"02"' in duplicate.last_answer
    # A tampered payment URL is refused with the protocol's code.
    tampered = started.payment_url.replace(f"vnp_Amount={FEE * 100}", f"vnp_Amount={FEE}")
    try:
        urllib.request.urlopen(tampered, timeout=10)
        raise AssertionError("a tampered URL was accepted")
    except urllib.error.HTTPError as error:
        assert error.code == 400 and b'data-code="97"' in error.read()


class _SlowHandler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        time.sleep(2)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_refund_waits_while_the_gateway_is_down_or_slow(world, live_server_url, django_db_blocker):
    from dossiers.models import DossierEvent
    from dossiers.services import dossier_transition
    from gisportal.outbox import outbox_publish_pending
    from payments.models import PaymentRequest, Refund, SandboxTransaction
    from payments.sandbox import sandbox_transaction_finish, sandbox_transaction_open
    from payments.services import refund_run

    with django_db_blocker.unblock():
        dossier, started = _start(world, live_server_url)
        params = dict(parse_qsl(urlsplit(started.payment_url).query, keep_blank_values=True))
        with override_settings(VNPAY_SANDBOX_EAGER=True, VNPAY_SANDBOX_IPN_COPIES=1):
            txn = sandbox_transaction_open(params)
            sandbox_transaction_finish(transaction_id=txn.pk, choice="success")
        assert PaymentRequest.objects.get(dossier=dossier).status == "paid"
        dossier_transition(code=dossier.code, action="withdraw", acting_user=world["citizen"])
        refund = Refund.objects.get(payment__request__dossier=dossier)
        assert refund.status == "queued"

        closed_port = free_port()
        with override_settings(VNPAY_API_URL=f"http://127.0.0.1:{closed_port}/api", PAYMENT_CALL_TIMEOUT_S=0.5):
            refund_run(refund_id=refund.pk)
        refund.refresh_from_db()
        assert (refund.status, refund.attempts) == ("queued", 1) and refund.queued_at > timezone.now()
        assert refund_run(refund_id=refund.pk) is None  # not due yet: nothing sent
        assert PaymentRequest.objects.get(dossier=dossier).status == "refunded"  # the step is recorded

        server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SlowHandler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            Refund.objects.filter(pk=refund.pk).update(queued_at=timezone.now() - dt.timedelta(seconds=5))
            assert outbox_publish_pending() >= 1  # the sweep sends it again once due
            with override_settings(
                VNPAY_API_URL=f"http://127.0.0.1:{server.server_address[1]}/api", PAYMENT_CALL_TIMEOUT_S=0.5
            ):
                started_at = time.monotonic()
                refund_run(refund_id=refund.pk)
                assert time.monotonic() - started_at < 1.5  # the slow gateway is not waited for
        finally:
            server.shutdown()
        refund.refresh_from_db()
        assert (refund.status, refund.attempts) == ("queued", 2)
        assert not DossierEvent.objects.filter(dossier=dossier, action__startswith="payment_refund_").exists()

        Refund.objects.filter(pk=refund.pk).update(queued_at=timezone.now() - dt.timedelta(seconds=5))
        with override_settings(VNPAY_API_URL=f"{live_server_url}/sandbox/vnpay/merchant_webapi/api/transaction"):
            refund_run(refund_id=refund.pk)
        refund.refresh_from_db()
        assert (refund.status, refund.response_code) == ("succeeded", "00")
        assert SandboxTransaction.objects.get(pk=txn.pk).status == "refunded"
        assert DossierEvent.objects.filter(dossier=dossier, action="payment_refund_done", actor_name="VNPay").exists()


def test_the_dossier_stays_unpaid_while_no_ipn_comes_and_is_paid_when_it_does(
    world, live_server_url, django_db_blocker
):
    from payments.models import PaymentRequest

    with django_db_blocker.unblock():
        dossier, started = _start(world, live_server_url)
    time.sleep(0.5)  # the gateway is down: nothing arrives
    with django_db_blocker.unblock():
        assert PaymentRequest.objects.get(dossier=dossier).status == "pending"
    assert _get_json(live_server_url + ipn_url(ipn_params(started.order)))["RspCode"] == "00"
    with django_db_blocker.unblock():
        assert PaymentRequest.objects.get(dossier=dossier).status == "paid"
