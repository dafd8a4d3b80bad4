"""Output shapes of dossiers, per audience: the people who may see the
dossier (`dossier_detail`), and the public lookup (no personal data)."""

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from gisportal.accounts.selectors import Actor

from .components import components_received, eform_answers_masked
from .extensions import dossier_sections
from .handling_serializers import handling_detail
from .models import Channel, Dossier, DossierEvent, Status, mask_id_number
from .process import current_step, dossier_step_plan
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
        "submitted_at": iso_local(dossier.submitted_at),
        "received_at": iso_local(dossier.received_at),
        "due_at": iso_local(dossier.due_at),
        "appointment_at": iso_local(dossier.appointment_at),
        "finished_at": iso_local(dossier.finished_at),
        "timeliness": dossier.timeliness or None,
        "is_late_now": dossier.is_late_at(timezone.now()),
        "url": reverse("api-dossier-detail", args=[dossier.code]),
    }


def dossier_detail(dossier: Dossier, *, actor: Actor) -> dict:
    own = actor.user_id is not None and dossier.applicant_id == actor.user_id
    events = list(
        # What the submission wrote when it handed its events over (services._events_known).
        dossier.events.all()
        if "events" in getattr(dossier, "_prefetched_objects_cache", {})
        else dossier.events.select_related("actor_agency", "actor_point", "to_agency")
    )
    attachments = list(dossier.attachments.all())
    eforms = list(dossier.eforms.all())
    steps = dossier_step_plan(dossier, events=events)
    step_now = current_step(steps)
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
                "component": a.component_code or None,
            }
            for a in attachments
        ],
        # Dossier components really received (dossiers.components) and the
        # e-forms filled in, each printable as a PDF.
        "components": [
            {"code": c.code or None, "name": c.name, "files": c.files, "eform": c.eform}
            for c in components_received(dossier, attachments=attachments, eforms=eforms)
        ],
        "forms": [
            {
                "code": f.component_code,
                "title": f.title,
                # Citizen IDs in full to the applicant only, as the dossier's own.
                "answers": f.answers if own else eform_answers_masked(f.form_schema, f.answers),
                "pdf": reverse("api-dossier-eform", args=[dossier.code, f.component_code]),
            }
            for f in eforms
        ],
        "allowed_actions": [
            {"action": t.action, "label": t.label, "note_required": t.note_required, "needs_agency": t.needs_agency}
            for t in dossier_actions(actor, dossier)
        ],
        # The procedure's declared process (dossiers.process): each step's
        # internal due time; [] and null without a declaration. The legal
        # deadline stays `due_at`.
        "process": [
            {
                "number": step.number,
                "action": step.action,
                "label": step.label,
                "roles": list(step.roles),
                "days": step.days,
                "due_at": iso_local(step.due_at),
                "done_at": iso_local(step.done_at),
                "current": step.current,
            }
            for step in steps
        ],
        "step_due_at": iso_local(step_now.due_at) if step_now else None,
        "slips": {kind: reverse("api-dossier-slip", args=[dossier.code, kind]) for kind in SLIP_KINDS},
        "lookup_url": lookup_url(dossier.code),
        # After submission (issue #15): `assignment`, `result`, `supplement`.
        **handling_detail(dossier, actor=actor, events=events),
        # Sections of other apps (payments, post), dossiers.extensions.
        **{section.key: section.detail(dossier, actor=actor) for section in dossier_sections()},
    }
