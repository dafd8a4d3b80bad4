"""Output shapes of payments for the people who may see the dossier."""

from django.urls import reverse
from django.utils import timezone

from dossiers.models import Dossier
from gisportal.accounts.selectors import Actor

from .models import Payment, PaymentRequest, Refund, RequestStatus
from .selectors import payment_actions, payment_requests_of
from .vietqr import transfer_code


def _iso(value):
    return timezone.localtime(value).isoformat() if value else None


def payment_json(payment: Payment) -> dict:
    return {
        "method": payment.method,
        "method_label": payment.get_method_display(),
        "amount_vnd": payment.amount_vnd,
        "paid_at": _iso(payment.paid_at),
        "receipt_number": payment.receipt_number,
        "receipt_url": reverse("api-payment-receipt", args=[payment.receipt_number]),
        "external_reference": payment.external_reference,
    }


def refund_json(refund: Refund) -> dict:
    return {
        "status": refund.status,
        "status_label": refund.get_status_display(),
        "amount_vnd": refund.amount_vnd,
        "reason": refund.reason,
        "message": refund.message,
        "created_at": _iso(refund.created_at),
        "finished_at": _iso(refund.finished_at),
    }


def request_json(request: PaymentRequest, *, dossier: Dossier) -> dict:
    payment = getattr(request, "payment", None)
    refund = getattr(payment, "refund", None) if payment is not None else None
    body = {
        "reference": request.reference,
        "status": request.status,
        "status_label": RequestStatus(request.status).label,
        "amount_vnd": request.amount_vnd,
        "lines": [{"label": line.label, "amount_vnd": line.amount_vnd} for line in request.lines.all()],
        "payer_name": request.payer_name,
        "created_at": _iso(request.created_at),
        "due_at": _iso(request.due_at),
        "closed_at": _iso(request.closed_at),
        "payment": payment_json(payment) if payment is not None else None,
        "refund": refund_json(refund) if refund is not None else None,
        "how_to_pay": None,
    }
    if request.is_open:
        code = transfer_code(amount_vnd=request.amount_vnd, reference=request.reference, dossier_code=dossier.code)
        body["how_to_pay"] = {
            "online": reverse("api-payment-vnpay", args=[dossier.code]),
            "bank_transfer": {
                "vietqr_payload": code.payload,
                "bank_bin": code.bank_bin,
                "account_number": code.account_number,
                "account_name": code.account_name,
                "amount_vnd": code.amount_vnd,
                "purpose": code.purpose,
            },
            "at_desk": dossier.receiving_point.name,
            "slip_url": reverse("api-payment-slip", args=[dossier.code]),
        }
    return body


def _none_yet(dossier: Dossier) -> bool:
    """A request is made when a dossier is received (services.on_dossier_changed): the dossier a
    submission has just written (`Dossier.submitted_events`, every event of it) has none unless
    one of those events is the receipt. Its answer then reads nothing here."""
    events = dossier.submitted_events
    return events is not None and all(e.action != "receive" for e in events)


def dossier_payment(dossier: Dossier, *, actor: Actor) -> dict | None:
    """The `payment` part of a dossier: its requests (newest first), the
    open one's reference, and what the caller may do now. None for a
    dossier without fees."""
    requests = [] if _none_yet(dossier) else payment_requests_of(dossier)
    if not requests and dossier.fee_vnd <= 0:
        return None
    current = next((r for r in requests if r.is_open), None)
    return {
        "fee_vnd": dossier.fee_vnd,
        "open_reference": current.reference if current else None,
        "actions": payment_actions(actor, dossier, current),
        "requests": [request_json(r, dossier=dossier) for r in requests],
        "url": reverse("api-dossier-payment", args=[dossier.code]),
    }
