"""HTTP side of the sandbox carrier. The partner API answers JSON in the
carrier's own shape (`{"Success": ..., "Message": ...}`, PascalCase
fields), authenticated by `Authorization: Token <VNPOST_SANDBOX_API_KEY>`
and the account's `CustomerCode`; the operator page is for staff and
administrators. Everything is a 404 when VNPOST_SANDBOX_ENABLED is off."""

import functools
import hmac
import json

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from gisportal.accounts.selectors import actor_for
from postal.vnpost import CARRIER_STATUSES

from .models import Event, Order
from .services import DELIVERIES, SandboxRefusal, callback_body, held_release, order_create, order_move

MAX_BODY_BYTES = 64 * 1024


def _enabled(view):
    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if not settings.VNPOST_SANDBOX_ENABLED:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapped


def _refused(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"Success": False, "Message": message}, status=status)


def _request_body(request) -> dict:
    if len(request.body) > MAX_BODY_BYTES:
        raise SandboxRefusal("the body is too large", status=413)
    try:
        body = json.loads(request.body or b"{}")
    except ValueError as bad:
        raise SandboxRefusal("the body is not JSON") from bad
    if not isinstance(body, dict):
        raise SandboxRefusal("the body must be a JSON object")
    return body


def _authorised(request, body: dict) -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    good_key = scheme == "Token" and hmac.compare_digest(key.strip(), settings.VNPOST_SANDBOX_API_KEY)
    if not good_key or body.get("CustomerCode") != settings.VNPOST_SANDBOX_CUSTOMER_CODE:
        raise SandboxRefusal("wrong customer code or API key", status=401)


def _carrier_api(view):
    """JSON in, JSON out, authenticated; refusals in the carrier's shape."""

    @_enabled
    @csrf_exempt
    @require_POST
    @functools.wraps(view)
    def wrapped(request):
        try:
            body = _request_body(request)
            _authorised(request, body)
            return view(request, body)
        except SandboxRefusal as refusal:
            return _refused(str(refusal), refusal.status)

    return wrapped


def _order_of(body: dict) -> Order:
    order = Order.objects.filter(
        customer_code=settings.VNPOST_SANDBOX_CUSTOMER_CODE, item_code=str(body.get("ItemCode") or "")
    ).first()
    if order is None:
        raise SandboxRefusal("no such ItemCode", status=404)
    return order


def _order_answer(order: Order) -> dict:
    return {
        "Success": True,
        "ItemCode": order.item_code,
        "OrderCode": order.order_code,
        "Status": order.status,
        "History": [json.loads(callback_body(event)) for event in order.events.select_related("order")],
    }


@_carrier_api
def create_order(request, body: dict):
    order, created = order_create(customer_code=settings.VNPOST_SANDBOX_CUSTOMER_CODE, body=body)
    return JsonResponse(
        {"Success": True, "ItemCode": order.item_code, "OrderCode": order.order_code, "Created": created}
    )


@_carrier_api
def get_order(request, body: dict):
    return JsonResponse(_order_answer(_order_of(body)))


@_carrier_api
def move_order(request, body: dict):
    """The operator's hand: {"ItemCode", "Status" (default: the next planned
    one), "OccurredAt" (default now), "Delivery": normal | duplicate | late |
    hold, "DelaySeconds" (late), "Release": true (send the held ones)}."""
    order = _order_of(body)
    if body.get("Release") is True:
        return JsonResponse({**_order_answer(order), "Released": held_release(order=order)})
    occurred_at = None
    if body.get("OccurredAt") is not None:
        occurred_at = parse_datetime(str(body["OccurredAt"]))
        if occurred_at is None or occurred_at.tzinfo is None:
            raise SandboxRefusal("OccurredAt must be an ISO 8601 time with its offset")
    delay = body.get("DelaySeconds")
    if delay is not None and (not isinstance(delay, int | float) or isinstance(delay, bool) or not 0 <= delay <= 86400):
        raise SandboxRefusal("DelaySeconds must be a number of seconds, 0-86400")
    status = body.get("Status")
    if status is not None and status not in CARRIER_STATUSES:
        raise SandboxRefusal("Status must be one of " + ", ".join(CARRIER_STATUSES))
    order_move(
        order=order,
        status=status,
        occurred_at=occurred_at,
        delivery=str(body.get("Delivery") or "normal"),
        late_s=delay,
    )
    order.refresh_from_db()
    return JsonResponse(_order_answer(order))


@_enabled
@login_required
def operator_page(request):
    """Recent parcels, and buttons that move one (staff and administrators)."""
    if not (request.user.is_staff or actor_for(request.user).is_administrator):
        raise PermissionDenied
    message = ""
    if request.method == "POST":
        order = Order.objects.filter(item_code=request.POST.get("item_code", "")).first()
        status = request.POST.get("status") or None
        delivery = request.POST.get("delivery") or "normal"
        try:
            if order is None:
                raise SandboxRefusal("no such ItemCode", status=404)
            order_move(order=order, status=status, delivery=delivery)
            return redirect("vnpost-sandbox")
        except SandboxRefusal as refusal:
            message = str(refusal)
    orders = list(Order.objects.prefetch_related("events")[:50])
    context = {
        "orders": orders,
        "statuses": CARRIER_STATUSES,
        "deliveries": DELIVERIES,
        "message": message,
        "now": timezone.now(),
        "events": Event.objects.count(),
    }
    return render(request, "vnpost_sandbox/operator.html", context, status=400 if message else 200)
