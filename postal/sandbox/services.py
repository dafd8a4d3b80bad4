"""The sandbox carrier's behaviour: accept orders (CreateOrder, idempotent
by OrderCode), issue tracking numbers, move parcels along their plan
(picked up, in transit, maybe a failed delivery, delivered or returned) on
Celery beat's schedule or by the operator's hand, and report every move to
the customer's callback URL, signed, with the faults a real carrier shows:
duplicated, late (so out of order) and retried callbacks."""

from __future__ import annotations

import datetime as dt
import json
import random
import uuid

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from gisportal.outbox import (
    outbox_backoff_s,
    outbox_claim_when_due,
    outbox_heartbeat,
    outbox_owns,
    outbox_publish_on_commit,
    outbox_retry_later,
)
from layers.models import ServicePoint, ServicePointKind
from postal.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, callback_signature
from postal.vnpost import CARRIER_STATUSES

from .models import Callback, Event, Order

ITEM_PREFIX = "EB"  # domestic EMS
FINAL = frozenset({"delivered", "returned"})
NORMAL_PLAN = ["picked_up", "in_transit", "delivered"]
FAILED_ONCE_PLAN = ["picked_up", "in_transit", "delivery_failed", "in_transit", "delivered"]
RETURNED_PLAN = ["picked_up", "in_transit", "delivery_failed", "delivery_failed", "returned"]
DELIVERIES = ("normal", "duplicate", "late", "hold")


class SandboxRefusal(Exception):
    """A request the carrier refuses (400 with its Message)."""

    def __init__(self, message: str, *, status: int = 400):
        super().__init__(message)
        self.status = status


def s10_check_digit(serial: str) -> int:
    """UPU S10 check digit of an 8-digit serial number."""
    total = sum(int(d) * w for d, w in zip(serial, (8, 6, 4, 2, 3, 5, 9, 7), strict=True))
    check = 11 - total % 11
    return {10: 0, 11: 5}.get(check, check)


def item_code_for(number: int) -> str:
    serial = f"{number % 10**8:08d}"
    return f"{ITEM_PREFIX}{serial}{s10_check_digit(serial)}VN"


_REQUIRED = (
    "OrderCode",
    "SenderName",
    "SenderAddress",
    "SenderProvinceCode",
    "SenderWardCode",
    "ReceiverName",
    "ReceiverAddress",
    "ReceiverProvinceCode",
    "ReceiverWardCode",
    "PickupType",
)


def _checked(body: dict) -> None:
    for name in _REQUIRED:
        value = body.get(name)
        if not isinstance(value, str) or not value.strip():
            raise SandboxRefusal(f"{name} is required")
        if len(value) > 300:
            raise SandboxRefusal(f"{name} is longer than 300 characters")
    if len(body["OrderCode"]) > 60:
        raise SandboxRefusal("OrderCode is longer than 60 characters")
    weight = body.get("Weight")
    if not isinstance(weight, int) or isinstance(weight, bool) or not 1 <= weight <= 30_000:
        raise SandboxRefusal("Weight must be a whole number of grams, 1-30000")
    if body["PickupType"] not in ("collect", "drop"):
        raise SandboxRefusal("PickupType must be collect or drop")
    if body["PickupType"] == "drop" and not _office(body.get("PickupPostOfficeCode") or ""):
        raise SandboxRefusal("PickupPostOfficeCode must name a post office for PickupType drop")
    url = body.get("CallbackUrl") or ""
    if url and (not isinstance(url, str) or not url.startswith(("http://", "https://")) or len(url) > 500):
        raise SandboxRefusal("CallbackUrl must be an http(s) URL")


def _office(code: str) -> ServicePoint | None:
    return ServicePoint.objects.filter(code=code, kind=ServicePointKind.POST_OFFICE).first() if code else None


def _office_of_ward(ward_code: str) -> str:
    """The post office of a commune (the demo places one in each)."""
    office = (
        ServicePoint.objects.filter(kind=ServicePointKind.POST_OFFICE, admin_unit__code=ward_code, is_active=True)
        .order_by("code")
        .first()
    )
    return office.code if office else ""


def _plan(rng: random.Random) -> list[str]:
    draw = rng.random()
    rate = settings.VNPOST_SANDBOX_FAILURE_RATE
    if draw < rate * 0.3:
        return list(RETURNED_PLAN)
    if draw < rate:
        return list(FAILED_ONCE_PLAN)
    return list(NORMAL_PLAN)


def order_create(*, customer_code: str, body: dict, now: dt.datetime | None = None) -> tuple[Order, bool]:
    """CreateOrder: (order, created). The same OrderCode again answers the
    order already made, so a customer retrying after a timeout gets one
    parcel, not two."""
    now = now or timezone.now()
    existing = Order.objects.filter(customer_code=customer_code, order_code=body.get("OrderCode")).first()
    if existing is not None:
        return existing, False
    _checked(body)
    with transaction.atomic():
        order, created = Order.objects.get_or_create(
            customer_code=customer_code,
            order_code=body["OrderCode"],
            defaults={
                "body": body,
                "callback_url": body.get("CallbackUrl") or settings.VNPOST_CALLBACK_URL,
                "created_at": now,
            },
        )
        if not created:
            return order, False
        order.item_code = item_code_for(order.pk)
        order.plan = _plan(random.Random(order.item_code))
        order.origin_office = (
            body.get("PickupPostOfficeCode") if body["PickupType"] == "drop" else ""
        ) or _office_of_ward(body["SenderWardCode"])
        order.destination_office = _office_of_ward(body["ReceiverWardCode"])
        order.next_step_at = now + dt.timedelta(seconds=settings.VNPOST_SANDBOX_STEP_S)
        order.save(update_fields=["item_code", "plan", "origin_office", "destination_office", "next_step_at"])
    return order, True


def _where(order: Order, status: str) -> str:
    """The post office a status happens at: the origin until the parcel is
    in transit, then the destination's (where a failed parcel waits); a
    returned one is back at the origin."""
    if status in ("picked_up", "returned"):
        return order.origin_office
    if status == "delivered":
        return ""  # at the receiver's address
    return order.destination_office


def callback_body(event: Event, *, delivery_id: str = "") -> bytes:
    """A status report as the protocol writes it; a callback carries the id
    of its delivery attempt, so that two deliveries of one event (a
    duplicate, a retry) are two requests, the second a duplicate event."""
    order = event.order
    extra = {"DeliveryId": delivery_id} if delivery_id else {}
    return json.dumps(
        {
            "EventId": event.event_id,
            "ItemCode": order.item_code,
            "OrderCode": order.order_code,
            "Status": event.status,
            "OccurredAt": timezone.localtime(event.occurred_at).isoformat(),
            "PostOfficeCode": event.post_office_code,
            "Note": event.note,
            **extra,
        },
        ensure_ascii=False,
    ).encode()


def order_move(
    *,
    order: Order,
    status: str | None = None,
    occurred_at: dt.datetime | None = None,
    delivery: str = "normal",
    late_s: float | None = None,
    note: str = "",
    now: dt.datetime | None = None,
) -> Event:
    """Moves a parcel (its next planned status unless `status` says) and
    owes the customer a callback: sent once (`normal`), twice (`duplicate`),
    after `late_s` seconds (`late`, default one and a half steps, so later
    statuses overtake it), or not yet (`hold`: sent when it is moved again
    with `release`)."""
    now = now or timezone.now()
    if status is None:
        if order.step >= len(order.plan):
            raise SandboxRefusal("the parcel has no further step", status=409)
        status = order.plan[order.step]
    if status not in CARRIER_STATUSES:
        raise SandboxRefusal("Status must be one of " + ", ".join(CARRIER_STATUSES))
    if delivery not in DELIVERIES:
        raise SandboxRefusal("Delivery must be one of " + ", ".join(DELIVERIES))
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.status in FINAL:
            raise SandboxRefusal(f"the parcel is already {order.status}", status=409)
        event = Event.objects.create(
            order=order,
            event_id=uuid.uuid4().hex,
            status=status,
            occurred_at=occurred_at or now,
            post_office_code=_where(order, status),
            note=note or ("Không có người nhận / Nobody at the address" if status == "delivery_failed" else ""),
            created_at=now,
        )
        if order.step < len(order.plan) and order.plan[order.step] == status:
            order.step += 1
        order.status = status
        more = status not in FINAL and order.step < len(order.plan)
        order.next_step_at = now + dt.timedelta(seconds=settings.VNPOST_SANDBOX_STEP_S) if more else None
        order.save(update_fields=["status", "step", "next_step_at"])
        if delivery != "hold":
            _callbacks_owe(event, delivery=delivery, late_s=late_s, now=now)
    return event


def _callbacks_owe(event: Event, *, delivery: str, late_s: float | None, now: dt.datetime) -> None:
    copies = 2 if delivery == "duplicate" else 1
    wait = (late_s if late_s is not None else 1.5 * settings.VNPOST_SANDBOX_STEP_S) if delivery == "late" else 0
    for _ in range(copies):
        # A late one is "not before then": the outbox sweep sends it once due.
        callback = Callback.objects.create(
            event=event, url=event.order.callback_url, created_at=now, queued_at=now + dt.timedelta(seconds=wait)
        )
        if not wait:
            outbox_publish_on_commit(callback)


def held_release(*, order: Order, now: dt.datetime | None = None) -> int:
    """Sends the callbacks of this parcel's held events (moved with `hold`)."""
    now = now or timezone.now()
    held = Event.objects.filter(order=order, callbacks__isnull=True)
    count = 0
    with transaction.atomic():
        for event in held:
            _callbacks_owe(event, delivery="normal", late_s=None, now=now)
            count += 1
    return count


def sandbox_tick(*, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Moves every parcel whose step is due, with the configured share of
    duplicated and late callbacks. Returns how many moved."""
    now = now or timezone.now()
    rng = random.Random()
    moved = 0
    with transaction.atomic():
        due = list(
            Order.objects.select_for_update(skip_locked=True)
            .filter(next_step_at__lte=now)
            .order_by("next_step_at")[:limit]
        )
        for order in due:
            draw = rng.random()
            duplicate = settings.VNPOST_SANDBOX_DUPLICATE_RATE
            late = duplicate + settings.VNPOST_SANDBOX_LATE_RATE
            delivery = "duplicate" if draw < duplicate else ("late" if draw < late else "normal")
            order_move(order=order, delivery=delivery, now=now)
            moved += 1
    return moved


# --- sending callbacks ---------------------------------------------------------------


def callback_send_run(*, callback_id: int) -> None:
    """Sends one callback (claimed through the outbox), signed now. A 2xx
    answer ends it; anything else, or no answer, is tried again later, up
    to VNPOST_SANDBOX_CALLBACK_MAX_TRIES times."""
    job = outbox_claim_when_due(Callback, callback_id)
    if job is None:
        return
    with outbox_heartbeat(job):
        event = Event.objects.select_related("order").get(pk=job.event_id)
        body = callback_body(event, delivery_id=f"{job.pk}-{job.tries + 1}")
        timestamp = int(timezone.now().timestamp())
        signature = callback_signature(
            secret=settings.VNPOST_SANDBOX_CALLBACK_SECRET,
            customer_code=settings.VNPOST_SANDBOX_CUSTOMER_CODE,
            timestamp=timestamp,
            body=body,
        )
        try:
            response = requests.post(
                job.url,
                data=body,
                headers={
                    "Content-Type": "application/json",
                    TIMESTAMP_HEADER: str(timestamp),
                    SIGNATURE_HEADER: signature,
                },
                timeout=settings.VNPOST_SANDBOX_CALLBACK_TIMEOUT_S,
                allow_redirects=False,
            )
            answer = f"HTTP {response.status_code}: {response.text[:300]}"
            # 409: the portal already has this very request (its answer was lost).
            delivered = 200 <= response.status_code < 300 or response.status_code == 409
        except requests.RequestException as error:
            answer, delivered = f"{type(error).__name__}: {error}"[:500], False
    with transaction.atomic():
        if not outbox_owns(job):
            return
        job.tries += 1
        job.last_response = answer[:500]
        if delivered:
            job.status, job.finished_at = Callback.Status.DONE, timezone.now()
            job.save(update_fields=["tries", "last_response", "status", "finished_at"])
        elif job.tries >= settings.VNPOST_SANDBOX_CALLBACK_MAX_TRIES:
            job.status, job.finished_at = Callback.Status.FAILED, timezone.now()
            job.message = f"Gave up after {job.tries} tries; last answer: {answer}"[:1000]
            job.save(update_fields=["tries", "last_response", "status", "finished_at", "message"])
        else:
            outbox_retry_later(job, delay_s=outbox_backoff_s(job.tries), fields=("tries", "last_response"))
