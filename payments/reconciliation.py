"""The reconciliation report for officials: for a day (or a period), the
payment requests made, the payments settled, what the gateway reported and
what the bank statement says, and every difference between them.

Differences listed (each a row with the payment reference, dossier,
amounts, when, and the gateway or bank number):
- paid_not_settled: the gateway reported a successful payment (signed IPN
  or return) that settled nothing, on a request not paid otherwise (it had
  expired): the money was taken and must be given back or accepted by hand;
- duplicate: a successful gateway payment, or a bank transfer, for a
  request already paid another way: paid twice;
- settled_without_gateway: an online payment with no signed successful
  gateway message behind it, or a bank-transfer payment without its line;
- amount_mismatch: an IPN refused for its amount (04), a bank line whose
  amount differs from the request, a payment whose amount is not the
  request's;
- unmatched_bank_line: a credit on the statement with no request found;
- refund_failed: a refund the gateway refused or never answered.

Scope: what the official may see (`dossiers_visible_to`); bank lines of
their service point (`bank_lines_visible_to`); administrators see all. The
period is of local dates; each row counts on the day it happened (gateway
message received, payment made, request created, value date of the bank
line, refund ordered)."""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from dossiers.selectors import dossiers_visible_to
from gisportal.accounts.selectors import Actor
from gisportal.api import message

from .models import (
    BankStatementLine,
    GatewayTransaction,
    Method,
    Payment,
    PaymentRequest,
    Refund,
    RequestStatus,
)
from .selectors import bank_lines_visible_to

KINDS = {
    "paid_not_settled": message("Đã trừ tiền tại cổng nhưng chưa ghi nhận", "Paid at the gateway, not settled"),
    "duplicate": message("Thanh toán trùng", "Paid twice"),
    "settled_without_gateway": message(
        "Ghi nhận thanh toán không có chứng từ", "Settled without a gateway or bank record"
    ),
    "amount_mismatch": message("Sai số tiền", "Amount mismatch"),
    "unmatched_bank_line": message("Giao dịch ngân hàng không khớp yêu cầu nào", "Bank line matching no request"),
    "refund_failed": message("Hoàn tiền không thành công", "Refund failed"),
}
MAX_PERIOD_DAYS = 366


@dataclass(frozen=True)
class _Scope:
    requests: QuerySet
    payments: QuerySet
    transactions: QuerySet
    bank_lines: QuerySet
    refunds: QuerySet


def _scope(actor: Actor) -> _Scope:
    if actor.is_administrator:
        # Everything, without a semi-join over every request.
        return _Scope(
            requests=PaymentRequest.objects.all(),
            payments=Payment.objects.all(),
            transactions=GatewayTransaction.objects.all(),
            bank_lines=bank_lines_visible_to(actor),
            refunds=Refund.objects.all(),
        )
    requests = PaymentRequest.objects.filter(dossier__in=dossiers_visible_to(actor))
    return _Scope(
        requests=requests,
        payments=Payment.objects.filter(request__in=requests),
        transactions=GatewayTransaction.objects.filter(order__request__in=requests),
        bank_lines=bank_lines_visible_to(actor),
        refunds=Refund.objects.filter(payment__request__in=requests),
    )


def _bounds(date_from: dt.date, date_to: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = timezone.make_aware(dt.datetime.combine(date_from, dt.time.min))
    end = timezone.make_aware(dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time.min))
    return start, end


def _iso(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).isoformat()
    return value.isoformat()


def _row(kind: str, *, reference, dossier, amount, expected, at, source: str, detail: str) -> dict:
    return {
        "kind": kind,
        "kind_label": KINDS[kind],
        "reference": reference or None,
        "dossier": dossier or None,
        "amount_vnd": amount,
        "expected_vnd": expected,
        "at": _iso(at),
        "source": source,
        "detail": detail,
    }


def _successful(transactions: QuerySet) -> QuerySet:
    return transactions.filter(
        signature_valid=True,
        response_code="00",
        transaction_status="00",
        kind__in=[GatewayTransaction.Kind.IPN, GatewayTransaction.Kind.RETURN],
    )


def _gateway_differences(scope: _Scope, start, end) -> list[dict]:
    rows = []
    settled = Payment.objects.filter(order_id=OuterRef("order_id"), external_reference=OuterRef("transaction_no"))
    unsettled = (
        _successful(scope.transactions)
        .filter(received_at__gte=start, received_at__lt=end, order__isnull=False)
        .exclude(Exists(settled))
        .select_related("order__request__dossier")
        .order_by("txn_ref", "transaction_no", "received_at")
    )
    seen = set()
    for txn in unsettled:
        key = (txn.order_id, txn.transaction_no)
        if key in seen:  # the IPN, its duplicates and the browser's return say the same
            continue
        seen.add(key)
        request = txn.order.request
        paid_otherwise = request.status in (RequestStatus.PAID, RequestStatus.REFUNDED)
        rows.append(
            _row(
                "duplicate" if paid_otherwise else "paid_not_settled",
                reference=request.reference,
                dossier=request.dossier.code,
                amount=txn.amount_vnd,
                expected=request.amount_vnd,
                at=txn.received_at,
                source=f"VNPay {txn.transaction_no} ({txn.txn_ref})",
                detail=message(f"Yêu cầu đang ở trạng thái {request.status}.", f"The request is {request.status}."),
            )
        )
    mismatched = (
        scope.transactions.filter(
            kind=GatewayTransaction.Kind.IPN, answer_code="04", received_at__gte=start, received_at__lt=end
        )
        .select_related("order__request__dossier")
        .order_by("received_at")
    )
    for txn in mismatched:
        request = txn.order.request if txn.order else None
        rows.append(
            _row(
                "amount_mismatch",
                reference=request.reference if request else txn.txn_ref,
                dossier=request.dossier.code if request else None,
                amount=txn.amount_vnd,
                expected=txn.order.amount_vnd if txn.order else None,
                at=txn.received_at,
                source=f"VNPay {txn.transaction_no} ({txn.txn_ref})",
                detail=message("IPN bị từ chối vì sai số tiền (04).", "IPN refused for its amount (04)."),
            )
        )
    return rows


def _payment_differences(scope: _Scope, start, end) -> list[dict]:
    rows = []
    backed = _successful(GatewayTransaction.objects.all()).filter(
        order_id=OuterRef("order_id"), transaction_no=OuterRef("external_reference")
    )
    payments = scope.payments.filter(paid_at__gte=start, paid_at__lt=end).select_related("request__dossier")
    suspicious = payments.filter(
        (Q(method=Method.VNPAY) & ~Exists(backed))
        | Q(method=Method.BANK_TRANSFER, bank_line__isnull=True)
        | ~Q(amount_vnd=F("request__amount_vnd"))
    ).order_by("paid_at")
    for payment in suspicious:
        request = payment.request
        if payment.amount_vnd != request.amount_vnd:
            kind, detail = "amount_mismatch", message("Số tiền khác yêu cầu.", "Not the amount requested.")
        else:
            kind, detail = (
                "settled_without_gateway",
                message(
                    "Không có chứng từ của cổng thanh toán hoặc ngân hàng.", "No gateway or bank record behind it."
                ),
            )
        rows.append(
            _row(
                kind,
                reference=request.reference,
                dossier=request.dossier.code,
                amount=payment.amount_vnd,
                expected=request.amount_vnd,
                at=payment.paid_at,
                source=f"{payment.method} · {payment.receipt_number}",
                detail=detail,
            )
        )
    return rows


def _bank_differences(scope: _Scope, date_from: dt.date, date_to: dt.date) -> list[dict]:
    rows = []
    lines = (
        scope.bank_lines.filter(value_date__gte=date_from, value_date__lte=date_to)
        .exclude(status=BankStatementLine.Status.MATCHED)
        .order_by("value_date", "id")
    )
    for line in lines:
        request = line.request
        if line.status == BankStatementLine.Status.UNMATCHED:
            kind, detail = "unmatched_bank_line", line.memo
        elif line.status == BankStatementLine.Status.MISMATCH:
            kind, detail = "amount_mismatch", line.memo
        else:
            kind = (
                "duplicate"
                if request and request.status in (RequestStatus.PAID, RequestStatus.REFUNDED)
                else "paid_not_settled"
            )
            detail = message(
                f"Yêu cầu đang ở trạng thái {request.status if request else '-'}.",
                f"The request is {request.status if request else '-'}.",
            )
        rows.append(
            _row(
                kind,
                reference=line.reference,
                dossier=request.dossier.code if request else None,
                amount=line.amount_vnd,
                expected=request.amount_vnd if request else None,
                at=line.value_date,
                source=f"Bank {line.bank_reference}",
                detail=detail,
            )
        )
    return rows


def _refund_differences(scope: _Scope, start, end) -> list[dict]:
    failed = (
        scope.refunds.filter(status=Refund.Status.FAILED, created_at__gte=start, created_at__lt=end)
        .select_related("payment__request__dossier")
        .order_by("created_at")
    )
    return [
        _row(
            "refund_failed",
            reference=refund.payment.request.reference,
            dossier=refund.payment.request.dossier.code,
            amount=refund.amount_vnd,
            expected=refund.amount_vnd,
            at=refund.created_at,
            source=refund.payment.receipt_number,
            detail=refund.message,
        )
        for refund in failed
    ]


def _sum(queryset, field: str = "amount_vnd") -> dict:
    totals = queryset.aggregate(count=Count("pk"), amount_vnd=Sum(field))
    return {"count": totals["count"], "amount_vnd": int(totals["amount_vnd"] or 0)}


def reconciliation_report(*, actor: Actor, date_from: dt.date, date_to: dt.date) -> dict:
    if date_to < date_from or (date_to - date_from).days >= MAX_PERIOD_DAYS:
        raise ValueError("a period of 1 to 366 days")
    scope = _scope(actor)
    start, end = _bounds(date_from, date_to)
    requests = scope.requests.filter(created_at__gte=start, created_at__lt=end)
    payments = scope.payments.filter(paid_at__gte=start, paid_at__lt=end)
    gateway = _successful(scope.transactions).filter(received_at__gte=start, received_at__lt=end)
    bank = scope.bank_lines.filter(value_date__gte=date_from, value_date__lte=date_to)
    by_method = {method: {"count": 0, "amount_vnd": 0} for method in Method.values}
    for method, count, amount in payments.order_by().values_list("method").annotate(Count("pk"), Sum("amount_vnd")):
        by_method[method] = {"count": count, "amount_vnd": int(amount or 0)}
    # The IPN, its duplicates and the browser's return report one payment.
    reported = list(gateway.values_list("order_id", "transaction_no", "amount_vnd").distinct())
    differences = (
        _gateway_differences(scope, start, end)
        + _payment_differences(scope, start, end)
        + _bank_differences(scope, date_from, date_to)
        + _refund_differences(scope, start, end)
    )
    differences.sort(key=lambda row: (row["at"] or "", row["kind"], row["reference"] or ""))
    return {
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "totals": {
            "requests": _sum(requests),
            "requests_open_now": _sum(requests.filter(status__in=[RequestStatus.PENDING, RequestStatus.FAILED])),
            "payments": _sum(payments),
            "payments_by_method": by_method,
            "gateway_successful": {"count": len(reported), "amount_vnd": sum(a or 0 for _o, _n, a in reported)},
            "bank_lines": _sum(bank),
            "bank_lines_matched": _sum(bank.filter(status=BankStatementLine.Status.MATCHED)),
            "refunds": _sum(scope.refunds.filter(created_at__gte=start, created_at__lt=end)),
        },
        "kinds": KINDS,
        "differences": differences,
    }


COLUMNS = (
    ("kind_label", "Loại chênh lệch / Difference"),
    ("reference", "Mã thanh toán / Reference"),
    ("dossier", "Mã hồ sơ / Dossier"),
    ("amount_vnd", "Số tiền / Amount (VND)"),
    ("expected_vnd", "Phải nộp / Expected (VND)"),
    ("at", "Thời điểm / When"),
    ("source", "Chứng từ / Source"),
    ("detail", "Ghi chú / Detail"),
)


def export_tables(report: dict) -> tuple[list[list], list[list]]:
    """(totals rows, differences rows), each with its header first."""
    totals = [["Chỉ tiêu / Measure", "Số lượng / Count", "Số tiền / Amount (VND)"]]
    for name, value in report["totals"].items():
        if name == "payments_by_method":
            for method, sums in value.items():
                totals.append([f"payments: {method}", sums["count"], sums["amount_vnd"]])
        else:
            totals.append([name, value["count"], value["amount_vnd"]])
    differences = [[title for _key, title in COLUMNS]]
    differences += [[row[key] for key, _title in COLUMNS] for row in report["differences"]]
    return totals, differences
