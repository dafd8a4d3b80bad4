"""Fixtures of the payment tests: the dossier fixtures (catalogue, points,
people, submit, drive), a procedure that charges a fee, and a signer of
gateway messages written here, independently of payments.vnpay."""

import datetime as dt
import hashlib
import hmac
from urllib.parse import quote_plus, urlencode
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings

from dossiers.tests import conftest as dossier_fixtures

# The dossier tests' fixtures (test catalogue, points, people, `submit` and
# `drive` through the services), as maps/tests do.
catalogue = dossier_fixtures.catalogue
points = dossier_fixtures.points
people = dossier_fixtures.people
submit = dossier_fixtures.submit
drive = dossier_fixtures.drive

FEE = 50_000
HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def gateway_sign(params: dict, secret: str | None = None) -> dict:
    """`params` with vnp_SecureHash as VNPay 2.1.0 computes it: sorted
    vnp_* fields, name=quote_plus(value) joined by &, HMAC-SHA512 hex."""
    secret = secret or settings.VNPAY_HASH_SECRET
    data = "&".join(f"{k}={quote_plus(str(v))}" for k, v in sorted(params.items()) if k.startswith("vnp_"))
    return {**params, "vnp_SecureHash": hmac.new(secret.encode(), data.encode(), hashlib.sha512).hexdigest()}


def ipn_params(
    order, *, response="00", status="00", amount_vnd=None, pay_date=None, transaction_no="14226112", secret=None
):
    """A signed IPN query for `order` (an OnlineOrder)."""
    pay_date = pay_date or dt.datetime.now(tz=HCM)
    params = {
        "vnp_Amount": str((order.amount_vnd if amount_vnd is None else amount_vnd) * 100),
        "vnp_BankCode": "NCB",
        "vnp_BankTranNo": "VNP14226112",
        "vnp_CardType": "ATM",
        "vnp_OrderInfo": "Nop phi ho so",
        "vnp_PayDate": pay_date.astimezone(HCM).strftime("%Y%m%d%H%M%S"),
        "vnp_ResponseCode": response,
        "vnp_TmnCode": settings.VNPAY_TMN_CODE,
        "vnp_TransactionNo": transaction_no,
        "vnp_TransactionStatus": status,
        "vnp_TxnRef": order.txn_ref,
    }
    return gateway_sign(params, secret)


def ipn_url(params: dict) -> str:
    return "/api/v1/payments/vnpay/ipn/?" + urlencode(params)


@pytest.fixture
def fee(catalogue):
    """catalogue.main charges FEE from now on."""
    catalogue.main.fee_vnd = FEE
    catalogue.main.fee_note = "Lệ phí cấp phiếu"
    catalogue.main.save(update_fields=["fee_vnd", "fee_note"])
    return FEE


@pytest.fixture
def fee_dossier(fee, submit):
    """A dossier of citizen A, received online at CENTRE-MAIN, with its open request."""
    return submit()


@pytest.fixture
def start_order(people):
    """start_order(dossier) -> OnlineOrder, started by the applicant."""
    from payments.services import online_payment_start

    def start(dossier, *, user=None, at=None):
        started = online_payment_start(
            code=dossier.code,
            acting_user=user or people.citizen_a,
            ip_address="203.0.113.9",
            gateway_url="http://testserver/sandbox/vnpay/paymentv2/vpcpay.html",
            return_url="http://testserver/payments/vnpay/return/",
            at=at,
        )
        return started.order

    return start
