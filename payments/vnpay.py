"""The VNPay 2.1.0 protocol, as a merchant and as a gateway speak it.

Everything that depends on the protocol and nothing else: the canonical
string and its HMAC-SHA512 signature, the payment URL with its `vnp_*`
parameters, reading a signed return or IPN query, the IPN answer, and the
merchant web API call for refunds (`vnp_Command=refund`). The portal's
payment services and its sandbox gateway both use it; neither touches the
database here.

Signature (VNPay's integration guide, version 2.1.0): the `vnp_*`
parameters except `vnp_SecureHash` and `vnp_SecureHashType`, sorted by
name, each written `name=value` with the value URL-encoded as an HTML form
does (space as `+`, PHP's `urlencode`, Python's `quote_plus`), joined by
`&`; `vnp_SecureHash` is the lowercase hex HMAC-SHA512 of that string
under the merchant's secret. Amounts are VND × 100. Times are
`yyyyMMddHHmmss` in Vietnam's time (GMT+7).

The merchant web API (refund, query) signs a JSON body differently: the
values of a fixed list of fields joined by `|` (also HMAC-SHA512)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import unicodedata
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote_plus, urlencode
from zoneinfo import ZoneInfo

VERSION = "2.1.0"
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
TIME_FORMAT = "%Y%m%d%H%M%S"
HASH_FIELDS = frozenset({"vnp_SecureHash", "vnp_SecureHashType"})
SUCCESS = "00"

# vnp_ResponseCode of a payment (the gateway's table); the sandbox answers
# with these too.
RESPONSE_CODES = {
    "00": ("Giao dịch thành công", "Transaction successful"),
    "07": ("Trừ tiền thành công, giao dịch bị nghi ngờ", "Money taken; transaction flagged as suspicious"),
    "09": ("Thẻ/tài khoản chưa đăng ký Internet Banking", "Card or account not registered for internet banking"),
    "10": ("Xác thực thông tin thẻ/tài khoản không đúng quá 3 lần", "Card or account authentication failed 3 times"),
    "11": ("Đã hết hạn chờ thanh toán", "The payment window has expired"),
    "12": ("Thẻ/tài khoản bị khóa", "Card or account locked"),
    "13": ("Nhập sai mật khẩu xác thực giao dịch (OTP)", "Wrong one-time password"),
    "24": ("Khách hàng hủy giao dịch", "Cancelled by the customer"),
    "51": ("Tài khoản không đủ số dư", "Insufficient funds"),
    "65": ("Tài khoản vượt quá hạn mức giao dịch trong ngày", "Daily limit exceeded"),
    "75": ("Ngân hàng thanh toán đang bảo trì", "The bank is under maintenance"),
    "79": ("Nhập sai mật khẩu thanh toán quá số lần quy định", "Payment password wrong too many times"),
    "99": ("Lỗi khác", "Other error"),
}

# The merchant's answer to an IPN: exactly these codes and messages.
IPN_SUCCESS = ("00", "Confirm Success")
IPN_ORDER_NOT_FOUND = ("01", "Order not found")
IPN_ALREADY_CONFIRMED = ("02", "Order already confirmed")
IPN_INVALID_AMOUNT = ("04", "Invalid amount")
IPN_INVALID_CHECKSUM = ("97", "Invalid Checksum")
IPN_UNKNOWN_ERROR = ("99", "Unknown error")
# Answers after which the gateway stops sending an IPN.
IPN_FINAL_CODES = frozenset({"00", "02"})


class GatewayUnavailable(Exception):
    """The gateway's API did not answer in time, or answered something that
    is not the protocol (a 5xx, a page): try again later."""


def vietnam_time(moment: dt.datetime) -> str:
    return moment.astimezone(VIETNAM).strftime(TIME_FORMAT)


def parse_vietnam_time(value: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(value, TIME_FORMAT).replace(tzinfo=VIETNAM)
    except (TypeError, ValueError):
        return None


def canonical_string(params: Mapping[str, str]) -> str:
    """The signed string: `vnp_*` fields but the hash ones, sorted,
    `name=quote_plus(value)` joined by `&`. A field sent empty (a cancelled
    payment's `vnp_BankTranNo=`) is signed empty, as VNPay's code does."""
    fields = sorted(
        (name, str(value))
        for name, value in params.items()
        if name.startswith("vnp_") and name not in HASH_FIELDS and value is not None
    )
    return "&".join(f"{name}={quote_plus(value)}" for name, value in fields)


def sign(secret: str, data: str) -> str:
    return hmac.new(secret.encode("utf-8"), data.encode("utf-8"), hashlib.sha512).hexdigest()


def signature_valid(params: Mapping[str, str], secret: str) -> bool:
    """Whether `params` (a return or IPN query, as received) carry the
    signature of `secret`. Compared in constant time, case-insensitively
    (VNPay's examples send upper- or lowercase hex)."""
    given = str(params.get("vnp_SecureHash") or "").lower()
    if not given or not given.isascii():
        return False  # compare_digest refuses non-ASCII text
    return hmac.compare_digest(given, sign(secret, canonical_string(params)))


def signed_query(params: Mapping[str, str], secret: str) -> str:
    """The query string of `params` with `vnp_SecureHash` appended."""
    data = canonical_string(params)
    return f"{data}&vnp_SecureHash={sign(secret, data)}"


def plain_text(text: str, *, limit: int = 255) -> str:
    """`vnp_OrderInfo` must be Vietnamese without diacritics and without
    special characters: letters, digits, spaces and `.,:-_/` only."""
    text = text.replace("đ", "d").replace("Đ", "D")
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    kept = "".join(c if c.isascii() and (c.isalnum() or c in " .,:-_/") else " " for c in text)
    return " ".join(kept.split())[:limit]


@dataclass(frozen=True)
class PaymentOrder:
    """What the merchant asks the gateway to collect."""

    txn_ref: str
    amount_vnd: int
    order_info: str
    created_at: dt.datetime
    expires_at: dt.datetime
    ip_address: str
    return_url: str
    locale: str = "vn"
    order_type: str = "other"
    bank_code: str = ""


def payment_parameters(order: PaymentOrder, *, tmn_code: str) -> dict[str, str]:
    params = {
        "vnp_Version": VERSION,
        "vnp_Command": "pay",
        "vnp_TmnCode": tmn_code,
        "vnp_Amount": str(order.amount_vnd * 100),
        "vnp_CurrCode": "VND",
        "vnp_TxnRef": order.txn_ref,
        "vnp_OrderInfo": plain_text(order.order_info),
        "vnp_OrderType": order.order_type,
        "vnp_Locale": order.locale if order.locale in ("vn", "en") else "vn",
        "vnp_ReturnUrl": order.return_url,
        "vnp_IpAddr": order.ip_address,
        "vnp_CreateDate": vietnam_time(order.created_at),
        "vnp_ExpireDate": vietnam_time(order.expires_at),
    }
    if order.bank_code:
        params["vnp_BankCode"] = order.bank_code
    return params


def payment_url(order: PaymentOrder, *, gateway_url: str, tmn_code: str, secret: str) -> str:
    """The URL the buyer's browser is sent to."""
    return f"{gateway_url}?{signed_query(payment_parameters(order, tmn_code=tmn_code), secret)}"


@dataclass(frozen=True)
class GatewayResult:
    """A return or IPN query, read (after its signature was checked)."""

    txn_ref: str
    amount_vnd: int | None  # None when vnp_Amount is not a whole number of đồng × 100
    response_code: str
    transaction_status: str
    transaction_no: str
    bank_code: str
    pay_date: dt.datetime | None
    tmn_code: str

    @property
    def succeeded(self) -> bool:
        """Paid only when both codes say so."""
        return self.response_code == SUCCESS and self.transaction_status == SUCCESS


def _amount(raw: str) -> int | None:
    if not raw.isascii() or not raw.isdigit():
        return None
    hundredths = int(raw)
    return hundredths // 100 if hundredths % 100 == 0 else None


def read_result(params: Mapping[str, str]) -> GatewayResult:
    get = lambda name: str(params.get(name) or "")  # noqa: E731
    return GatewayResult(
        txn_ref=get("vnp_TxnRef"),
        amount_vnd=_amount(get("vnp_Amount")),
        response_code=get("vnp_ResponseCode"),
        transaction_status=get("vnp_TransactionStatus"),
        transaction_no=get("vnp_TransactionNo"),
        bank_code=get("vnp_BankCode"),
        pay_date=parse_vietnam_time(get("vnp_PayDate")),
        tmn_code=get("vnp_TmnCode"),
    )


def ipn_answer(code_and_message: tuple[str, str]) -> dict[str, str]:
    code, text = code_and_message
    return {"RspCode": code, "Message": text}


def response_text(code: str) -> tuple[str, str]:
    return RESPONSE_CODES.get(code, RESPONSE_CODES["99"])


# --- the merchant web API: refunds ------------------------------------------------------

# Field order of the signed data (VNPay merchant web API, refund 2.1.0).
REFUND_SIGNED_FIELDS = (
    "vnp_RequestId",
    "vnp_Version",
    "vnp_Command",
    "vnp_TmnCode",
    "vnp_TransactionType",
    "vnp_TxnRef",
    "vnp_Amount",
    "vnp_TransactionNo",
    "vnp_TransactionDate",
    "vnp_CreateBy",
    "vnp_CreateDate",
    "vnp_IpAddr",
    "vnp_OrderInfo",
)
REFUND_RESPONSE_SIGNED_FIELDS = (
    "vnp_ResponseId",
    "vnp_Command",
    "vnp_ResponseCode",
    "vnp_Message",
    "vnp_TmnCode",
    "vnp_TxnRef",
    "vnp_Amount",
    "vnp_BankCode",
    "vnp_PayDate",
    "vnp_TransactionNo",
    "vnp_TransactionType",
    "vnp_TransactionStatus",
    "vnp_OrderInfo",
)
FULL_REFUND = "02"
PARTIAL_REFUND = "03"


def pipe_signature(body: Mapping[str, str], fields: tuple[str, ...], secret: str) -> str:
    return sign(secret, "|".join(str(body.get(name, "")) for name in fields))


@dataclass(frozen=True)
class RefundOrder:
    txn_ref: str
    amount_vnd: int
    transaction_no: str
    transaction_date: dt.datetime  # the payment's vnp_PayDate (or its vnp_CreateDate)
    created_by: str
    ip_address: str
    reason: str
    full: bool = True


def refund_body(order: RefundOrder, *, tmn_code: str, secret: str, now: dt.datetime) -> dict[str, str]:
    body = {
        "vnp_RequestId": uuid.uuid4().hex[:32],
        "vnp_Version": VERSION,
        "vnp_Command": "refund",
        "vnp_TmnCode": tmn_code,
        "vnp_TransactionType": FULL_REFUND if order.full else PARTIAL_REFUND,
        "vnp_TxnRef": order.txn_ref,
        "vnp_Amount": str(order.amount_vnd * 100),
        "vnp_TransactionNo": order.transaction_no,
        "vnp_TransactionDate": vietnam_time(order.transaction_date),
        "vnp_CreateBy": plain_text(order.created_by, limit=250) or "system",
        "vnp_CreateDate": vietnam_time(now),
        "vnp_IpAddr": order.ip_address,
        "vnp_OrderInfo": plain_text(order.reason) or "Hoan phi",
    }
    body["vnp_SecureHash"] = pipe_signature(body, REFUND_SIGNED_FIELDS, secret)
    return body


@dataclass(frozen=True)
class RefundAnswer:
    response_code: str
    message: str
    transaction_no: str
    signature_valid: bool
    raw: dict

    @property
    def succeeded(self) -> bool:
        return self.signature_valid and self.response_code == SUCCESS


def refund_call(order: RefundOrder, *, api_url: str, tmn_code: str, secret: str, timeout_s: float) -> RefundAnswer:
    """POSTs the refund to the gateway's API. GatewayUnavailable when it does
    not answer within `timeout_s`, refuses the connection, or answers
    anything but a JSON object (the caller retries later)."""
    body = refund_body(order, tmn_code=tmn_code, secret=secret, now=dt.datetime.now(tz=VIETNAM))
    request = urllib.request.Request(
        api_url,
        data=json.dumps(body).encode("utf-8"),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 (URL from settings)
            raw = json.loads(response.read(65536).decode("utf-8"))
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as failure:
        raise GatewayUnavailable(str(failure)) from failure
    if not isinstance(raw, dict):
        raise GatewayUnavailable("the answer is not a JSON object")
    answer = {k: str(v) for k, v in raw.items()}
    given = answer.get("vnp_SecureHash", "").lower()
    expected = pipe_signature(answer, REFUND_RESPONSE_SIGNED_FIELDS, secret)
    return RefundAnswer(
        response_code=answer.get("vnp_ResponseCode", ""),
        message=answer.get("vnp_Message", ""),
        transaction_no=answer.get("vnp_TransactionNo", ""),
        signature_valid=bool(given) and given.isascii() and hmac.compare_digest(given, expected),
        raw=raw,
    )


def query_string(params: Mapping[str, str]) -> str:
    """A plain query string of `params` (for redirects built by the sandbox)."""
    return urlencode(params)
