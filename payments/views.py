"""Web pages of payments: the buttons of the dossier page's payment panel
(pay online, record a desk payment), the return page after the gateway,
bank statement lines and the reconciliation report for officials, and the
public check of a receipt's QR code. Pages call the same services and
selectors as the API."""

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from dossiers.models import Dossier
from dossiers.selectors import dossier_get_for_user
from gisportal.accounts.models import Role
from gisportal.accounts.selectors import actor_for
from gisportal.api import BadParameters
from gisportal.clientip import client_ip
from gisportal.messages import in_language

from . import reconciliation
from .apis import (
    CSV_MAX_BYTES,
    bank_line_input,
    bank_lines_from_csv,
    online_payment_start_for,
    reconciliation_file,
    reconciliation_params,
)
from .errors import PaymentConflict, PaymentForbidden, PaymentInputError
from .models import BankStatementLine, RequestStatus
from .receipts import receipt_token_valid
from .selectors import bank_lines_visible_to, receipt_public
from .services import bank_lines_record, payment_record_counter, vnpay_return_record
from .words import vnd

audit = logging.getLogger("gisportal.audit")


# Labels of the domain are written "Tiếng Việt / English": the page's half,
# through the one helper every page uses (also `|in_language` in templates).
_in_language = in_language


def _refused(request, *, code: str | None, error: Exception, status: int):
    """A short page saying why nothing was done, with the way back."""
    if isinstance(error, PaymentInputError):
        texts = [text for values in error.errors.values() for text in values]
    else:
        texts = [str(error)]
    return render(
        request,
        "payments/refused.html",
        {"texts": [_in_language(t) for t in texts], "dossier_code": code},
        status=status,
    )


def _visible(user, code: str) -> Dossier:
    try:
        return dossier_get_for_user(user=user, code=code)
    except Dossier.DoesNotExist as missing:
        raise Http404 from missing


@login_required
@require_POST
def pay_online(request, code: str):
    """The panel's "Pay online" button: a new order, then the gateway."""
    try:
        started = online_payment_start_for(request, code=code, locale="en" if get_language() == "en" else "vn")
    except Dossier.DoesNotExist as missing:
        raise Http404 from missing
    except PaymentForbidden as refused:
        return _refused(request, code=code, error=refused, status=403)
    except PaymentConflict as conflict:
        return _refused(request, code=code, error=conflict, status=409)
    return HttpResponseRedirect(started.payment_url)


@login_required
@require_POST
def record_counter(request, code: str):
    """The panel's desk form: cash or POS, the amount, a slip number."""
    dossier = _visible(request.user, code)
    raw_amount = (request.POST.get("amount_vnd") or "").replace(".", "").replace(",", "").strip()
    try:
        if not (raw_amount.isascii() and raw_amount.isdigit()):
            raise PaymentInputError.one("amount_vnd", "Số tiền phải là số nguyên (đồng).", "A whole number of VND.")
        payment = payment_record_counter(
            dossier_id=dossier.pk,
            method=request.POST.get("method") or "",
            amount_vnd=int(raw_amount),
            acting_user=request.user,
            reference=request.POST.get("reference") or "",
        )
    except PaymentInputError as bad:
        return _refused(request, code=code, error=bad, status=400)
    except PaymentForbidden as refused:
        return _refused(request, code=code, error=refused, status=403)
    except PaymentConflict as conflict:
        return _refused(request, code=code, error=conflict, status=409)
    audit.info("counter payment code=%s receipt=%s user=%s", code, payment.receipt_number, request.user.pk)
    messages.success(request, _("Payment recorded; receipt %(number)s issued.") % {"number": payment.receipt_number})
    return redirect("dossier-page", code=code)


@never_cache
def vnpay_return(request):
    """Where the gateway sends the browser back: shows the result of the
    signed query. It settles nothing; the gateway's IPN does."""
    result = vnpay_return_record(params=dict(request.GET.items()), client_ip=client_ip(request))
    context = {
        "result": result,
        "amount": vnd(result.amount_vnd) if result.amount_vnd else "",
        "paid": result.request_status == RequestStatus.PAID,
        "dossier_url": reverse("dossier-page", args=[result.dossier_code]) if result.dossier_code else None,
        "code_text": "",
    }
    if result.signature_valid:
        from .vnpay import response_text

        vi_text, en_text = response_text(result.response_code)
        context["code_text"] = en_text if get_language() == "en" else vi_text
    return render(request, "payments/return.html", context, status=200 if result.signature_valid else 400)


def _official_or_403(request):
    actor = actor_for(request.user)
    if not actor.is_official:
        return actor, render(
            request, "payments/refused.html", {"texts": [_("Only officials may open this page.")]}, status=403
        )
    return actor, None


@login_required
def reconciliation_page(request):
    actor, refused = _official_or_403(request)
    if refused:
        return refused
    try:
        date_from, date_to, fmt = reconciliation_params(request.GET)
    except BadParameters as bad:
        texts = [_in_language(t) for values in bad.detail.values() for t in values]
        return render(request, "payments/refused.html", {"texts": texts}, status=400)
    report = reconciliation.reconciliation_report(actor=actor, date_from=date_from, date_to=date_to)
    if fmt != "json":
        return reconciliation_file(report, fmt)
    query = f"from={date_from.isoformat()}&to={date_to.isoformat()}"
    rows = [
        {**row, "kind_label": _in_language(row["kind_label"]), "detail": _in_language(row["detail"])}
        for row in report["differences"]
    ]
    return render(
        request,
        "payments/reconciliation.html",
        {
            "report": report,
            "rows": rows,
            "date_from": date_from,
            "date_to": date_to,
            "csv_url": f"{reverse('api-payment-reconciliation')}?{query}&format=csv",
            "xlsx_url": f"{reverse('api-payment-reconciliation')}?{query}&format=xlsx",
        },
    )


@login_required
def bank_lines_page(request):
    """Record one statement line or upload a CSV; the latest lines, with the
    ones that matched nothing or the wrong amount marked."""
    actor, refused = _official_or_403(request)
    if refused:
        return refused
    may_record = actor.role in (Role.DESK_OFFICER, Role.ADMINISTRATOR) or actor.is_superuser
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        try:
            if request.FILES.get("file"):
                upload = request.FILES["file"]
                if upload.size > CSV_MAX_BYTES:
                    raise PaymentInputError.one("file", "Tệp tối đa 2 MB.", "At most 2 MB.")
                lines = bank_lines_from_csv(upload.read())
            else:
                lines = [bank_line_input(request.POST)]
            recorded = bank_lines_record(lines=lines, acting_user=request.user)
        except PaymentInputError as bad:
            errors = [f"{field}: {_in_language(t)}" for field, texts in bad.errors.items() for t in texts]
            status = 400
        except PaymentForbidden as forbidden:
            errors, status = [_in_language(str(forbidden))], 403
        else:
            matched = sum(1 for line in recorded if line.status == BankStatementLine.Status.MATCHED)
            messages.success(
                request,
                _("%(count)s line(s) recorded, %(matched)s matched.") % {"count": len(recorded), "matched": matched},
            )
            return redirect("payment-bank-lines-page")
    lines = list(bank_lines_visible_to(actor)[:100])
    return render(
        request,
        "payments/bank_lines.html",
        {
            "lines": [{"line": line, "status_label": _in_language(line.get_status_display())} for line in lines],
            "errors": errors,
            "may_record": may_record,
            "posted": request.POST if request.method == "POST" else {},
        },
        status=status,
    )


@never_cache
def receipt_check(request, number: str):
    """The page a receipt's QR code opens: the receipt exists, for this
    amount, procedure and dossier, and whether it was refunded. No personal
    data; a number without its signature is a 404."""
    payment = receipt_public(number=number) if receipt_token_valid(number, request.GET.get("t", "")) else None
    if payment is None:
        return render(request, "payments/receipt_check.html", {"payment": None}, status=404)
    return render(
        request,
        "payments/receipt_check.html",
        {
            "payment": payment,
            "amount": vnd(payment.amount_vnd),
            "method": _in_language(payment.get_method_display()),
            "refunded": hasattr(payment, "refund"),
        },
    )
