"""Reads of shipments with the access rules, one door each.

Who sees a shipment: whoever sees its dossier (`dossiers_visible_to`): the
applicant (their own parcels only), desk officers of the point that
received it, the agency handling it or owning the procedure,
administrators. Anyone else gets a 404, as for a missing one.

Who acts on it (`shipment_actions`): desk officers who may act on the
dossier (`dossier_may_act`: those of the point that received it) record
the hand-overs with the postal worker and ask the carrier again; nobody
else does."""

from django.db import connections, router
from django.db.models import Prefetch, QuerySet

from dossiers.selectors import dossier_may_act, dossiers_visible_to
from gisportal.accounts.models import Role
from gisportal.accounts.selectors import Actor, actor_for
from gisportal.loaded import rows_known
from gisportal.prepared import prepared_cursor

from .models import CarrierRequest, Leg, Shipment, ShipmentStatus, TrackingEvent

SHIPMENT_ACTIONS = ("receive_at_desk", "hand_to_post", "refresh", "retry")
_RECEIVABLE = frozenset(
    {
        ShipmentStatus.CREATED,
        ShipmentStatus.PICKED_UP,
        ShipmentStatus.IN_TRANSIT,
        ShipmentStatus.DELIVERY_FAILED,
        ShipmentStatus.DELIVERED,
    }
)


def shipments_visible_to(actor: Actor) -> QuerySet[Shipment]:
    return Shipment.objects.filter(dossier__in=dossiers_visible_to(actor).values("pk"))


def _with_history(shipments: QuerySet[Shipment]) -> QuerySet[Shipment]:
    return shipments.select_related(
        "dossier__procedure", "dossier__receiving_point", "pickup_point", "last_point", "citizen_commune"
    ).prefetch_related(
        Prefetch("tracking", queryset=TrackingEvent.objects.select_related("post_office", "actor__profile")),
        Prefetch("carrier_requests", queryset=CarrierRequest.objects.order_by("-created_at", "-id")),
    )


def shipment_get_for_user(*, user, order_code: str, for_update: bool = False) -> Shipment:
    """The shipment `order_code` if `user` may see it; Shipment.DoesNotExist otherwise."""
    shipments = shipments_visible_to(actor_for(user))
    if for_update:
        return shipments.select_for_update(of=("self",)).select_related("dossier").get(order_code=order_code)
    return _with_history(shipments).get(order_code=order_code)


def shipment_list(
    *, user, status: str | None = None, leg: str | None = None, dossier_code: str | None = None, to_act: bool = False
) -> QuerySet[Shipment]:
    """The caller's shipments (a citizen's own, an office's), newest first;
    `to_act`: those waiting for a hand-over at the desk."""
    shipments = shipments_visible_to(actor_for(user))
    if status:
        shipments = shipments.filter(status=status)
    if leg:
        shipments = shipments.filter(leg=leg)
    if dossier_code:
        shipments = shipments.filter(dossier__code=dossier_code)
    if to_act:
        inbound = shipments.filter(leg=Leg.INBOUND, desk_received_at__isnull=True, status__in=_RECEIVABLE)
        outbound = shipments.filter(leg=Leg.OUTBOUND, status=ShipmentStatus.CREATED)  # not yet collected
        shipments = inbound | outbound
    return _with_history(shipments).order_by("-created_at", "-id")


def shipments_of_dossier(dossier_id: int) -> list[Shipment]:
    """A dossier's shipments with their history, for those who already may
    see the dossier (the dossier page). Most dossiers have none: a narrow
    check first spares them the wide query (plain SQL: compiling the ORM's
    EXISTS cost more than PostgreSQL's answer)."""
    with connections[router.db_for_read(Shipment)].cursor() as cursor:
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {Shipment._meta.db_table} WHERE dossier_id = %s)", [dossier_id])
        if not cursor.fetchone()[0]:
            return []
    shipments = Shipment.objects.filter(dossier_id=dossier_id)
    return list(_with_history(shipments).order_by("created_at", "id"))


# What the public look-up shows of a shipment (postal.serializers.shipment_public,
# views.lookup_section): its leg and status, and each tracking step's status and time.
# In each model's order of fields, as Model.from_db takes them.
_PUBLIC_SHIPMENT_COLUMNS = tuple(
    field.attname
    for field in Shipment._meta.concrete_fields
    if field.attname in {"id", "dossier_id", "order_code", "leg", "status", "status_at", "created_at"}
)
_PUBLIC_TRACKING_COLUMNS = tuple(
    field.attname
    for field in TrackingEvent._meta.concrete_fields
    if field.attname in {"id", "shipment_id", "status", "occurred_at"}
)
_PUBLIC_SHIPMENTS_SQL = f"""
    SELECT {", ".join(f"s.{column}" for column in _PUBLIC_SHIPMENT_COLUMNS)},
           {", ".join(f"t.{column}" for column in _PUBLIC_TRACKING_COLUMNS)}
    FROM {Shipment._meta.db_table} s
    LEFT JOIN {TrackingEvent._meta.db_table} t ON t.shipment_id = s.id
    WHERE s.dossier_id = %s
    ORDER BY s.created_at, s.id, t.occurred_at, t.id
"""


def shipments_public_of_dossier(dossier_id: int) -> list[Shipment]:
    """A dossier's shipments as the public look-up shows them, in one plain
    statement (most dossiers have none: it is then as cheap as an EXISTS):
    the ORM's compiling of `shipments_of_dossier`'s joins and two prefetches
    took most of a look-up of a dossier sent by post. Each shipment comes
    back in the models' orders with only the columns of
    `_PUBLIC_SHIPMENT_COLUMNS` loaded (reading another queries it, as after
    `only()`), its tracking steps (their status and time) in
    `shipment.tracking.all()`."""
    db = router.db_for_read(Shipment)
    with prepared_cursor(using=db) as cursor:
        cursor.execute(_PUBLIC_SHIPMENTS_SQL, [dossier_id])
        rows = cursor.fetchall()
    width = len(_PUBLIC_SHIPMENT_COLUMNS)
    shipments: dict[int, tuple[Shipment, list[TrackingEvent]]] = {}
    for row in rows:
        if row[0] not in shipments:
            shipments[row[0]] = (Shipment.from_db(db, _PUBLIC_SHIPMENT_COLUMNS, row[:width]), [])
        shipment, tracking = shipments[row[0]]
        if row[width] is not None:  # a shipment with no step yet has one row, of NULLs on the right
            step = TrackingEvent.from_db(db, _PUBLIC_TRACKING_COLUMNS, row[width:])
            step._state.fields_cache["shipment"] = shipment
            tracking.append(step)
    for shipment, tracking in shipments.values():
        rows_known(shipment, tracking=tracking)
    return [shipment for shipment, _ in shipments.values()]


def shipment_actions(actor: Actor, shipment: Shipment) -> list[str]:
    """What `actor` may do with `shipment` now (SHIPMENT_ACTIONS)."""
    if actor.role != Role.DESK_OFFICER or not dossier_may_act(actor, shipment.dossier):
        return []
    actions = []
    if shipment.leg == Leg.INBOUND and shipment.desk_received_at is None and shipment.status in _RECEIVABLE:
        actions.append("receive_at_desk")
    if (
        shipment.leg == Leg.OUTBOUND
        and shipment.tracking_number
        and not shipment.is_final
        and not _desk_handed(shipment)
    ):
        # Also after the carrier reported the pickup: the desk records its own side.
        actions.append("hand_to_post")
    if shipment.tracking_number and not shipment.is_final:
        actions.append("refresh")
    if shipment.status == ShipmentStatus.REFUSED or (
        shipment.status == ShipmentStatus.PENDING and not _creation_waiting(shipment)
    ):
        actions.append("retry")
    return actions


def _desk_handed(shipment: Shipment) -> bool:
    return any(t.status == ShipmentStatus.PICKED_UP and t.source == "desk" for t in shipment.tracking.all())


def _creation_waiting(shipment: Shipment) -> bool:
    """Whether a CreateOrder job is still queued or running for it."""
    return any(
        job.kind == "create_order" and job.status in (CarrierRequest.Status.QUEUED, CarrierRequest.Status.RUNNING)
        for job in shipment.carrier_requests.all()
    )


def shipment_creation_state(shipment: Shipment) -> dict | None:
    """For a shipment still waiting to be created: how many calls were
    made, the last error, and when the next try is due."""
    if shipment.status != ShipmentStatus.PENDING:
        return None
    job = next((j for j in shipment.carrier_requests.all() if j.kind == "create_order"), None)
    if job is None:
        return None
    return {
        "tries": job.tries,
        "last_error": job.last_error,
        "next_try_at": job.queued_at if job.status == CarrierRequest.Status.QUEUED else None,
        "job_status": job.status,
    }
