"""The VNPay 2.1.0 protocol client against vectors computed here by hand:
the canonical string written out, Python's hmac over it."""

import datetime as dt
import hashlib
import hmac
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

from payments import vnpay

SECRET = "SECRETKEYEXAMPLE0123456789ABCDEF"
HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def _hmac(data: str) -> str:
    return hmac.new(SECRET.encode(), data.encode(), hashlib.sha512).hexdigest()


ORDER = vnpay.PaymentOrder(
    txn_ref="LP000000012320T01",
    amount_vnd=50_000,
    order_info="Nộp phí hồ sơ 000.00.13.H04-260715-0001 (thử)",
    created_at=dt.datetime(2026, 7, 15, 9, 30, 5, tzinfo=HCM),
    expires_at=dt.datetime(2026, 7, 15, 9, 45, 5, tzinfo=HCM),
    ip_address="203.0.113.9",
    return_url="https://dichvucong.example/payments/vnpay/return/",
)

# The canonical string of ORDER, written out: sorted names, values as an
# HTML form encodes them (space +, / as %2F, : as %3A), the diacritics gone.
CANONICAL = (
    "vnp_Amount=5000000&vnp_Command=pay&vnp_CreateDate=20260715093005&vnp_CurrCode=VND"
    "&vnp_ExpireDate=20260715094505&vnp_IpAddr=203.0.113.9&vnp_Locale=vn"
    "&vnp_OrderInfo=Nop+phi+ho+so+000.00.13.H04-260715-0001+thu&vnp_OrderType=other"
    "&vnp_ReturnUrl=https%3A%2F%2Fdichvucong.example%2Fpayments%2Fvnpay%2Freturn%2F"
    "&vnp_TmnCode=BNTEST01&vnp_TxnRef=LP000000012320T01&vnp_Version=2.1.0"
)


def test_the_payment_url_carries_every_parameter_and_the_hand_computed_signature():
    url = vnpay.payment_url(ORDER, gateway_url="https://gw.example/vpcpay.html", tmn_code="BNTEST01", secret=SECRET)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://gw.example/vpcpay.html"
    query, _, secure_hash = parts.query.rpartition("&vnp_SecureHash=")
    assert query == CANONICAL
    assert secure_hash == _hmac(CANONICAL)
    assert len(secure_hash) == 128
    params = dict(parse_qsl(parts.query))
    assert params["vnp_Amount"] == "5000000"  # VND × 100
    assert params["vnp_CreateDate"] == "20260715093005"  # GMT+7


def test_a_return_is_verified_as_received_and_any_change_breaks_it():
    # A return/IPN query as the gateway sends it (field order is not sorted);
    # an empty vnp_BankTranNo is signed empty.
    received = {
        "vnp_TxnRef": "LP000000012320T01",
        "vnp_Amount": "5000000",
        "vnp_BankCode": "NCB",
        "vnp_BankTranNo": "",
        "vnp_CardType": "ATM",
        "vnp_OrderInfo": "Nop phi ho so",
        "vnp_PayDate": "20260715093512",
        "vnp_ResponseCode": "24",
        "vnp_TmnCode": "BNTEST01",
        "vnp_TransactionNo": "0",
        "vnp_TransactionStatus": "02",
    }
    data = (
        "vnp_Amount=5000000&vnp_BankCode=NCB&vnp_BankTranNo=&vnp_CardType=ATM&vnp_OrderInfo=Nop+phi+ho+so"
        "&vnp_PayDate=20260715093512&vnp_ResponseCode=24&vnp_TmnCode=BNTEST01&vnp_TransactionNo=0"
        "&vnp_TransactionStatus=02&vnp_TxnRef=LP000000012320T01"
    )
    signed = {**received, "vnp_SecureHash": _hmac(data).upper(), "vnp_SecureHashType": "HmacSHA512"}
    assert vnpay.signature_valid(signed, SECRET)
    for name, value in (("vnp_Amount", "5000100"), ("vnp_ResponseCode", "00"), ("vnp_BankTranNo", "X")):
        assert not vnpay.signature_valid({**signed, name: value}, SECRET), name
    assert not vnpay.signature_valid(signed, SECRET + "x")
    assert not vnpay.signature_valid({k: v for k, v in signed.items() if k != "vnp_SecureHash"}, SECRET)
    assert not vnpay.signature_valid({**signed, "vnp_SecureHash": "é" * 128}, SECRET)  # not a 500
    result = vnpay.read_result(signed)
    assert (result.amount_vnd, result.succeeded) == (50_000, False)


def test_paid_only_when_both_codes_say_so_and_the_amount_is_whole():
    base = {"vnp_Amount": "5000000", "vnp_ResponseCode": "00", "vnp_TransactionStatus": "00"}
    assert vnpay.read_result(base).succeeded
    assert not vnpay.read_result({**base, "vnp_TransactionStatus": "01"}).succeeded
    assert not vnpay.read_result({**base, "vnp_ResponseCode": "07"}).succeeded
    assert vnpay.read_result({**base, "vnp_Amount": "5000050"}).amount_vnd is None
    assert vnpay.read_result({**base, "vnp_Amount": "-5000000"}).amount_vnd is None


def test_the_refund_body_is_signed_over_the_pipe_joined_fields():
    order = vnpay.RefundOrder(
        txn_ref="LP000000012320T01",
        amount_vnd=50_000,
        transaction_no="14226112",
        transaction_date=dt.datetime(2026, 7, 15, 9, 35, 12, tzinfo=HCM),
        created_by="He thong",
        ip_address="127.0.0.1",
        reason="Hoan phi LP000000012320",
    )
    now = dt.datetime(2026, 7, 16, 8, 0, 0, tzinfo=HCM)
    body = vnpay.refund_body(order, tmn_code="BNTEST01", secret=SECRET, now=now)
    data = "|".join(
        [
            body["vnp_RequestId"], "2.1.0", "refund", "BNTEST01", "02", "LP000000012320T01", "5000000", "14226112",
            "20260715093512", "He thong", "20260716080000", "127.0.0.1", "Hoan phi LP000000012320",
        ]
    )  # fmt: skip
    assert body["vnp_SecureHash"] == _hmac(data)


def test_order_info_loses_diacritics_and_special_characters():
    assert vnpay.plain_text("Nộp phí: Đăng ký <khai sinh> & 100%") == "Nop phi: Dang ky khai sinh 100"
