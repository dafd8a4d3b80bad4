"""Output shapes of shipments, per audience: those who may see the dossier
(`shipment_detail`: names, phones and addresses as sent to the carrier),
and the public lookup (`shipment_public`: the leg, status steps and dates
only)."""

from django.urls import reverse

from dossiers.serializers import iso_local
from gisportal.accounts.selectors import Actor

from .models import Leg, Shipment, ShipmentStatus, TrackingEvent
from .selectors import shipment_actions, shipment_creation_state

ACTION_LABELS = {
    "receive_at_desk": "Ghi nhận đã nhận hồ sơ từ bưu điện / Record the dossier received from the post",
    "hand_to_post": "Giao kết quả cho nhân viên bưu điện / Hand the result to the postal worker",
    "refresh": "Hỏi lại hành trình từ bưu điện / Ask the carrier for the history",
    "retry": "Gửi lại yêu cầu tạo vận đơn / Order the shipment again",
}


def _ref(obj, *fields):
    return None if obj is None else {f: getattr(obj, f) for f in fields}


def tracking_public(row: TrackingEvent) -> dict:
    return {"status": row.status, "status_label": ShipmentStatus(row.status).label, "at": iso_local(row.occurred_at)}


def shipment_public(shipment: Shipment) -> dict:
    """What anyone with the dossier code may see: no names, phones,
    addresses, nor the tracking number (which opens the carrier's own
    tracking, with the receiver's name)."""
    return {
        "leg": shipment.leg,
        "leg_label": Leg(shipment.leg).label,
        "status": shipment.status,
        "status_label": ShipmentStatus(shipment.status).label,
        "status_at": iso_local(shipment.status_at),
        "history": [tracking_public(row) for row in shipment.tracking.all()],
    }


def _party(name: str, phone: str, address: str, units: dict) -> dict:
    return {"name": name, "phone": phone, "address": address, "units": units}


def shipment_detail(shipment: Shipment, *, actor: Actor) -> dict:
    state = shipment_creation_state(shipment)
    return {
        "order_code": shipment.order_code,
        "tracking_number": shipment.tracking_number,
        "dossier": shipment.dossier.code,
        "leg": shipment.leg,
        "leg_label": Leg(shipment.leg).label,
        "status": shipment.status,
        "status_label": ShipmentStatus(shipment.status).label,
        "status_at": iso_local(shipment.status_at),
        "created_at": iso_local(shipment.created_at),
        "pickup_mode": shipment.pickup_mode,
        "pickup_point": _ref(shipment.pickup_point, "code", "name"),
        "last_point": _ref(shipment.last_point, "code", "name"),
        "sender": _party(shipment.sender_name, shipment.sender_phone, shipment.sender_address, shipment.sender_units),
        "receiver": _party(
            shipment.receiver_name, shipment.receiver_phone, shipment.receiver_address, shipment.receiver_units
        ),
        "weight_g": shipment.weight_g,
        "picked_up_at": iso_local(shipment.picked_up_at),
        "delivered_at": iso_local(shipment.delivered_at),
        "desk_received_at": iso_local(shipment.desk_received_at),
        "failed_attempts": shipment.failed_attempts,
        "carrier_message": shipment.carrier_message,
        "creation": None
        if state is None
        else {
            "tries": state["tries"],
            "last_error": state["last_error"],
            "next_try_at": iso_local(state["next_try_at"]),
            "job_status": state["job_status"],
        },
        "history": [
            {
                **tracking_public(row),
                "source": row.source,
                "post_office": _ref(row.post_office, "code", "name"),
                "note": row.note,
                "postal_worker": row.postal_worker,
                "recorded_at": iso_local(row.recorded_at),
            }
            for row in shipment.tracking.all()
        ],
        "allowed_actions": [
            {"action": action, "label": ACTION_LABELS[action]} for action in shipment_actions(actor, shipment)
        ],
        "handover_slip": reverse("api-postal-shipment-slip", args=[shipment.order_code]),
        "url": reverse("api-postal-shipment-detail", args=[shipment.order_code]),
    }
