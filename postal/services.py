"""Every write of the postal service.

- Shipments are made from dossier events (`shipments_on_dossier_change`,
  subscribed in `apps.ready`): an online dossier whose paper copy goes by
  post gets an inbound leg when it is received, a result sent by post an
  outbound leg when it is ready. Each leg is ordered from the carrier by a
  `CarrierRequest` outbox job (`carrier_request_run`, in the worker).
- The parcel's history comes from the carrier's signed callbacks
  (`carrier_callback_receive`), from GetOrder, and from the desk, which
  records the hand-overs it takes part in (`shipment_act`). Each report is
  applied once (the carrier's EventId), in the order things happened
  (`occurred_at`), whatever order the reports arrive in: a later state is
  never replaced by an earlier one arriving late, and a delivered or
  returned parcel moves no more.
- Every hand-over is a step on the dossier's timeline
  (`dossier_record_event`), recorded once however many reports tell of it;
  a result delivered by post returns the dossier on the delivery date
  (`dossier_transition_by_system`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from dossiers.errors import TransitionNotAllowed
from dossiers.events import DossierChanged
from dossiers.extensions import TO_APPLICANT, TO_DESK
from dossiers.models import Delivery, Dossier, PostalPickup, Status
from dossiers.services import dossier_record_event, dossier_transition_by_system
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
from layers.models import AdministrativeUnit, ServicePoint, ServicePointKind
from payments.errors import PaymentConflict, PaymentForbidden, PaymentInputError
from payments.services import payment_record_counter

from .models import (
    CallbackOutcome,
    CarrierCallback,
    CarrierRequest,
    Leg,
    Shipment,
    ShipmentStatus,
    TrackingEvent,
    TrackingSource,
)
from .selectors import SHIPMENT_ACTIONS, shipment_actions, shipment_get_for_user
from .signing import callback_signature_valid
from .vnpost import (
    PICKUP_COLLECT,
    PICKUP_DROP,
    BadCarrierEvent,
    CarrierEvent,
    CarrierRefused,
    CarrierUnavailable,
    Order,
    Party,
    carrier_event,
    vnpost_client,
)

logger = logging.getLogger(__name__)

CARRIER_NAME = "Bưu điện / Vietnam Post"
PORTAL_NAME = "Cổng dịch vụ công / Portal"

# The steps the post records on a dossier's timeline, and who takes the
# dossier at each hand-over (dossiers.extensions: the timeline, the lookup
# and the process control slip name them).
STEP_LABELS = {
    "shipment_created": "Tạo vận đơn bưu chính, có mã bưu gửi / Shipment ordered, tracking number issued",
    "shipment_picked_up": "Bàn giao cho nhân viên bưu điện / Handed to the postal worker",
    "shipment_handed_to_desk": (
        "Nhân viên bưu điện bàn giao hồ sơ cho bộ phận một cửa / Postal worker handed the dossier to the desk"
    ),
    "shipment_delivered": "Bưu điện đã phát kết quả cho người nhận / Result delivered by post",
    "shipment_failed": "Bưu điện phát không thành công / Delivery attempt failed",
    "shipment_returned": "Bưu gửi chuyển hoàn về người gửi / Parcel returned to the sender",
    "shipment_cancelled": "Hủy vận chuyển bưu chính / Shipment cancelled",
}
STEP_RECEIVERS = {
    "shipment_picked_up": CARRIER_NAME,
    "shipment_handed_to_desk": TO_DESK,
    "shipment_delivered": TO_APPLICANT,
}

# Order of statuses for reports that happened at the same moment.
_RANK = {
    ShipmentStatus.PENDING: 0,
    ShipmentStatus.CREATED: 1,
    ShipmentStatus.PICKED_UP: 2,
    ShipmentStatus.IN_TRANSIT: 3,
    ShipmentStatus.DELIVERY_FAILED: 4,
    ShipmentStatus.DELIVERED: 5,
    ShipmentStatus.RETURNED: 5,
}
_BOOKKEEPING = frozenset({ShipmentStatus.PENDING, ShipmentStatus.CREATED})
# Hand-overs recorded on the dossier once per shipment, however many reports tell of them.
_ONCE = frozenset({"shipment_picked_up", "shipment_handed_to_desk", "shipment_delivered", "shipment_returned"})
# Dossier events that stop a parcel not yet handed over.
_CANCELLING = frozenset({"withdraw", "stop", "refuse"})


class PostalInputError(Exception):
    """Bad input (400): each field with its messages."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors

    @classmethod
    def one(cls, field: str, vi: str, en: str) -> PostalInputError:
        return cls({field: [message(vi, en)]})


class PostalActionRefused(Exception):
    """The shipment's state or the caller's role does not allow it (409)."""

    def __init__(self, text: str, *, allowed: list[str]):
        super().__init__(text)
        self.allowed = allowed


class CallbackRefused(Exception):
    """A status report that is not believed or not readable: nothing changes.
    `status`: 400 (malformed, naming `field`), 401 (signature or timestamp),
    409 (a replay of a request already received)."""

    def __init__(self, status: int, field: str, vi: str, en: str):
        super().__init__(message(vi, en))
        self.status, self.field = status, field


# --- shipments made from dossier events -------------------------------------------------


# Dossier events after which the paper dossier is collected: submission
# (online, waiting for receipt) or receipt (for a dossier received at once).
_DOSSIER_ARRIVES = frozenset({"submit", "receive"})


def shipments_on_dossier_change(change: DossierChanged) -> None:
    """Subscribed to dossiers.events: runs inside the dossier's transaction,
    so a shipment exists exactly when the step that calls for it does."""
    if change.action in _DOSSIER_ARRIVES:
        # An online dossier whose paper copy goes by post waits for receipt
        # (dossiers.services.waits_for_receipt): the post collects it at
        # submission and the desk receives it with the paper in hand.
        if _by_post(change.dossier_id, postal_pickup__gt="") and not _active(change.dossier_id, Leg.INBOUND):
            _shipment_open(_dossier(change.dossier_id), leg=Leg.INBOUND, at=change.at)
    elif change.to_status == Status.RESULT_READY and change.status_changed:
        if _by_post(change.dossier_id, result_delivery=Delivery.POST) and not _active(change.dossier_id, Leg.OUTBOUND):
            _shipment_open(_dossier(change.dossier_id), leg=Leg.OUTBOUND, at=change.at)
    elif change.action in _CANCELLING:
        _shipments_cancel(change)


def _by_post(dossier_id: int, **condition) -> bool:
    """Whether the dossier goes by post on that leg: one narrow statement,
    so the dossiers that do not (most of them) never load the whole
    dossier with its units (their boundaries) that a shipment needs."""
    return Dossier.objects.filter(pk=dossier_id, **condition).exists()


def _dossier(dossier_id: int) -> Dossier:
    return Dossier.objects.select_related(
        "receiving_point__admin_unit__parent",
        "applicant_commune__parent",
        "delivery_commune__parent",
        "pickup_point",
        "procedure",
    ).get(pk=dossier_id)


def _active(dossier_id: int, leg: str) -> bool:
    return (
        Shipment.objects.filter(dossier_id=dossier_id, leg=leg)
        .exclude(status__in=[ShipmentStatus.CANCELLED, ShipmentStatus.REFUSED, ShipmentStatus.RETURNED])
        .exists()
    )


def _units(commune: AdministrativeUnit | None) -> dict:
    """Unit codes as the carrier takes them: on the 2025 map a commune sits
    directly under its province, so the district is empty."""
    if commune is None:
        return {"province": settings.PORTAL_PROVINCE_CODE, "district": "", "commune": ""}
    parent = commune.parent
    province = parent.code if parent and parent.level == "province" else (parent.parent.code if parent else "")
    district = parent.code if parent and parent.level == "district" else ""
    return {"province": province, "district": district, "commune": commune.code}


def _commune_of(point) -> AdministrativeUnit | None:
    if point is None:
        return None
    return (
        AdministrativeUnit.objects.filter(era="2025", level="commune", geom__intersects=point)
        .select_related("parent")
        .order_by("code")
        .first()
    )


def _desk_party(point: ServicePoint) -> tuple[str, str, str, dict]:
    return point.name, point.phone, point.address or point.name, _units(point.admin_unit)


def _shipment_open(dossier: Dossier, *, leg: str, at: dt.datetime) -> Shipment:
    desk_name, desk_phone, desk_address, desk_units = _desk_party(dossier.receiving_point)
    if leg == Leg.INBOUND:
        citizen_commune = dossier.applicant_commune
        citizen_location = dossier.location
        citizen_address = dossier.pickup_address or dossier.applicant_address
        pickup_mode = dossier.postal_pickup
        pickup_point = dossier.pickup_point
    else:
        citizen_location = dossier.delivery_location
        citizen_commune = dossier.delivery_commune or _commune_of(citizen_location) or dossier.applicant_commune
        citizen_address = dossier.delivery_address or dossier.applicant_address
        pickup_mode, pickup_point = "desk", None
    citizen = (dossier.applicant_name, dossier.applicant_phone, citizen_address, _units(citizen_commune))
    desk = (desk_name, desk_phone, desk_address, desk_units)
    sender, receiver = (citizen, desk) if leg == Leg.INBOUND else (desk, citizen)
    number = Shipment.objects.filter(dossier=dossier, leg=leg).count() + 1
    shipment = Shipment.objects.create(
        dossier=dossier,
        leg=leg,
        order_code=f"{dossier.code}-{'N' if leg == Leg.INBOUND else 'T'}{number}",
        status=ShipmentStatus.PENDING,
        status_at=at,
        created_at=at,
        pickup_mode=pickup_mode,
        pickup_point=pickup_point,
        sender_name=sender[0],
        sender_phone=sender[1],
        sender_address=sender[2],
        sender_units=sender[3],
        receiver_name=receiver[0],
        receiver_phone=receiver[1],
        receiver_address=receiver[2],
        receiver_units=receiver[3],
        weight_g=settings.VNPOST_PARCEL_WEIGHT_G,
        citizen_location=citizen_location,
        citizen_commune=citizen_commune,
    )
    TrackingEvent.objects.create(
        shipment=shipment, status=ShipmentStatus.PENDING, occurred_at=at, recorded_at=at, source=TrackingSource.PORTAL
    )
    _carrier_request_queue(shipment, kind="create_order", at=at)
    return shipment


def _carrier_request_queue(shipment: Shipment, *, kind: str, at: dt.datetime | None = None) -> CarrierRequest:
    at = at or timezone.now()
    job = CarrierRequest.objects.create(shipment=shipment, kind=kind, created_at=at, queued_at=timezone.now())
    outbox_publish_on_commit(job)
    return job


def _shipments_cancel(change: DossierChanged) -> None:
    """A dossier withdrawn, stopped or refused: parcels nobody has handed
    over yet are not carried (the carrier's order is left to lapse)."""
    waiting = Shipment.objects.select_for_update().filter(
        dossier_id=change.dossier_id,
        status__in=[ShipmentStatus.PENDING, ShipmentStatus.CREATED],
        picked_up_at__isnull=True,
    )
    for shipment in waiting:
        shipment.status, shipment.status_at = ShipmentStatus.CANCELLED, change.at
        shipment.save(update_fields=["status", "status_at"])
        TrackingEvent.objects.create(
            shipment=shipment,
            status=ShipmentStatus.CANCELLED,
            occurred_at=change.at,
            recorded_at=timezone.now(),
            source=TrackingSource.PORTAL,
            note=change.action,
        )
        CarrierRequest.objects.filter(shipment=shipment, status=CarrierRequest.Status.QUEUED).update(
            status=CarrierRequest.Status.FAILED, finished_at=timezone.now(), message="cancelled with the dossier"
        )
        dossier_record_event(
            dossier_id=shipment.dossier_id,
            action="shipment_cancelled",
            note=_note(shipment),
            actor_name=PORTAL_NAME,
            at=change.at,
        )


# --- the carrier, called from the worker ------------------------------------------------


def _party(name: str, phone: str, address: str, units: dict) -> Party:
    return Party(
        name=name,
        phone=phone,
        address=address,
        province_code=units.get("province", ""),
        district_code=units.get("district", ""),
        ward_code=units.get("commune", ""),
    )


def carrier_order(shipment: Shipment) -> Order:
    """The CreateOrder request of a shipment."""
    drop = shipment.pickup_mode == PostalPickup.POST_OFFICE
    dossier = shipment.dossier
    what = "Hồ sơ thủ tục hành chính" if shipment.leg == Leg.INBOUND else "Kết quả giải quyết thủ tục hành chính"
    return Order(
        order_code=shipment.order_code,
        sender=_party(shipment.sender_name, shipment.sender_phone, shipment.sender_address, shipment.sender_units),
        receiver=_party(
            shipment.receiver_name, shipment.receiver_phone, shipment.receiver_address, shipment.receiver_units
        ),
        weight_g=shipment.weight_g,
        pickup_type=PICKUP_DROP if drop else PICKUP_COLLECT,
        pickup_post_office_code=shipment.pickup_point.code if drop and shipment.pickup_point else "",
        content=f"{what} {dossier.code} ({dossier.procedure.code})",
        callback_url=settings.VNPOST_CALLBACK_URL,
    )


@dataclass
class _Answer:
    kind: str  # "ok", "refused", "retry"
    detail: str = ""
    item_code: str = ""
    history: tuple[CarrierEvent, ...] = ()


def carrier_request_run(*, job_id: int) -> None:
    """The worker's side of a CarrierRequest: claim it, call the carrier
    (nothing is locked meanwhile), then record the answer if this run still
    owns the job. Down or slow: the job waits and is tried again, the
    shipment stays "waiting to be created"; refused: the shipment says why."""
    job = outbox_claim_when_due(CarrierRequest, job_id)
    if job is None:
        return
    with outbox_heartbeat(job):
        shipment = Shipment.objects.select_related("dossier__procedure", "pickup_point").get(pk=job.shipment_id)
        answer = _carrier_call(job, shipment)
    with transaction.atomic():
        if not outbox_owns(job):
            return
        shipment = Shipment.objects.select_for_update().get(pk=job.shipment_id)
        job.tries += 1
        now = timezone.now()
        if answer.kind == "retry":
            job.last_error = answer.detail[:500]
            outbox_retry_later(job, delay_s=outbox_backoff_s(job.tries), fields=("tries", "last_error"))
            return
        job.finished_at = now
        if answer.kind == "refused":
            job.status, job.last_error, job.message = CarrierRequest.Status.FAILED, answer.detail[:500], answer.detail
            job.save(update_fields=["tries", "status", "last_error", "message", "finished_at"])
            if shipment.status == ShipmentStatus.PENDING:
                shipment.status, shipment.status_at = ShipmentStatus.REFUSED, now
                shipment.carrier_message = answer.detail[:500]
                shipment.save(update_fields=["status", "status_at", "carrier_message"])
                TrackingEvent.objects.create(
                    shipment=shipment,
                    status=ShipmentStatus.REFUSED,
                    occurred_at=now,
                    recorded_at=now,
                    source=TrackingSource.CARRIER,
                    note=answer.detail[:500],
                )
            return
        job.status = CarrierRequest.Status.DONE
        job.save(update_fields=["tries", "status", "finished_at"])
        if answer.item_code:
            _tracking_number_set(shipment, answer.item_code, at=now)
        for event in answer.history:
            _carrier_event_apply(shipment, event, now=now)


def _carrier_call(job: CarrierRequest, shipment: Shipment) -> _Answer:
    client = vnpost_client()
    try:
        if job.kind == "get_order":
            _status, history = client.get_order(shipment.tracking_number or "")
            return _Answer("ok", history=tuple(history))
        created = client.create_order(carrier_order(shipment))
        return _Answer("ok", item_code=created.item_code)
    except CarrierRefused as refused:
        return _Answer("refused", detail=str(refused))
    except CarrierUnavailable as down:
        return _Answer("retry", detail=str(down))


def _tracking_number_set(shipment: Shipment, item_code: str, *, at: dt.datetime) -> None:
    """The carrier's ItemCode for a locked shipment (from CreateOrder, or
    from a callback that came before CreateOrder's answer). Set once."""
    if shipment.tracking_number:
        if shipment.tracking_number != item_code:
            logger.warning(
                "postal: %s already has %s; the carrier now says %s", shipment, shipment.tracking_number, item_code
            )
        return
    shipment.tracking_number = item_code
    changed = ["tracking_number"]
    if shipment.status == ShipmentStatus.PENDING:
        shipment.status, shipment.status_at = ShipmentStatus.CREATED, at
        changed += ["status", "status_at"]
    shipment.save(update_fields=changed)
    TrackingEvent.objects.create(
        shipment=shipment, status=ShipmentStatus.CREATED, occurred_at=at, recorded_at=at, source=TrackingSource.CARRIER
    )
    dossier_record_event(
        dossier_id=shipment.dossier_id, action="shipment_created", note=_note(shipment), actor_name=CARRIER_NAME, at=at
    )


def _note(shipment: Shipment) -> str:
    leg = "gửi hồ sơ / dossier" if shipment.leg == Leg.INBOUND else "trả kết quả / result"
    number = shipment.tracking_number or shipment.order_code
    return f"Mã bưu gửi / Tracking: {number} ({leg})"


# --- applying what happened to a parcel -----------------------------------------------


def _office(code: str) -> ServicePoint | None:
    if not code:
        return None
    return ServicePoint.objects.filter(code=code, kind=ServicePointKind.POST_OFFICE).first()


def _carrier_event_apply(shipment: Shipment, event: CarrierEvent, *, now: dt.datetime) -> str:
    """A carrier report on a locked shipment: its CallbackOutcome."""
    row = _tracking_apply(
        shipment,
        status=event.status,
        occurred_at=event.occurred_at,
        source=TrackingSource.CARRIER,
        carrier_event_id=event.event_id,
        post_office=_office(event.post_office_code),
        note=event.note,
        now=now,
    )
    if row is None:
        return CallbackOutcome.DUPLICATE
    return CallbackOutcome.APPLIED if row.moved else CallbackOutcome.HISTORY


def _tracking_apply(
    shipment: Shipment,
    *,
    status: str,
    occurred_at: dt.datetime,
    source: str,
    now: dt.datetime,
    carrier_event_id: str | None = None,
    post_office: ServicePoint | None = None,
    note: str = "",
    actor=None,
    postal_worker: str = "",
) -> TrackingEvent | None:
    """Adds one step to a locked shipment's history and moves the shipment
    if the step is the latest thing that happened to it. None when the
    carrier already reported this event (nothing changes)."""
    if carrier_event_id and TrackingEvent.objects.filter(shipment=shipment, carrier_event_id=carrier_event_id).exists():
        return None
    row = TrackingEvent.objects.create(
        shipment=shipment,
        status=status,
        occurred_at=occurred_at,
        recorded_at=now,
        source=source,
        carrier_event_id=carrier_event_id,
        post_office=post_office,
        note=note[:500],
        actor=actor,
        postal_worker=postal_worker[:150],
    )
    changed: set[str] = set()
    # Milestones hold whatever order the reports came in.
    if status == ShipmentStatus.PICKED_UP and (shipment.picked_up_at is None or occurred_at < shipment.picked_up_at):
        shipment.picked_up_at = occurred_at
        changed.add("picked_up_at")
    if status == ShipmentStatus.DELIVERY_FAILED:
        shipment.failed_attempts += 1
        changed.add("failed_attempts")
    if status == ShipmentStatus.DELIVERED and shipment.delivered_at is None:
        shipment.delivered_at = occurred_at
        changed.add("delivered_at")
    if source == TrackingSource.DESK and shipment.leg == Leg.INBOUND and status == ShipmentStatus.DELIVERED:
        shipment.desk_received_at = occurred_at
        changed.add("desk_received_at")
    # The current state: the latest thing that happened, never undone by news
    # of something earlier, and final once delivered or returned.
    # Our own bookkeeping (waiting, created) gives way to any news of the
    # parcel itself, whatever the clocks say.
    latest = shipment.status in _BOOKKEEPING or (occurred_at, _RANK.get(status, 0)) >= (
        shipment.status_at,
        _RANK.get(shipment.status, 0),
    )
    # The desk tells of its own hand-over, perhaps after the carrier told of
    # later ones: it never takes the parcel back a step.
    if source == TrackingSource.DESK and _RANK.get(status, 0) < _RANK.get(shipment.status, 0):
        latest = False
    row.moved = not shipment.is_final and latest
    if row.moved:
        shipment.status, shipment.status_at = status, occurred_at
        changed |= {"status", "status_at"}
        if post_office is not None:
            shipment.last_point = post_office
            changed.add("last_point")
    if changed:
        shipment.save(update_fields=sorted(changed))
    _dossier_step(shipment, row)
    if row.moved and status == ShipmentStatus.DELIVERED and shipment.leg == Leg.OUTBOUND:
        _result_returned(shipment, at=occurred_at)
    return row


def _dossier_step(shipment: Shipment, row: TrackingEvent) -> None:
    """The hand-over a tracking step stands for, on the dossier's timeline:
    once per shipment for the hand-overs, once per report for a failed
    attempt; at the time it happened, by whoever reported it."""
    action = {
        ShipmentStatus.PICKED_UP: "shipment_picked_up",
        ShipmentStatus.DELIVERY_FAILED: "shipment_failed",
        ShipmentStatus.DELIVERED: "shipment_handed_to_desk" if shipment.leg == Leg.INBOUND else "shipment_delivered",
        ShipmentStatus.RETURNED: "shipment_returned",
    }.get(row.status)
    if action is None:
        return
    if action in _ONCE and _steps_recorded(shipment, row.status):
        return
    note = _note(shipment)
    if row.postal_worker:
        note += f"; nhân viên bưu điện / postal worker: {row.postal_worker}"
    if row.note:
        note += f"; {row.note}"
    event = dossier_record_event(
        dossier_id=shipment.dossier_id,
        action=action,
        note=note,
        acting_user=row.actor,
        actor_name=None if row.actor else CARRIER_NAME,
        at=row.occurred_at,
    )
    TrackingEvent.objects.filter(pk=row.pk).update(dossier_event_id=event.pk)


def _steps_recorded(shipment: Shipment, status: str) -> bool:
    return TrackingEvent.objects.filter(shipment=shipment, status=status, dossier_event_id__isnull=False).exists()


def _result_returned(shipment: Shipment, *, at: dt.datetime) -> None:
    """Decision 45/2016: the post returns the result on the agency's behalf;
    the dossier is finished on the day it was delivered."""
    try:
        with transaction.atomic():
            dossier_transition_by_system(
                dossier_id=shipment.dossier_id, action="return_result", actor_name=CARRIER_NAME, at=at
            )
    except TransitionNotAllowed:
        # Returned some other way meanwhile (handed over at the desk): the
        # delivery stays on the timeline, the dossier as it is.
        logger.info("postal: %s delivered, but dossier %s was no longer waiting for it", shipment, shipment.dossier_id)


# --- the carrier's signed callbacks ---------------------------------------------------


@dataclass(frozen=True)
class CallbackResult:
    outcome: str
    order_code: str
    status: str


def carrier_callback_receive(*, body: bytes, timestamp: str | None, signature: str | None) -> CallbackResult:
    """One status callback (postal/signing.py): believed only with a valid
    signature over a timestamp within VNPOST_CALLBACK_MAX_SKEW_S of our
    clock, and never twice (a replay is refused). A report of an event
    already applied is kept and answered as a duplicate; one about something
    that happened before the parcel's current state is kept in its history.
    CallbackRefused for anything not believed or not readable: nothing is
    written then."""
    now = timezone.now()
    if not timestamp or not timestamp.strip().isdecimal():
        raise CallbackRefused(401, "X-VNPost-Timestamp", "Thiếu dấu thời gian.", "The timestamp header is missing.")
    signed_at = int(timestamp.strip())
    if abs(now.timestamp() - signed_at) > settings.VNPOST_CALLBACK_MAX_SKEW_S:
        raise CallbackRefused(
            401,
            "X-VNPost-Timestamp",
            "Dấu thời gian quá cũ hoặc ở tương lai.",
            "The timestamp is too old or in the future.",
        )
    if not signature or not callback_signature_valid(
        secret=settings.VNPOST_CALLBACK_SECRET,
        customer_code=settings.VNPOST_CUSTOMER_CODE,
        timestamp=signed_at,
        body=body,
        signature=signature,
    ):
        raise CallbackRefused(401, "X-VNPost-Signature", "Chữ ký không hợp lệ.", "The signature is not valid.")
    try:
        data = json.loads(body)
        event = carrier_event(data)
    except ValueError as bad:
        field = bad.field if isinstance(bad, BadCarrierEvent) else "body"
        raise CallbackRefused(400, field, f"Không đọc được: {bad}", f"Unreadable: {bad}") from bad
    item_code = data.get("ItemCode") if isinstance(data.get("ItemCode"), str) else ""
    order_code = data.get("OrderCode") if isinstance(data.get("OrderCode"), str) else ""
    signature = signature.strip().lower()
    try:
        with transaction.atomic():
            shipment = _shipment_reported(item_code=item_code, order_code=order_code)
            # After the lock: an identical request running at the same time waits, then finds this one.
            if CarrierCallback.objects.filter(signature=signature).exists():
                raise _replay()
            if shipment is None:
                outcome = CallbackOutcome.UNKNOWN
            else:
                if not shipment.tracking_number and item_code:
                    # The answer to CreateOrder was lost (a timeout); its callbacks name it.
                    _tracking_number_set(shipment, item_code, at=now)
                outcome = _carrier_event_apply(shipment, event, now=now)
            CarrierCallback.objects.create(
                received_at=now,
                signed_at=signed_at,
                signature=signature,
                event_id=event.event_id,
                item_code=item_code[:20],
                order_code=order_code[:60],
                status=event.status,
                occurred_at=event.occurred_at,
                body=data,
                outcome=outcome,
                shipment_id=shipment.pk if shipment else None,
            )
    except IntegrityError as race:
        # The same request twice at once, about a parcel nobody locks (unknown).
        raise _replay() from race
    return CallbackResult(outcome=outcome, order_code=shipment.order_code if shipment else "", status=event.status)


def _replay() -> CallbackRefused:
    return CallbackRefused(
        409,
        "X-VNPost-Signature",
        "Yêu cầu này đã được nhận (gửi lại).",
        "This request was already received (a replay).",
    )


def _shipment_reported(*, item_code: str, order_code: str) -> Shipment | None:
    """The shipment a report names, locked: by tracking number, or by our
    order code when the tracking number is not known here yet."""
    shipments = Shipment.objects.select_for_update()
    found = shipments.filter(tracking_number=item_code).first() if item_code else None
    if found is None and order_code:
        found = shipments.filter(order_code=order_code).first()
    return found


# --- the desk's hand-overs --------------------------------------------------------------

MAX_POSTAL_WORKER = 150
# The hand-overs the desk records: the step on the parcel's history, and its note.
_DESK_STEPS = {
    "receive_at_desk": (ShipmentStatus.DELIVERED, "Bộ phận một cửa đã nhận / received at the desk"),
    "hand_to_post": (ShipmentStatus.PICKED_UP, "Bộ phận một cửa giao cho bưu điện / handed over at the desk"),
}


def shipment_act(
    *, order_code: str, action: str, acting_user, postal_worker: str = "", at: dt.datetime | None = None
) -> Shipment:
    """A desk officer of the point that received the dossier records a
    hand-over with the postal worker: `receive_at_desk` (an inbound parcel
    brought to the desk), `hand_to_post` (the result given to the postal
    worker); or asks the carrier again: `refresh` (GetOrder), `retry` (a
    creation refused or given up). Shipment.DoesNotExist when the caller may
    not see it (404); PostalInputError (400); PostalActionRefused (409)."""
    if action not in SHIPMENT_ACTIONS:
        listed = ", ".join(SHIPMENT_ACTIONS)
        raise PostalInputError.one(
            "action", f"Thao tác không hợp lệ; dùng: {listed}.", f"Unknown action; use one of: {listed}."
        )
    postal_worker = (postal_worker or "").strip()
    if len(postal_worker) > MAX_POSTAL_WORKER:
        raise PostalInputError.one(
            "postal_worker", f"Tối đa {MAX_POSTAL_WORKER} ký tự.", f"At most {MAX_POSTAL_WORKER} characters."
        )
    actor = actor_for(acting_user)
    now = timezone.now()
    at = at or now
    with transaction.atomic():
        shipment = shipment_get_for_user(user=acting_user, order_code=order_code, for_update=True)
        allowed = shipment_actions(actor, shipment)
        if action not in allowed:
            raise PostalActionRefused(_refusal_text(action, shipment, actor), allowed=allowed)
        if action in _DESK_STEPS:
            status, note = _DESK_STEPS[action]
            _tracking_apply(
                shipment,
                status=status,
                occurred_at=at,
                source=TrackingSource.DESK,
                now=now,
                actor=acting_user,
                postal_worker=postal_worker,
                note=note,
            )
        elif action == "refresh":
            _carrier_request_queue(shipment, kind="get_order")
        else:  # retry
            if shipment.status == ShipmentStatus.REFUSED:
                shipment.status, shipment.status_at, shipment.carrier_message = ShipmentStatus.PENDING, now, ""
                shipment.save(update_fields=["status", "status_at", "carrier_message"])
            _carrier_request_queue(shipment, kind="create_order")
    shipment.refresh_from_db()
    return shipment


def _refusal_text(action: str, shipment: Shipment, actor) -> str:
    if actor.role != Role.DESK_OFFICER:
        return message(
            "Chỉ cán bộ một cửa của điểm tiếp nhận hồ sơ ghi nhận giao nhận với bưu điện.",
            "Only desk officers of the point that received the dossier record hand-overs with the post.",
        )
    label = ShipmentStatus(shipment.status).label
    return message(
        f"Không thể '{action}' khi bưu gửi ở trạng thái '{label.split(' / ')[0]}'.",
        f"'{action}' is not possible while the parcel is '{label.split(' / ')[-1]}'.",
    )


# --- the post office counter: a dossier and its fee at once --------------------------------

COUNTER_FEE_METHODS = ("cash", "pos")


@dataclass(frozen=True)
class CounterFee:
    method: str
    amount_vnd: int
    reference: str = ""


class CounterFeeRefused(Exception):
    """The payment service refused the fee (409: nothing open to pay, or not
    this clerk's to collect); the whole counter submission is rolled back, so
    no dossier is received without its fee."""


def counter_fee_checked(*, procedure_code: str, method, amount_vnd, reference) -> CounterFee | None:
    """The fee a post-office clerk says they collected: required (cash or
    POS, an amount in VND) when the procedure charges one, refused when it
    charges none; whether the amount is what the dossier owes is the payment
    service's rule. PostalInputError naming `fee_method`, `fee_amount_vnd` or
    `fee_reference`; None for a procedure without a fee (or an unknown one,
    which the submission itself refuses)."""
    from dossiers.models import Procedure

    procedure = Procedure.objects.filter(code=procedure_code, is_active=True).only("fee_vnd").first()
    given = any(value not in (None, "") for value in (method, amount_vnd, reference))
    if procedure is None or not procedure.fee_vnd:
        if procedure is not None and given:
            raise PostalInputError.one("fee_method", "Thủ tục này không thu phí.", "This procedure charges no fee.")
        return None
    errors: dict[str, list[str]] = {}
    if method not in COUNTER_FEE_METHODS:
        errors["fee_method"] = [message("Cần cash hoặc pos.", "Required: cash or pos.")]
    if isinstance(amount_vnd, bool) or not isinstance(amount_vnd, int) or amount_vnd <= 0:
        errors["fee_amount_vnd"] = [
            message("Cần số tiền đã thu (số nguyên, đồng).", "Required: the amount collected (whole VND).")
        ]
    if not isinstance(reference or "", str) or len(reference or "") > 60:
        errors["fee_reference"] = [message("Tối đa 60 ký tự.", "At most 60 characters.")]
    if errors:
        raise PostalInputError(errors)
    return CounterFee(method=method, amount_vnd=amount_vnd, reference=reference or "")


def counter_submit(*, submission, acting_user, idempotency_key: str | None, fee: CounterFee | None):
    """A post-office clerk receives a dossier over the counter (channel 3)
    and records the fee they collected, in one transaction: both or neither.
    -> (dossier, created), as dossiers.services.dossier_submit."""
    from dossiers.services import dossier_submit

    with transaction.atomic():
        dossier, created = dossier_submit(
            submission=submission, acting_user=acting_user, idempotency_key=idempotency_key
        )
        if created and fee is not None:
            counter_fee_record(dossier_id=dossier.pk, fee=fee, acting_user=acting_user)
    return dossier, created


def counter_fee_record(*, dossier_id: int, fee: CounterFee, acting_user) -> None:
    """The one place the counter's fee is recorded: by the payments service,
    against the fee request it opened when the dossier was received (in the
    same transaction). Its refusals come back as PostalInputError naming
    `fee_method`, `fee_amount_vnd` (not the amount owed) or `fee_reference`,
    and as CounterFeeRefused."""
    try:
        payment_record_counter(
            dossier_id=dossier_id,
            method=fee.method,
            amount_vnd=fee.amount_vnd,
            acting_user=acting_user,
            reference=fee.reference,
        )
    except PaymentInputError as bad:
        raise PostalInputError({f"fee_{name}": texts for name, texts in bad.errors.items()}) from bad
    except (PaymentConflict, PaymentForbidden) as refused:
        raise CounterFeeRefused(str(refused)) from refused
