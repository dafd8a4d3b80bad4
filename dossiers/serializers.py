"""Output shapes of dossiers, per audience: the people who may see the
dossier (`dossier_detail`), and the public lookup (no personal data)."""

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from gisportal.accounts.selectors import Actor

from .extensions import dossier_sections
from .models import Channel, Dossier, DossierEvent, Status, mask_id_number
from .selectors import dossier_actions

SLIP_KINDS = ("receipt", "supplement", "refusal", "apology", "control")


def iso_local(value):
    return timezone.localtime(value).isoformat() if value else None


def _ref(obj, *fields):
    if obj is None:
        return None
    return {f: getattr(obj, f) for f in fields}


def event_public(event: DossierEvent) -> dict:
    """A step of the timeline without names of people."""
    return {
        "action": event.action,
        "from_status": event.from_status or None,
        "to_status": event.to_status,
        "to_status_label": Status(event.to_status).label,
        "at": iso_local(event.at),
    }


def event_detail(event: DossierEvent) -> dict:
    return {
        **event_public(event),
        "actor": event.actor_name,
        "actor_role": event.actor_role,
        "actor_agency": event.actor_agency.code if event.actor_agency else None,
        "actor_point": event.actor_point.code if event.actor_point else None,
        "to_agency": event.to_agency.code if event.to_agency else None,
        "note": event.note,
    }


def _point(point) -> dict | None:
    return {"type": "Point", "coordinates": [point.x, point.y]} if point else None


def lookup_url(code: str) -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/") + reverse("dossier-lookup-page") + "?code=" + code


def dossier_summary(dossier: Dossier) -> dict:
    return {
        "code": dossier.code,
        "procedure": _ref(dossier.procedure, "code", "name"),
        "status": dossier.status,
        "status_label": Status(dossier.status).label,
        "channel": dossier.channel,
        "channel_label": Channel(dossier.channel).label,
        "receiving_point": _ref(dossier.receiving_point, "code", "name"),
        "agency": _ref(dossier.agency, "code", "name"),
        "applicant_name": dossier.applicant_name,
        "received_at": iso_local(dossier.received_at),
        "due_at": iso_local(dossier.due_at),
        "appointment_at": iso_local(dossier.appointment_at),
        "finished_at": iso_local(dossier.finished_at),
        "timeliness": dossier.timeliness or None,
        "is_late_now": dossier.is_open and dossier.due_at < timezone.now(),
        "url": reverse("api-dossier-detail", args=[dossier.code]),
    }


def dossier_detail(dossier: Dossier, *, actor: Actor) -> dict:
    own = actor.user_id is not None and dossier.applicant_id == actor.user_id
    events = list(dossier.events.select_related("actor_agency", "actor_point", "to_agency"))
    return {
        **dossier_summary(dossier),
        "applicant": {
            "name": dossier.applicant_name,
            # Shown in full to the applicant only (Decree 13/2023, Law 91/2025).
            "id_number": dossier.applicant_id_number if own else mask_id_number(dossier.applicant_id_number),
            "phone": dossier.applicant_phone,
            "email": dossier.applicant_email,
            "address": dossier.applicant_address,
            "commune": _ref(dossier.applicant_commune, "code", "name"),
        },
        "location": _point(dossier.location),
        "result_delivery": dossier.result_delivery,
        "delivery_address": dossier.delivery_address,
        "delivery_location": _point(dossier.delivery_location),
        "delivery_commune": _ref(dossier.delivery_commune, "code", "name"),
        "postal_pickup": dossier.postal_pickup or None,
        "pickup_address": dossier.pickup_address,
        "pickup_point": _ref(dossier.pickup_point, "code", "name"),
        "fee_vnd": dossier.fee_vnd,
        "supplement_count": dossier.supplement_count,
        "paused_at": iso_local(dossier.paused_at),
        "returned_at": iso_local(dossier.returned_at),
        "processing_working_days": dossier.processing_working_days,
        "note": dossier.note,
        "events": [event_detail(e) for e in events],
        "attachments": [
            {
                "id": a.pk,
                "name": a.original_name,
                "content_type": a.content_type,
                "size": a.size,
                "url": reverse("api-dossier-attachment", args=[dossier.code, a.pk]),
            }
            for a in dossier.attachments.all()
        ],
        "allowed_actions": [
            {"action": t.action, "label": t.label, "note_required": t.note_required, "needs_agency": t.needs_agency}
            for t in dossier_actions(actor, dossier)
        ],
        "slips": {kind: reverse("api-dossier-slip", args=[dossier.code, kind]) for kind in SLIP_KINDS},
        "lookup_url": lookup_url(dossier.code),
        # Sections of other apps (payments, post), dossiers.extensions.
        **{section.key: section.detail(dossier, actor=actor) for section in dossier_sections()},
    }
