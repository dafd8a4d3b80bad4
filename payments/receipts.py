"""PDF documents of payments, rendered with WeasyPrint like the dossier
slips (`dossiers.slips`): the e-receipt (biên lai điện tử) of a payment,
and the payment slip (giấy báo nộp phí) of an open request with its VietQR
transfer code. Both carry a QR code; the receipt's opens the public check
page of that receipt (number, amount, date, procedure and dossier code,
whether it was refunded; no personal data), with a signature in the link
so receipt numbers cannot be walked through."""

import hmac
from dataclasses import dataclass

from django.conf import settings
from django.core.signing import Signer
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from dossiers.slips import issuer_lines, qr_png_data_uri

from .models import Method, Payment, PaymentRequest
from .vietqr import transfer_code
from .words import vnd, vnd_in_words

_SIGNER = Signer(salt="payments.receipt")


@dataclass(frozen=True)
class _Form:
    title: str
    page_size: str = "A5"
    number: int = 0


RECEIPT_FORM = _Form("BIÊN LAI THU PHÍ, LỆ PHÍ (ĐIỆN TỬ)")
SLIP_FORM = _Form("GIẤY BÁO NỘP PHÍ, LỆ PHÍ")


def receipt_token(number: str) -> str:
    return _SIGNER.signature(number)[:22]


def receipt_token_valid(number: str, token: str) -> bool:
    return hmac.compare_digest(receipt_token(number), token or "")


def receipt_check_url(number: str) -> str:
    path = reverse("payment-receipt-check", args=[number])
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}{path}?t={receipt_token(number)}"


def _vi(label: str) -> str:
    return label.split(" / ", 1)[0]


def _pdf(template: str, context: dict) -> bytes:
    # Imported here: WeasyPrint loads Pango and its fonts (see dossiers.slips).
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    html = render_to_string(template, context)
    fetcher = URLFetcher(allowed_protocols=("data",), allow_redirects=False)
    return HTML(string=html, url_fetcher=fetcher).write_pdf()


def receipt_context(payment: Payment) -> dict:
    request = payment.request
    dossier = request.dossier
    parent, unit = issuer_lines(dossier)
    check_url = receipt_check_url(payment.receipt_number)
    return {
        "form": RECEIPT_FORM,
        "dossier": dossier,
        "procedure": dossier.procedure,
        "issuer_parent": parent,
        "issuer_unit": unit,
        "issued_at": timezone.localtime(payment.paid_at),
        "payment": payment,
        "request": request,
        "lines": list(request.lines.all()),
        "series": settings.PAYMENT_RECEIPT_SERIES,
        "amount": vnd(payment.amount_vnd),
        "amount_words": vnd_in_words(payment.amount_vnd),
        "method": _vi(Method(payment.method).label),
        "check_url": check_url,
        "qr_data_uri": qr_png_data_uri(check_url),
        "refund": getattr(payment, "refund", None),
    }


def receipt_pdf(payment: Payment) -> bytes:
    return _pdf("payments/receipt.html", receipt_context(payment))


def payment_slip_pdf(request: PaymentRequest) -> bytes:
    dossier = request.dossier
    parent, unit = issuer_lines(dossier)
    code = transfer_code(amount_vnd=request.amount_vnd, reference=request.reference, dossier_code=dossier.code)
    return _pdf(
        "payments/slip.html",
        {
            "form": SLIP_FORM,
            "dossier": dossier,
            "procedure": dossier.procedure,
            "issuer_parent": parent,
            "issuer_unit": unit,
            "issued_at": timezone.localtime(),
            "request": request,
            "lines": list(request.lines.all()),
            "amount": vnd(request.amount_vnd),
            "amount_words": vnd_in_words(request.amount_vnd),
            "transfer": code,
            "qr_data_uri": qr_png_data_uri(code.payload),
        },
    )
