"""A VNPay 2.1.0 gateway inside the portal, for development, tests and
integrators (README, "The sandbox gateway"). It is a gateway, not part of
the merchant: it knows one merchant (VNPAY_SANDBOX_TMN_CODE and its secret),
checks the signature of the payment URL, shows a payment page with success,
cancel and insufficient-funds choices, sends the browser back with a
signed query, and sends the merchant signed IPNs through the outbox,
retried until the merchant answers 00 or 02: VNPAY_SANDBOX_IPN_COPIES of
them (the extra ones are deliberate duplicates), the first after
VNPAY_SANDBOX_IPN_DELAY_S. Its merchant web API answers refunds.

Codes it answers with: vnp_ResponseCode 00 (success), 24 (cancelled by the
buyer), 51 (insufficient funds), 11 (the payment window expired);
vnp_TransactionStatus 00 for success, 02 otherwise. Refund API: 00, 02
(unknown merchant), 03 (bad data), 91 (no such transaction), 94 (already
refunded in full), 95 (the transaction was not successful), 97 (bad
signature)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from gisportal.api import message
from gisportal.outbox import (
    outbox_backoff_s,
    outbox_claim_when_due,
    outbox_owns,
    outbox_publish_on_commit,
    outbox_retry_later,
)

from . import vnpay
from .models import SandboxIpn, SandboxTransaction

logger = logging.getLogger(__name__)

CHOICES = {
    # choice: (vnp_ResponseCode, vnp_TransactionStatus, final status)
    "success": ("00", "00", SandboxTransaction.Status.SUCCEEDED),
    "cancel": ("24", "02", SandboxTransaction.Status.CANCELLED),
    "insufficient_funds": ("51", "02", SandboxTransaction.Status.FAILED),
    "expired": ("11", "02", SandboxTransaction.Status.FAILED),
}
BANK_CODE = "NCB"
CARD_TYPE = "ATM"
_REQUIRED = (
    "vnp_Version",
    "vnp_Command",
    "vnp_TmnCode",
    "vnp_Amount",
    "vnp_CurrCode",
    "vnp_TxnRef",
    "vnp_OrderInfo",
    "vnp_ReturnUrl",
    "vnp_IpAddr",
    "vnp_CreateDate",
    "vnp_ExpireDate",
)


class SandboxRefused(Exception):
    """The payment URL is not one the gateway accepts: (code, vi, en)."""

    def __init__(self, code: str, vi: str, en: str):
        super().__init__(message(vi, en))
        self.code = code


def _check(params: Mapping[str, str]) -> None:
    missing = [name for name in _REQUIRED if not params.get(name)]
    if missing:
        raise SandboxRefused(
            "03", f"Thiếu tham số: {', '.join(missing)}.", f"Missing parameters: {', '.join(missing)}."
        )
    if params.get("vnp_TmnCode") != settings.VNPAY_SANDBOX_TMN_CODE:
        raise SandboxRefused("02", "Mã website (vnp_TmnCode) không tồn tại.", "Unknown merchant (vnp_TmnCode).")
    if not vnpay.signature_valid(params, settings.VNPAY_SANDBOX_HASH_SECRET):
        raise SandboxRefused("97", "Sai chữ ký (vnp_SecureHash).", "Invalid signature (vnp_SecureHash).")
    problems = []
    if params["vnp_Version"] != vnpay.VERSION or params["vnp_Command"] != "pay":
        problems.append("vnp_Version/vnp_Command")
    if params["vnp_CurrCode"] != "VND":
        problems.append("vnp_CurrCode")
    amount = params["vnp_Amount"]
    if not (amount.isascii() and amount.isdigit() and int(amount) > 0 and int(amount) % 100 == 0):
        problems.append("vnp_Amount")
    if urlsplit(params["vnp_ReturnUrl"]).scheme not in ("http", "https"):
        problems.append("vnp_ReturnUrl")
    for name in ("vnp_CreateDate", "vnp_ExpireDate"):
        if vnpay.parse_vietnam_time(params[name]) is None:
            problems.append(name)
    if problems:
        listed = ", ".join(problems)
        raise SandboxRefused("03", f"Tham số không hợp lệ: {listed}.", f"Invalid parameters: {listed}.")


def _ipn_url(return_url: str) -> str:
    if settings.VNPAY_SANDBOX_IPN_URL:
        return settings.VNPAY_SANDBOX_IPN_URL
    parts = urlsplit(return_url)
    return f"{parts.scheme}://{parts.netloc}{reverse('api-payment-vnpay-ipn')}"


def sandbox_transaction_open(params: Mapping[str, str]) -> SandboxTransaction:
    """The transaction a signed payment URL asks for (the same one again when
    the buyer reloads the page). SandboxRefused for a URL the gateway does
    not accept, or a merchant reference that was already paid or abandoned."""
    params = {k: str(v) for k, v in params.items()}
    _check(params)
    existing = SandboxTransaction.objects.filter(tmn_code=params["vnp_TmnCode"], txn_ref=params["vnp_TxnRef"]).first()
    if existing is not None:
        if existing.status != SandboxTransaction.Status.PENDING:
            raise SandboxRefused(
                "94", "Mã giao dịch (vnp_TxnRef) đã được xử lý.", "This vnp_TxnRef was already processed."
            )
        return existing
    try:
        with transaction.atomic():
            return SandboxTransaction.objects.create(
                tmn_code=params["vnp_TmnCode"],
                txn_ref=params["vnp_TxnRef"],
                transaction_no=f"{secrets.randbelow(10**8):08d}",
                amount_vnd=int(params["vnp_Amount"]) // 100,
                order_info=params["vnp_OrderInfo"][:255],
                return_url=params["vnp_ReturnUrl"],
                ipn_url=_ipn_url(params["vnp_ReturnUrl"]),
                locale="en" if params.get("vnp_Locale") == "en" else "vn",
                created_at=timezone.now(),
                expires_at=vnpay.parse_vietnam_time(params["vnp_ExpireDate"]),
            )
    except IntegrityError:
        # The same URL opened twice at once: the other request made it.
        return SandboxTransaction.objects.get(tmn_code=params["vnp_TmnCode"], txn_ref=params["vnp_TxnRef"])


def _result_params(txn: SandboxTransaction, *, response_code: str, transaction_status: str) -> dict[str, str]:
    """The vnp_* fields of a return or IPN (VNPay sends the same set to both)."""
    return {
        "vnp_Amount": str(txn.amount_vnd * 100),
        "vnp_BankCode": txn.bank_code,
        "vnp_BankTranNo": f"VNP{txn.transaction_no}" if response_code == "00" else "",
        "vnp_CardType": CARD_TYPE,
        "vnp_OrderInfo": txn.order_info,
        "vnp_PayDate": vnpay.vietnam_time(txn.pay_date or timezone.now()),
        "vnp_ResponseCode": response_code,
        "vnp_TmnCode": txn.tmn_code,
        "vnp_TransactionNo": txn.transaction_no if response_code == "00" else "0",
        "vnp_TransactionStatus": transaction_status,
        "vnp_TxnRef": txn.txn_ref,
    }


def signed_result_query(txn: SandboxTransaction) -> str:
    response_code, transaction_status, _ = CHOICES[_choice_of(txn)]
    params = _result_params(txn, response_code=response_code, transaction_status=transaction_status)
    return vnpay.signed_query(params, settings.VNPAY_SANDBOX_HASH_SECRET)


def _choice_of(txn: SandboxTransaction) -> str:
    return next(name for name, (code, _s, _f) in CHOICES.items() if code == txn.response_code)


@dataclass(frozen=True)
class Finished:
    transaction: SandboxTransaction
    return_url: str


def sandbox_transaction_finish(*, transaction_id: int, choice: str, at: dt.datetime | None = None) -> Finished:
    """The buyer's choice on the payment page: the transaction ends, its IPNs
    are queued (published on commit; a delayed copy waits for the sweep),
    and the browser goes back to the merchant with the signed result. A
    payment after vnp_ExpireDate ends as expired (11) whatever was chosen."""
    if choice not in CHOICES or choice == "expired":
        raise ValueError(f"unknown choice {choice!r}")
    at = at or timezone.now()
    with transaction.atomic():
        txn = SandboxTransaction.objects.select_for_update().get(pk=transaction_id)
        if txn.status == SandboxTransaction.Status.PENDING:
            if at > txn.expires_at:
                choice = "expired"
            response_code, _status, final = CHOICES[choice]
            txn.status, txn.response_code, txn.pay_date = final, response_code, at
            txn.bank_code = BANK_CODE if choice == "success" else ""
            txn.save(update_fields=["status", "response_code", "pay_date", "bank_code"])
            _deliveries_queue(txn, at)
    if settings.VNPAY_SANDBOX_EAGER:
        first = SandboxIpn.objects.filter(transaction=txn, copy=1).first()
        if first is not None:
            sandbox_ipn_deliver(delivery_id=first.pk)
    return Finished(transaction=txn, return_url=f"{txn.return_url}?{signed_result_query(txn)}")


def _deliveries_queue(txn: SandboxTransaction, at: dt.datetime) -> None:
    copies = max(settings.VNPAY_SANDBOX_IPN_COPIES, 1)
    for copy in range(1, copies + 1):
        delay = settings.VNPAY_SANDBOX_IPN_DELAY_S + (copy - 1) * settings.VNPAY_SANDBOX_IPN_REPEAT_S
        delivery = SandboxIpn.objects.create(transaction=txn, copy=copy, queued_at=at + dt.timedelta(seconds=delay))
        if delay <= 0 and not settings.VNPAY_SANDBOX_EAGER:
            outbox_publish_on_commit(delivery)


def sandbox_ipn_deliver(*, delivery_id: int) -> SandboxIpn | None:
    """Sends one IPN (a GET of the merchant's IPN URL with the signed
    result) and reads the answer: 00 or 02 ends it; anything else, or no
    answer, tries again later, PAYMENT_CALL_MAX_ATTEMPTS times at most."""
    delivery = outbox_claim_when_due(SandboxIpn, delivery_id)
    if delivery is None:
        return None
    txn = delivery.transaction
    url = f"{txn.ipn_url}?{signed_result_query(txn)}"
    try:
        with urllib.request.urlopen(url, timeout=settings.PAYMENT_CALL_TIMEOUT_S) as response:  # noqa: S310
            answer = json.loads(response.read(4096).decode("utf-8"))
        code = str(answer.get("RspCode", "")) if isinstance(answer, dict) else ""
        said = json.dumps(answer, ensure_ascii=False)[:300]
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as failure:
        code, said = "", f"no answer: {failure}"[:300]
    with transaction.atomic():
        if not outbox_owns(delivery):
            return delivery
        delivery.last_answer = said
        if code in vnpay.IPN_FINAL_CODES:
            delivery.status = SandboxIpn.Status.DELIVERED
            delivery.finished_at = timezone.now()
            delivery.save(update_fields=["status", "finished_at", "last_answer"])
        elif delivery.attempts < settings.PAYMENT_CALL_MAX_ATTEMPTS:
            outbox_retry_later(delivery, delay_s=outbox_backoff_s(delivery.attempts), fields=("last_answer",))
        else:
            delivery.status = SandboxIpn.Status.FAILED
            delivery.finished_at = timezone.now()
            delivery.message = message(
                f"Máy chủ bên bán không xác nhận IPN sau {delivery.attempts} lần.",
                f"The merchant did not confirm the IPN after {delivery.attempts} tries.",
            )
            delivery.save(update_fields=["status", "finished_at", "last_answer", "message"])
    return delivery


# --- the merchant web API (refunds) ------------------------------------------------------------


def _api_answer(body: Mapping[str, str], code: str, text: str, txn: SandboxTransaction | None = None) -> dict:
    answer = {
        "vnp_ResponseId": secrets.token_hex(16),
        "vnp_Command": str(body.get("vnp_Command", "")),
        "vnp_ResponseCode": code,
        "vnp_Message": text,
        "vnp_TmnCode": settings.VNPAY_SANDBOX_TMN_CODE,
        "vnp_TxnRef": str(body.get("vnp_TxnRef", "")),
        "vnp_Amount": str(body.get("vnp_Amount", "")),
        "vnp_BankCode": txn.bank_code if txn else "",
        "vnp_PayDate": vnpay.vietnam_time(txn.pay_date) if txn and txn.pay_date else "",
        "vnp_TransactionNo": txn.transaction_no if txn else "",
        "vnp_TransactionType": str(body.get("vnp_TransactionType", "")),
        "vnp_TransactionStatus": "05" if code == "00" else "",
        "vnp_OrderInfo": str(body.get("vnp_OrderInfo", "")),
    }
    answer["vnp_SecureHash"] = vnpay.pipe_signature(
        answer, vnpay.REFUND_RESPONSE_SIGNED_FIELDS, settings.VNPAY_SANDBOX_HASH_SECRET
    )
    return answer


def sandbox_api(body: Mapping) -> dict:
    """One call of the merchant web API; only `refund` is implemented."""
    body = {str(k): str(v) for k, v in body.items()} if isinstance(body, Mapping) else {}
    if body.get("vnp_Command") != "refund":
        return _api_answer(body, "03", "Only vnp_Command=refund is implemented by the sandbox")
    if body.get("vnp_TmnCode") != settings.VNPAY_SANDBOX_TMN_CODE:
        return _api_answer(body, "02", "Merchant is not valid")
    expected = vnpay.pipe_signature(body, vnpay.REFUND_SIGNED_FIELDS, settings.VNPAY_SANDBOX_HASH_SECRET)
    if body.get("vnp_SecureHash", "").lower() != expected:
        return _api_answer(body, "97", "Invalid Checksum")
    amount = body.get("vnp_Amount", "")
    if not (amount.isascii() and amount.isdigit() and int(amount) > 0 and int(amount) % 100 == 0):
        return _api_answer(body, "03", "Invalid data format")
    with transaction.atomic():
        txn = (
            SandboxTransaction.objects.select_for_update()
            .filter(tmn_code=body["vnp_TmnCode"], txn_ref=body.get("vnp_TxnRef", ""))
            .first()
        )
        if txn is None or txn.transaction_no != body.get("vnp_TransactionNo"):
            return _api_answer(body, "91", "Transaction not found")
        if txn.status == SandboxTransaction.Status.REFUNDED:
            return _api_answer(body, "94", "Transaction has been refunded", txn)
        if txn.status != SandboxTransaction.Status.SUCCEEDED:
            return _api_answer(body, "95", "Transaction was not successful", txn)
        refund = int(amount) // 100
        if refund > txn.amount_vnd - txn.refunded_vnd:
            return _api_answer(body, "03", "Refund amount exceeds the amount paid", txn)
        txn.refunded_vnd += refund
        if txn.refunded_vnd == txn.amount_vnd:
            txn.status = SandboxTransaction.Status.REFUNDED
        txn.save(update_fields=["refunded_vnd", "status"])
    return _api_answer(body, "00", "Refund success", txn)
