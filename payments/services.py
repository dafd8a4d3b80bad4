"""Every write of payments: requests made when a dossier is received,
online payments through the VNPay protocol (start, IPN, return), desk and
bank-transfer payments, expiry, refunds.

Each service runs in one transaction, locks the rows it changes (the online
order, then the request; the dossier is locked by `dossier_record_event`),
moves the request along `states.MOVES` and writes its step on the dossier
with `dossiers.services.dossier_record_event`: the citizen or official who
acted, or "VNPay" for the gateway."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from dossiers.calendar import working_calendar
from dossiers.events import DossierChanged
from dossiers.models import Dossier, DossierEvent, Status
from dossiers.provinces import dossier_scope
from dossiers.selectors import dossier_get_for_user, dossier_may_act, dossiers_visible_to
from dossiers.services import dossier_record_event
from gisportal.accounts.models import Role
from gisportal.accounts.selectors import actor_for
from gisportal.api import message
from gisportal.outbox import (
    outbox_backoff_s,
    outbox_claim_when_due,
    outbox_heartbeat,
    outbox_owns,
    outbox_publish_on_commit,
    outbox_retry_later,
)

from . import counts, vnpay
from .errors import PaymentConflict, PaymentForbidden, PaymentInputError
from .models import (
    COUNTER_METHODS,
    OPEN_STATUSES,
    BankStatementLine,
    FeeLine,
    GatewayTransaction,
    Method,
    OnlineOrder,
    Payment,
    PaymentRequest,
    Refund,
    RequestStatus,
)
from .references import reference_in_memo, reference_next, reference_valid
from .selectors import online_payment_available
from .states import MOVES, REFUND_DONE_ACTION, REFUND_FAILED_ACTION, REQUESTED_ACTION
from .words import vnd

logger = logging.getLogger(__name__)

GATEWAY_NAME = "VNPay"
SYSTEM_NAME = "Hệ thống / System"


def _money(amount: int) -> tuple[str, str]:
    return f"{vnd(amount)} đồng", f"{amount:,} VND"


def _method_label(method: str) -> tuple[str, str]:
    vi, _, en = Method(method).label.partition(" / ")
    return vi, en


def _user(user_id: int | None):
    return get_user_model().objects.filter(pk=user_id).first() if user_id else None


def _move(
    request: PaymentRequest,
    name: str,
    *,
    at: dt.datetime,
    note: str,
    acting_user=None,
    actor_name: str | None = None,
) -> None:
    """Applies one move of `states.MOVES` to a locked request and records its
    event on the dossier."""
    move = MOVES[name]
    if request.status not in move.sources:
        raise PaymentConflict(
            f"Yêu cầu thanh toán đang ở trạng thái '{request.status}', không thể '{name}'.",
            f"The payment request is '{request.status}'; '{name}' is not possible.",
            status=request.status,
        )
    request.status = move.target
    changed = ["status"]
    if move.target != RequestStatus.FAILED:
        request.closed_at = at
        changed.append("closed_at")
    request.save(update_fields=changed)
    dossier_record_event(
        dossier_id=request.dossier_id,
        action=move.action,
        note=note,
        acting_user=acting_user,
        actor_name=actor_name,
        at=at,
    )


def _locked_request(**lookup) -> PaymentRequest | None:
    return PaymentRequest.objects.select_for_update().filter(**lookup).first()


# --- requests ---------------------------------------------------------------------------


def fee_lines_for(dossier: Dossier) -> list[tuple[str, int]]:
    """(label, amount) of each fee of a dossier: today the catalogue has one
    fee per procedure, kept on the dossier when it was received."""
    if dossier.fee_vnd <= 0:
        return []
    procedure = dossier.procedure
    label = f"Phí, lệ phí: {procedure.name}"
    if procedure.fee_note:
        label += f" ({procedure.fee_note})"
    return [(label[:300], dossier.fee_vnd)]


def payment_request_create(
    *, dossier_id: int, lines: list[tuple[str, int]], acting_user=None, at: dt.datetime | None = None
) -> PaymentRequest:
    """A new pending request for the dossier, due at closing time of the
    PAYMENT_DUE_WORKING_DAYS-th working day. PaymentConflict when the dossier
    already has an open one (the partial unique index says the same)."""
    at = at or timezone.now()
    if not lines or any(amount <= 0 for _label, amount in lines):
        raise PaymentInputError.one("lines", "Cần ít nhất một khoản phí dương.", "At least one positive fee.")
    with transaction.atomic():
        dossier = Dossier.objects.select_for_update(of=("self",)).get(**dossier_scope(dossier_id))
        if PaymentRequest.objects.filter(dossier=dossier, status__in=OPEN_STATUSES).exists():
            raise PaymentConflict("Hồ sơ đã có yêu cầu thanh toán.", "The dossier already has an open payment request.")
        total = sum(amount for _label, amount in lines)
        request = PaymentRequest.objects.create(
            dossier=dossier,
            reference=reference_next(),
            amount_vnd=total,
            payer_name=dossier.applicant_name,
            payer_id=dossier.applicant_id,
            created_at=at,
            due_at=working_calendar().due_at(at, settings.PAYMENT_DUE_WORKING_DAYS),
        )
        FeeLine.objects.bulk_create(
            FeeLine(request=request, position=i, label=label, amount_vnd=amount)
            for i, (label, amount) in enumerate(lines, start=1)
        )
        vi_amount, en_amount = _money(total)
        due = timezone.localtime(request.due_at)
        dossier_record_event(
            dossier_id=dossier.pk,
            action=REQUESTED_ACTION,
            note=message(
                f"Yêu cầu nộp phí {vi_amount}, mã thanh toán {request.reference}, hạn {due:%H:%M %d/%m/%Y}.",
                f"Fee of {en_amount} requested, payment reference {request.reference}, due {due:%Y-%m-%d %H:%M}.",
            ),
            acting_user=acting_user,
            at=at,
        )
    return request


# --- reacting to dossier changes (payments.apps subscribes this) -----------------------------

# Dossier moves after which a paid fee is given back, if the dossier never
# reached processing (the agency did no work for it).
REFUND_ON = frozenset({"refuse", "withdraw"})
# Dossier moves that close it: an open request can no longer be paid.
CLOSING = frozenset({"refuse", "withdraw", "stop"})


def on_dossier_changed(change: DossierChanged) -> None:
    """Inside the dossier's transaction (dossiers.events): a received
    dossier with a fee gets its request; a refused or withdrawn one gets its
    fee back (if not yet processed) or its open request closed."""
    if change.action.startswith("payment_"):
        return
    if change.action == "receive":
        dossier = Dossier.objects.select_related("procedure").get(pk=change.dossier_id)
        lines = fee_lines_for(dossier)
        if lines:
            payment_request_create(dossier_id=dossier.pk, lines=lines, acting_user=_user(change.actor_id), at=change.at)
    elif change.action in CLOSING:
        _dossier_closed(change)


def _processed(dossier_id: int) -> bool:
    return DossierEvent.objects.filter(dossier_id=dossier_id, to_status=Status.PROCESSING).exists()


def _dossier_closed(change: DossierChanged) -> None:
    acting_user = _user(change.actor_id)
    for request in PaymentRequest.objects.select_for_update().filter(dossier_id=change.dossier_id).order_by("pk"):
        if request.is_open:
            _move(
                request,
                "expire",
                at=change.at,
                acting_user=acting_user,
                note=message(
                    f"Yêu cầu thanh toán {request.reference} đóng lại vì hồ sơ đã kết thúc ({change.action}).",
                    f"Payment request {request.reference} closed: the dossier ended ({change.action}).",
                ),
            )
        elif request.status == RequestStatus.PAID and change.action in REFUND_ON and not _processed(change.dossier_id):
            refund_order(request=request, reason=change.action, acting_user=acting_user, at=change.at)


# --- settlement ---------------------------------------------------------------------------


def _receipt_number(at: dt.datetime) -> str:
    """`YYYY-NNNNNNN`, consecutive per year (one UPSERT on the year's row)."""
    year = timezone.localtime(at).year
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO payments_receiptcounter (year, last) VALUES (%s, 1) "
            "ON CONFLICT (year) DO UPDATE SET last = payments_receiptcounter.last + 1 RETURNING last",
            [year],
        )
        (number,) = cursor.fetchone()
    return f"{year}-{number:07d}"


@dataclass
class Settlement:
    method: str
    amount_vnd: int
    at: dt.datetime
    external_reference: str = ""
    order: OnlineOrder | None = None
    gateway_transaction: GatewayTransaction | None = None
    bank_line: BankStatementLine | None = None
    acting_user: object = None
    actor_name: str | None = None
    service_point_id: int | None = None


def _settle(request: PaymentRequest, settlement: Settlement, *, move: str = "pay") -> Payment:
    """Writes the payment and its receipt number, moves the locked request
    to paid, counts it, and records the step on the dossier."""
    issuer = settlement.actor_name or _issuer_name(settlement.acting_user)
    payment = Payment.objects.create(
        request=request,
        method=settlement.method,
        amount_vnd=settlement.amount_vnd,
        paid_at=settlement.at,
        external_reference=settlement.external_reference[:60],
        order=settlement.order,
        gateway_transaction=settlement.gateway_transaction,
        bank_line=settlement.bank_line,
        recorded_by=settlement.acting_user,
        recorded_by_name=issuer,
        service_point_id=settlement.service_point_id,
        receipt_number=_receipt_number(settlement.at),
    )
    vi_amount, en_amount = _money(payment.amount_vnd)
    vi_method, en_method = _method_label(payment.method)
    _move(
        request,
        move,
        at=settlement.at,
        acting_user=settlement.acting_user,
        actor_name=settlement.actor_name,
        note=message(
            f"Đã nộp {vi_amount} ({vi_method}); biên lai số {payment.receipt_number}.",
            f"{en_amount} paid ({en_method}); receipt {payment.receipt_number}.",
        ),
    )
    counts.count_paid(payment, Dossier.objects.get(pk=request.dossier_id))
    return payment


def _issuer_name(user) -> str:
    if user is None:
        return SYSTEM_NAME
    profile = getattr(user, "profile", None)
    return (profile.full_name if profile and profile.full_name else "") or user.get_full_name() or user.username


# --- at the desk --------------------------------------------------------------------------


def payment_record_counter(
    *, dossier_id: int, method: str, amount_vnd: int, acting_user, reference: str = "", at=None
) -> Payment:
    """A desk officer (a post-office clerk is one, at a post office) records a
    cash or POS payment of the dossier's open request and issues its receipt.

    Dossier.DoesNotExist when the officer may not see the dossier (404);
    PaymentForbidden unless they are a desk officer who may act on it (the
    desk that received it) (403); PaymentInputError naming `method` (not
    "cash" or "pos"), `amount_vnd` (not the amount owed) or `reference`
    (400); PaymentConflict when the dossier has no open request (409).
    Nothing is written unless the payment is."""
    at = at or timezone.now()
    actor = actor_for(acting_user)
    dossier = dossiers_visible_to(actor).get(pk=dossier_id)
    if actor.role != Role.DESK_OFFICER or not dossier_may_act(actor, dossier):
        raise PaymentForbidden(
            "Chỉ cán bộ một cửa (kể cả nhân viên bưu điện) nơi tiếp nhận hồ sơ được thu phí.",
            "Only a desk officer (a post-office clerk included) of the desk that received the dossier collects fees.",
        )
    errors: dict[str, list[str]] = {}
    if method not in COUNTER_METHODS:
        errors["method"] = [message("Chọn cash hoặc pos.", "Use cash or pos.")]
    if isinstance(amount_vnd, bool) or not isinstance(amount_vnd, int) or amount_vnd <= 0:
        errors["amount_vnd"] = [message("Số tiền phải là số nguyên dương (đồng).", "A positive whole number of VND.")]
    if not isinstance(reference, str) or len(reference) > 60:
        errors["reference"] = [message("Tối đa 60 ký tự.", "At most 60 characters.")]
    if errors:
        raise PaymentInputError(errors)
    with transaction.atomic():
        request = _locked_request(dossier_id=dossier.pk, status__in=OPEN_STATUSES)
        if request is None:
            raise PaymentConflict(
                "Hồ sơ không có khoản phí nào đang chờ thanh toán.", "The dossier has no fee waiting to be paid."
            )
        if amount_vnd != request.amount_vnd:
            raise PaymentInputError.one(
                "amount_vnd",
                f"Số tiền phải nộp là {vnd(request.amount_vnd)} đồng.",
                f"The amount owed is {request.amount_vnd:,} VND.",
            )
        return _settle(
            request,
            Settlement(
                method=method,
                amount_vnd=amount_vnd,
                at=at,
                external_reference=reference.strip(),
                acting_user=acting_user,
                service_point_id=actor.service_point_id,
            ),
        )


# --- online through the VNPay protocol ---------------------------------------------------------


@dataclass(frozen=True)
class OnlineStart:
    order: OnlineOrder
    payment_url: str


def online_payment_start(
    *,
    code: str,
    acting_user,
    ip_address: str,
    gateway_url: str,
    return_url: str,
    locale: str = "vn",
    at: dt.datetime | None = None,
) -> OnlineStart:
    """A new online order for the open request of dossier `code`, and the
    signed URL to send the applicant's browser to. Dossier.DoesNotExist when
    the caller may not see it; PaymentForbidden unless the caller is its
    applicant; PaymentConflict when nothing is open (or it is past due)."""
    at = at or timezone.now()
    dossier = dossier_get_for_user(user=acting_user, code=code)
    actor = actor_for(acting_user)
    if actor.role != Role.CITIZEN or dossier.applicant_id != actor.user_id:
        raise PaymentForbidden(
            "Chỉ người nộp hồ sơ thanh toán trực tuyến.", "Only the applicant pays online for a dossier."
        )
    if not online_payment_available():
        raise PaymentConflict("Chưa cấu hình cổng thanh toán trực tuyến.", "No online payment gateway is configured.")
    with transaction.atomic():
        request = _locked_request(dossier_id=dossier.pk, status__in=OPEN_STATUSES)
        if request is None or request.due_at <= at:
            raise PaymentConflict(
                "Hồ sơ không có khoản phí nào đang chờ thanh toán (hoặc đã quá hạn nộp).",
                "The dossier has no fee waiting to be paid (or it is past its due time).",
            )
        attempt = OnlineOrder.objects.filter(request=request).count() + 1
        order = OnlineOrder.objects.create(
            request=request,
            txn_ref=f"{request.reference}T{attempt:02d}",
            amount_vnd=request.amount_vnd,
            created_at=at,
            expires_at=min(at + dt.timedelta(minutes=settings.VNPAY_PAYMENT_TIMEOUT_MIN), request.due_at),
            created_by=acting_user,
            ip_address=ip_address[:45],
        )
    url = vnpay.payment_url(
        vnpay.PaymentOrder(
            txn_ref=order.txn_ref,
            amount_vnd=order.amount_vnd,
            order_info=f"Nop phi ho so {dossier.code} ma {request.reference}",
            created_at=order.created_at,
            expires_at=order.expires_at,
            ip_address=order.ip_address,
            return_url=return_url,
            locale=locale,
        ),
        gateway_url=gateway_url,
        tmn_code=settings.VNPAY_TMN_CODE,
        secret=settings.VNPAY_HASH_SECRET,
    )
    return OnlineStart(order=order, payment_url=url)


def _transaction_row(kind: str, params: dict, *, valid: bool, client_ip: str, order=None) -> GatewayTransaction:
    result = vnpay.read_result(params)
    return GatewayTransaction.objects.create(
        kind=kind,
        received_at=timezone.now(),
        params=params,
        signature_valid=valid,
        txn_ref=result.txn_ref[:100],
        order=order,
        amount_vnd=result.amount_vnd,
        response_code=result.response_code[:4],
        transaction_status=result.transaction_status[:4],
        transaction_no=result.transaction_no[:30],
        bank_code=result.bank_code[:20],
        pay_date=result.pay_date,
        client_ip=client_ip[:45],
    )


def _signed_for_us(params: dict) -> bool:
    return (
        vnpay.signature_valid(params, settings.VNPAY_HASH_SECRET)
        and params.get("vnp_TmnCode") == settings.VNPAY_TMN_CODE
    )


def vnpay_ipn_handle(*, params: dict[str, str], client_ip: str = "") -> dict[str, str]:
    """Settles (or records the failure of) an online order from the gateway's
    signed IPN and returns the protocol's answer. Every IPN is kept as a
    GatewayTransaction with the answer given. Answers: 97 bad signature, 01
    unknown order, 04 wrong amount, 02 already confirmed (a repeat, or an
    order that can no longer be settled), 00 recorded, 99 anything else."""
    params = {str(k): str(v) for k, v in params.items()}
    valid = _signed_for_us(params)
    try:
        with transaction.atomic():
            row = _transaction_row(GatewayTransaction.Kind.IPN, params, valid=valid, client_ip=client_ip)
            answer = _ipn_decide(row, vnpay.read_result(params)) if valid else vnpay.IPN_INVALID_CHECKSUM
            row.answer_code = answer[0]
            row.save(update_fields=["answer_code", "order"])
    except DatabaseError:
        logger.exception("IPN for %s could not be recorded", params.get("vnp_TxnRef"))
        answer = vnpay.IPN_UNKNOWN_ERROR
        # The raw message is kept even when its settlement rolled back.
        with transaction.atomic():
            row = _transaction_row(GatewayTransaction.Kind.IPN, params, valid=valid, client_ip=client_ip)
            row.answer_code = answer[0]
            row.save(update_fields=["answer_code"])
    return vnpay.ipn_answer(answer)


def _ipn_decide(row: GatewayTransaction, result: vnpay.GatewayResult) -> tuple[str, str]:
    # The order row is the lock every copy of this IPN queues on: the first
    # settles, the others then find it no longer open (02).
    order = OnlineOrder.objects.select_for_update().filter(txn_ref=result.txn_ref).first()
    if order is None:
        return vnpay.IPN_ORDER_NOT_FOUND
    row.order = order
    if result.amount_vnd != order.amount_vnd:
        return vnpay.IPN_INVALID_AMOUNT
    if order.status != OnlineOrder.Status.OPEN:
        return vnpay.IPN_ALREADY_CONFIRMED
    request = _locked_request(pk=order.request_id)
    at = timezone.now()
    order.response_code = result.response_code[:4]
    order.transaction_no = result.transaction_no[:30]
    order.settled_at = at
    fields = ["status", "response_code", "transaction_no", "settled_at"]
    if not result.succeeded:
        order.status = OnlineOrder.Status.FAILED
        order.save(update_fields=fields)
        if request.is_open:
            vi_text, en_text = vnpay.response_text(result.response_code)
            _move(
                request,
                "fail",
                at=at,
                actor_name=GATEWAY_NAME,
                note=message(
                    f"Thanh toán trực tuyến không thành công (mã {result.response_code}: {vi_text}).",
                    f"Online payment failed (code {result.response_code}: {en_text}).",
                ),
            )
        return vnpay.IPN_SUCCESS
    in_time = result.pay_date is not None and result.pay_date <= order.expires_at
    if request.is_open or (request.status == RequestStatus.EXPIRED and in_time):
        order.status = OnlineOrder.Status.PAID
        order.save(update_fields=fields)
        _settle(
            request,
            Settlement(
                method=Method.VNPAY,
                amount_vnd=order.amount_vnd,
                # When the gateway took the money (to the second), never
                # before the request nor after now.
                at=min(max(result.pay_date or at, request.created_at), at),
                external_reference=result.transaction_no,
                order=order,
                gateway_transaction=row,
                actor_name=GATEWAY_NAME,
            ),
            move="pay" if request.is_open else "pay_late",
        )
        return vnpay.IPN_SUCCESS
    # Paid at the gateway but the request cannot take it (paid otherwise,
    # refunded, or paid after it expired): not settled; the reconciliation
    # lists it for an officer to refund.
    order.status = OnlineOrder.Status.SUPERSEDED if request.status != RequestStatus.EXPIRED else OnlineOrder.Status.LATE
    order.save(update_fields=fields)
    return vnpay.IPN_ALREADY_CONFIRMED


@dataclass(frozen=True)
class ReturnResult:
    """What the browser's return page shows. The return never settles."""

    signature_valid: bool
    succeeded: bool
    response_code: str
    dossier_code: str | None
    request_status: str | None
    amount_vnd: int | None
    reference: str | None


def vnpay_return_record(*, params: dict[str, str], client_ip: str = "") -> ReturnResult:
    params = {str(k): str(v) for k, v in params.items()}
    valid = _signed_for_us(params)
    result = vnpay.read_result(params)
    order = (
        OnlineOrder.objects.select_related("request__dossier").filter(txn_ref=result.txn_ref).first() if valid else None
    )
    with transaction.atomic():
        _transaction_row(GatewayTransaction.Kind.RETURN, params, valid=valid, client_ip=client_ip, order=order)
    request = order.request if order else None
    return ReturnResult(
        signature_valid=valid,
        succeeded=valid and result.succeeded,
        response_code=result.response_code,
        dossier_code=request.dossier.code if request else None,
        request_status=request.status if request else None,
        amount_vnd=result.amount_vnd,
        reference=request.reference if request else None,
    )


# --- bank transfers (VietQR) --------------------------------------------------------------

_BANK_ROLES = frozenset({Role.DESK_OFFICER, Role.ADMINISTRATOR})


@dataclass(frozen=True)
class BankLineInput:
    bank_reference: str
    value_date: dt.date
    amount_vnd: int
    memo: str = ""
    reference: str = ""


def bank_line_check(line: BankLineInput) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not line.bank_reference.strip() or len(line.bank_reference) > 60:
        errors["bank_reference"] = [
            message(
                "Cần mã giao dịch ngân hàng (tối đa 60 ký tự).",
                "The bank's transaction number (at most 60 characters) is required.",
            )
        ]
    if isinstance(line.amount_vnd, bool) or not isinstance(line.amount_vnd, int) or line.amount_vnd <= 0:
        errors["amount_vnd"] = [message("Số tiền phải là số nguyên dương (đồng).", "A positive whole number of VND.")]
    if len(line.memo) > 300:
        errors["memo"] = [message("Tối đa 300 ký tự.", "At most 300 characters.")]
    if line.reference and not reference_valid(line.reference.strip().upper()):
        errors["reference"] = [
            message("Mã thanh toán không hợp lệ (LP + 12 chữ số).", "Not a payment reference (LP + 12 digits).")
        ]
    return errors


def _bank_officer(acting_user):
    actor = actor_for(acting_user)
    if actor.role not in _BANK_ROLES and not actor.is_superuser:
        raise PaymentForbidden(
            "Chỉ cán bộ một cửa hoặc quản trị ghi nhận sao kê ngân hàng.",
            "Only desk officers and administrators record bank statement lines.",
        )
    return actor


def bank_lines_record(
    *, lines: Iterable[BankLineInput], acting_user, at: dt.datetime | None = None
) -> list[BankStatementLine]:
    """Records statement lines (all or none) and matches each to a request by
    its reference (given, or found in the memo): the right amount on an open
    request (or one expired after the transfer's date) settles it by bank
    transfer; anything else is kept and listed as a mismatch. A bank
    transaction number recorded before is refused (PaymentInputError)."""
    actor = _bank_officer(acting_user)
    at = at or timezone.now()
    lines = list(lines)
    errors: dict[str, list[str]] = {}
    for index, line in enumerate(lines, start=1):
        for field, texts in bank_line_check(line).items():
            errors.setdefault(field if len(lines) == 1 else f"line {index}: {field}", []).extend(texts)
    known = set(
        BankStatementLine.objects.filter(bank_reference__in=[x.bank_reference.strip() for x in lines]).values_list(
            "bank_reference", flat=True
        )
    )
    seen: set[str] = set()
    for index, line in enumerate(lines, start=1):
        key = line.bank_reference.strip()
        if key in known or key in seen:
            name = "bank_reference" if len(lines) == 1 else f"line {index}: bank_reference"
            errors.setdefault(name, []).append(
                message("Giao dịch ngân hàng này đã được ghi nhận.", "This bank transaction was already recorded.")
            )
        seen.add(key)
    if errors:
        raise PaymentInputError(errors)
    with transaction.atomic():
        return [_bank_line_match(line, actor=actor, acting_user=acting_user, at=at) for line in lines]


def _bank_line_match(line: BankLineInput, *, actor, acting_user, at: dt.datetime) -> BankStatementLine:
    reference = line.reference.strip().upper() or reference_in_memo(line.memo)
    row = BankStatementLine(
        bank_reference=line.bank_reference.strip(),
        value_date=line.value_date,
        amount_vnd=line.amount_vnd,
        memo=line.memo.strip(),
        reference=reference,
        recorded_by=acting_user,
        recorded_at=at,
        service_point_id=actor.service_point_id,
        status=BankStatementLine.Status.UNMATCHED,
    )
    request = _locked_request(reference=reference) if reference else None
    row.request = request
    if request is None:
        row.save()
        return row
    in_time = line.value_date <= timezone.localtime(request.due_at).date()
    payable = request.is_open or (request.status == RequestStatus.EXPIRED and in_time)
    if not payable:
        row.status = BankStatementLine.Status.NOT_PAYABLE
    elif line.amount_vnd != request.amount_vnd:
        row.status = BankStatementLine.Status.MISMATCH
    else:
        row.status = BankStatementLine.Status.MATCHED
    row.save()
    if row.status == BankStatementLine.Status.MATCHED:
        paid_at = max(timezone.make_aware(dt.datetime.combine(line.value_date, dt.time(12))), request.created_at)
        _settle(
            request,
            Settlement(
                method=Method.BANK_TRANSFER,
                amount_vnd=line.amount_vnd,
                at=min(paid_at, at),
                external_reference=row.bank_reference,
                bank_line=row,
                acting_user=acting_user,
                service_point_id=actor.service_point_id,
            ),
            move="pay" if request.is_open else "pay_late",
        )
    return row


# --- expiry -------------------------------------------------------------------------------


def payment_requests_expire(*, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Open requests past their due time become expired (the beat task); how many."""
    now = now or timezone.now()
    done = 0
    with transaction.atomic():
        due = (
            PaymentRequest.objects.select_for_update(skip_locked=True)
            .filter(status__in=OPEN_STATUSES, due_at__lt=now)
            .order_by("due_at")[:limit]
        )
        for request in due:
            _move(
                request,
                "expire",
                at=now,
                actor_name=SYSTEM_NAME,
                note=message(
                    f"Quá hạn nộp phí (mã thanh toán {request.reference}).",
                    f"The fee was not paid in time (payment reference {request.reference}).",
                ),
            )
            done += 1
    return done


# --- refunds ---------------------------------------------------------------------------------

_REASONS = {
    "refuse": ("hồ sơ bị từ chối", "the dossier was refused"),
    "withdraw": ("hồ sơ được rút", "the dossier was withdrawn"),
}


def refund_order(*, request: PaymentRequest, reason: str, acting_user=None, at: dt.datetime) -> Refund:
    """The fee of a paid (locked) request goes back: the request becomes
    refunded with its event, and a Refund row says how: through the gateway
    (a job of the outbox, sent after commit and retried while the gateway is
    down) for online payments, in cash at the desk for the others."""
    payment = Payment.objects.get(request=request)
    vi_reason, en_reason = _REASONS.get(reason, (reason, reason))
    online = payment.method == Method.VNPAY and payment.order_id is not None
    refund = Refund.objects.create(
        payment=payment,
        amount_vnd=payment.amount_vnd,
        reason=message(vi_reason, en_reason)[:300],
        status=Refund.Status.QUEUED if online else Refund.Status.AT_DESK,
        created_at=at,
    )
    vi_amount, en_amount = _money(payment.amount_vnd)
    how = (
        ("hoàn qua cổng thanh toán VNPay", "through the VNPay gateway")
        if online
        else ("hoàn tiền mặt tại bộ phận một cửa", "paid back in cash at the desk")
    )
    _move(
        request,
        "refund",
        at=at,
        acting_user=acting_user,
        note=message(
            f"Hoàn {vi_amount} (biên lai {payment.receipt_number}) vì {vi_reason}: {how[0]}.",
            f"{en_amount} (receipt {payment.receipt_number}) refunded because {en_reason}: {how[1]}.",
        ),
    )
    if online:
        outbox_publish_on_commit(refund)
    return refund


def _gateway_api_url() -> str:
    from django.urls import reverse

    return settings.VNPAY_API_URL or settings.PUBLIC_BASE_URL.rstrip("/") + reverse("sandbox-vnpay-api")


def refund_run(*, refund_id: int) -> Refund | None:
    """A worker's run of one refund: claim it, call the gateway's refund
    API, record the answer. Gateway down or slow: back to the queue for a
    later try (outbox_backoff_s), up to PAYMENT_CALL_MAX_ATTEMPTS tries;
    then failed, with an event on the dossier. None when there is nothing to
    run (done, not yet due, or another worker has it)."""
    refund = outbox_claim_when_due(Refund, refund_id)
    if refund is None:
        return None
    with outbox_heartbeat(refund):
        payment = Payment.objects.select_related("order", "request").get(pk=refund.payment_id)
        order = vnpay.RefundOrder(
            txn_ref=payment.order.txn_ref,
            amount_vnd=refund.amount_vnd,
            transaction_no=payment.external_reference,
            transaction_date=payment.paid_at,
            created_by=SYSTEM_NAME,
            ip_address="127.0.0.1",
            reason=f"Hoan phi {payment.request.reference}",
        )
        failure = ""
        try:
            answer = vnpay.refund_call(
                order,
                api_url=_gateway_api_url(),
                tmn_code=settings.VNPAY_TMN_CODE,
                secret=settings.VNPAY_HASH_SECRET,
                timeout_s=settings.PAYMENT_CALL_TIMEOUT_S,
            )
        except vnpay.GatewayUnavailable as down:
            answer = None
            failure = str(down)
    with transaction.atomic():
        if not outbox_owns(refund):
            return refund
        if answer is None:
            return _refund_retry_or_fail(refund, payment, failure)
        GatewayTransaction.objects.create(
            kind=GatewayTransaction.Kind.REFUND,
            received_at=timezone.now(),
            params=answer.raw,
            signature_valid=answer.signature_valid,
            txn_ref=payment.order.txn_ref,
            order=payment.order,
            amount_vnd=refund.amount_vnd,
            response_code=answer.response_code[:4],
            transaction_no=answer.transaction_no[:30],
        )
        refund.response_code = answer.response_code[:4]
        refund.finished_at = timezone.now()
        vi_amount, en_amount = _money(refund.amount_vnd)
        if answer.succeeded:
            refund.status = Refund.Status.SUCCEEDED
            refund.message = ""
            action = REFUND_DONE_ACTION
            note = message(f"Cổng thanh toán đã hoàn {vi_amount}.", f"The gateway refunded {en_amount}.")
        else:
            refund.status = Refund.Status.FAILED
            refund.message = message(
                f"Cổng thanh toán từ chối hoàn tiền (mã {answer.response_code}): {answer.message}",
                f"The gateway refused the refund (code {answer.response_code}): {answer.message}",
            )
            action = REFUND_FAILED_ACTION
            note = refund.message
        refund.save(update_fields=["status", "message", "response_code", "finished_at"])
        dossier_record_event(dossier_id=payment.request.dossier_id, action=action, note=note, actor_name=GATEWAY_NAME)
    return refund


def _refund_retry_or_fail(refund: Refund, payment: Payment, failure: str) -> Refund:
    if refund.attempts < settings.PAYMENT_CALL_MAX_ATTEMPTS:
        refund.message = message(
            f"Cổng thanh toán không trả lời (lần {refund.attempts}); sẽ thử lại.",
            f"The gateway did not answer (try {refund.attempts}); it will be tried again.",
        )
        outbox_retry_later(refund, delay_s=outbox_backoff_s(refund.attempts), fields=("message",))
        logger.warning("refund %s: gateway unavailable (%s); retrying later", refund.pk, failure)
        return refund
    refund.status = Refund.Status.FAILED
    refund.finished_at = timezone.now()
    refund.message = message(
        f"Cổng thanh toán không trả lời sau {refund.attempts} lần; cần hoàn tiền thủ công.",
        f"The gateway did not answer after {refund.attempts} tries; refund by hand.",
    )
    refund.save(update_fields=["status", "finished_at", "message"])
    dossier_record_event(
        dossier_id=payment.request.dossier_id, action=REFUND_FAILED_ACTION, note=refund.message, actor_name=SYSTEM_NAME
    )
    return refund


def refund_retry(*, refund_id: int) -> Refund:
    """An administrator sends a failed gateway refund again (admin action)."""
    with transaction.atomic():
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        if refund.status != Refund.Status.FAILED or refund.payment.order_id is None:
            raise PaymentConflict("Chỉ gửi lại lệnh hoàn tiền đã thất bại.", "Only a failed refund can be sent again.")
        refund.status = Refund.Status.QUEUED
        refund.attempts = 0
        refund.finished_at = None
        outbox_retry_later(refund, delay_s=0, fields=("attempts", "finished_at"))
        outbox_publish_on_commit(refund)
    return refund
