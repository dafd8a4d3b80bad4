"""HTTP side of the sandbox gateway (payments/sandbox.py): the payment page
at VNPay's path and its merchant web API. Not part of the portal's API
schema: to the portal it is another system, reached by URL only."""

import json

from django.conf import settings
from django.core.signing import BadSignature, Signer
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from .sandbox import CHOICES, SandboxRefused, sandbox_api, sandbox_transaction_finish, sandbox_transaction_open
from .words import vnd

_SIGNER = Signer(salt="payments.sandbox.transaction")


def _enabled() -> None:
    if not settings.VNPAY_SANDBOX_ENABLED:
        raise Http404


@never_cache
@require_http_methods(["GET", "POST"])
def sandbox_pay(request):
    """GET with the merchant's signed `vnp_*` query: the payment page. POST
    (the page's buttons): the buyer's choice, then back to the merchant."""
    _enabled()
    if request.method == "POST":
        try:
            transaction_id = int(_SIGNER.unsign(request.POST.get("transaction", "")))
        except (BadSignature, ValueError):
            return render(request, "payments/sandbox_refused.html", {"code": "03", "text": "transaction"}, status=400)
        choice = request.POST.get("choice", "")
        if choice not in CHOICES or choice == "expired":
            return render(request, "payments/sandbox_refused.html", {"code": "03", "text": "choice"}, status=400)
        finished = sandbox_transaction_finish(transaction_id=transaction_id, choice=choice)
        return HttpResponseRedirect(finished.return_url)
    try:
        txn = sandbox_transaction_open(dict(request.GET.items()))
    except SandboxRefused as refused:
        return render(
            request, "payments/sandbox_refused.html", {"code": refused.code, "text": str(refused)}, status=400
        )
    language = "en" if txn.locale == "en" else "vi"
    with translation.override(language):
        return render(
            request,
            "payments/sandbox_pay.html",
            {
                "txn": txn,
                "amount": vnd(txn.amount_vnd),
                "token": _SIGNER.sign(str(txn.pk)),
                "language": language,
            },
        )


@csrf_exempt
@require_POST
def sandbox_api_view(request):
    """The merchant web API (`vnp_Command=refund`), JSON in and out."""
    _enabled()
    try:
        body = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        body = {}
    return JsonResponse(sandbox_api(body if isinstance(body, dict) else {}))
