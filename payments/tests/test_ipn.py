"""The gateway's IPN through the portal's URL: signed, replayed, tampered,
wrong amount, unknown order, failed, late; every message kept; and the
browser's return, which shows and never settles."""

import datetime as dt

import pytest
from django.utils import timezone

from dossiers.models import DossierEvent
from payments.models import GatewayTransaction, OnlineOrder, Payment, PaymentCount, PaymentRequest
from payments.services import payment_requests_expire

from .conftest import FEE, gateway_sign, ipn_params, ipn_url

pytestmark = pytest.mark.django_db


def _ipn(client, params) -> dict:
    response = client.get(ipn_url(params))
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    return response.json()


def _state(dossier) -> tuple:
    request = PaymentRequest.objects.get(dossier=dossier)
    return (
        request.status,
        Payment.objects.filter(request=request).count(),
        list(
            DossierEvent.objects.filter(dossier=dossier, action__startswith="payment_").values_list("action", flat=True)
        ),
    )


def test_a_signed_successful_ipn_settles_once_and_a_replay_answers_02(client, fee_dossier, start_order):
    order = start_order(fee_dossier)
    params = ipn_params(order)
    assert _ipn(client, params) == {"RspCode": "00", "Message": "Confirm Success"}
    assert _state(fee_dossier) == ("paid", 1, ["payment_requested", "payment_paid"])
    payment = Payment.objects.get()
    assert (payment.method, payment.amount_vnd, payment.external_reference) == ("vnpay", FEE, "14226112")
    assert payment.gateway_transaction.params == params  # the raw message, kept
    event = DossierEvent.objects.get(dossier=fee_dossier, action="payment_paid")
    assert event.actor_name == "VNPay" and payment.receipt_number in event.note
    assert PaymentCount.objects.get(dimension="all", key=0).paid_online == 1
    assert _ipn(client, params) == {"RspCode": "02", "Message": "Order already confirmed"}
    assert _state(fee_dossier) == ("paid", 1, ["payment_requested", "payment_paid"])
    assert list(GatewayTransaction.objects.order_by("id").values_list("answer_code", flat=True)) == ["00", "02"]


def test_a_tampered_ipn_is_97_and_changes_nothing(client, fee_dossier, start_order):
    order = start_order(fee_dossier)
    tampered = {**ipn_params(order), "vnp_Amount": str(FEE * 100 - 100)}
    assert _ipn(client, tampered) == {"RspCode": "97", "Message": "Invalid Checksum"}
    wrong_secret = ipn_params(order, secret="another-merchant-secret")
    assert _ipn(client, wrong_secret)["RspCode"] == "97"
    unsigned = {k: v for k, v in ipn_params(order).items() if k != "vnp_SecureHash"}
    assert _ipn(client, unsigned)["RspCode"] == "97"
    assert _state(fee_dossier) == ("pending", 0, ["payment_requested"])
    assert GatewayTransaction.objects.filter(signature_valid=False, answer_code="97").count() == 3


def test_an_unknown_order_is_01_and_a_wrong_amount_is_04(client, fee_dossier, start_order):
    order = start_order(fee_dossier)
    unknown = gateway_sign({**{k: v for k, v in ipn_params(order).items() if k != "vnp_SecureHash"},
                            "vnp_TxnRef": "LP000000000000T01"})  # fmt: skip
    assert _ipn(client, unknown) == {"RspCode": "01", "Message": "Order not found"}
    assert _ipn(client, ipn_params(order, amount_vnd=FEE + 1_000)) == {"RspCode": "04", "Message": "Invalid amount"}
    assert _state(fee_dossier) == ("pending", 0, ["payment_requested"])
    # The right IPN still settles afterwards.
    assert _ipn(client, ipn_params(order))["RspCode"] == "00"


def test_a_failed_payment_is_recorded_and_the_fee_can_still_be_paid(client, fee_dossier, start_order):
    first = start_order(fee_dossier)
    assert _ipn(client, ipn_params(first, response="51", status="02", transaction_no="0")) == {
        "RspCode": "00",
        "Message": "Confirm Success",
    }
    assert _state(fee_dossier) == ("failed", 0, ["payment_requested", "payment_failed"])
    assert "51" in DossierEvent.objects.get(action="payment_failed").note
    # Code 00 with a transaction status other than 00 is not a payment either.
    assert _ipn(client, ipn_params(first, response="00", status="01"))["RspCode"] == "02"
    second = start_order(fee_dossier)
    assert second.txn_ref.endswith("T02")
    assert _ipn(client, ipn_params(second))["RspCode"] == "00"
    assert _state(fee_dossier)[:2] == ("paid", 1)


def test_a_late_ipn_settles_a_payment_made_in_time_but_not_one_made_after(client, fee, submit, start_order):
    in_time_dossier, late_dossier = submit(), submit()
    orders = {}
    for dossier in (in_time_dossier, late_dossier):
        request = PaymentRequest.objects.get(dossier=dossier)
        # The order was started a minute before the request's due time.
        orders[dossier.pk] = start_order(dossier, at=request.due_at - dt.timedelta(minutes=1))
    payment_requests_expire(now=max(o.expires_at for o in orders.values()) + dt.timedelta(minutes=1))
    assert set(PaymentRequest.objects.values_list("status", flat=True)) == {"expired"}
    in_time = orders[in_time_dossier.pk]
    assert _ipn(client, ipn_params(in_time, pay_date=in_time.expires_at - dt.timedelta(seconds=30)))["RspCode"] == "00"
    assert _state(in_time_dossier)[:2] == ("paid", 1)
    late = orders[late_dossier.pk]
    assert _ipn(client, ipn_params(late, pay_date=late.expires_at + dt.timedelta(minutes=5)))["RspCode"] == "02"
    assert _state(late_dossier) == ("expired", 0, ["payment_requested", "payment_expired"])
    assert OnlineOrder.objects.get(pk=late.pk).status == OnlineOrder.Status.LATE


def test_a_gateway_payment_for_a_request_paid_at_the_desk_is_not_settled_twice(
    client, fee_dossier, start_order, people
):
    from payments.services import payment_record_counter

    order = start_order(fee_dossier)
    payment_record_counter(dossier_id=fee_dossier.pk, method="cash", amount_vnd=FEE, acting_user=people.desk_main)
    assert _ipn(client, ipn_params(order))["RspCode"] == "02"
    assert Payment.objects.count() == 1 and OnlineOrder.objects.get().status == OnlineOrder.Status.SUPERSEDED


def test_the_return_page_shows_the_result_and_never_settles(client, fee_dossier, start_order):
    order = start_order(fee_dossier)
    params = ipn_params(order)
    response = client.get("/payments/vnpay/return/", params)
    assert response.status_code == 200
    assert b'data-result="success"' in response.content and b'id="return-waiting"' in response.content
    assert _state(fee_dossier) == ("pending", 0, ["payment_requested"])
    assert GatewayTransaction.objects.get().kind == "return"
    tampered = {**params, "vnp_ResponseCode": "00", "vnp_Amount": "100"}
    response = client.get("/payments/vnpay/return/", tampered)
    assert response.status_code == 400 and b'data-result="invalid"' in response.content
    client.get(ipn_url(params))
    response = client.get("/payments/vnpay/return/", params)
    assert b'id="return-paid"' in response.content


def test_ipn_answers_exist_for_every_protocol_code(client, fee_dossier, start_order):
    """Sanity of the table the gateway reads: the answers are exactly the protocol's."""
    from payments import vnpay

    assert {code for code, _ in (vnpay.IPN_SUCCESS, vnpay.IPN_ORDER_NOT_FOUND, vnpay.IPN_ALREADY_CONFIRMED,
                                 vnpay.IPN_INVALID_AMOUNT, vnpay.IPN_INVALID_CHECKSUM, vnpay.IPN_UNKNOWN_ERROR)} == {
        "00", "01", "02", "04", "97", "99"}  # fmt: skip
    assert timezone.now()  # keeps the fixture order explicit
