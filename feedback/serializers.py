"""Output shapes of feedback, per audience.

- `feedback_public`: what anyone may read. No reporter's name, phone,
  e-mail, account or typed address; no original photo. The text (as the
  agency approved it), the answer and the photos' public copies (re-encoded
  without EXIF) only once the answer is published; until then the position
  is snapped to a grid of about 100 m (`selectors.public_position`).
- `feedback_detail`: for those who see the report in full (the reporter,
  officials of the agencies that had it, administrators); the phone is
  masked except for officials of the agency handling it and the reporter.
- `feedback_summary`: a worklist row."""

from django.urls import reverse
from django.utils import timezone

from dossiers.serializers import iso_local
from gisportal.accounts.phone import phone_mask
from gisportal.accounts.selectors import Actor

from . import consent
from .models import Category, Feedback, FeedbackEvent
from .models import Status as S
from .selectors import feedback_actions, public_position


def category_view(category: Category) -> dict:
    return {
        "code": category.code,
        "name": category.name,
        "name_en": category.name_en,
        "description": category.description,
        "group": category.group,
        "scope": category.scope,
        "sector": category.sector or None,
    }


def consent_view() -> dict:
    vi, en = consent.consent_text()
    return {"purpose": consent.PURPOSE, "version": consent.CURRENT_VERSION, "text_vi": vi, "text_en": en}


def _ref(obj, *fields):
    return None if obj is None else {f: getattr(obj, f) for f in fields}


def public_url(report: Feedback) -> str:
    return reverse("feedback-page", args=[report.public_id])


def public_photo_urls(report: Feedback) -> list[str]:
    if not report.is_public:
        return []
    return [reverse("feedback-photo-public", args=[report.public_id, p.pk]) for p in report.photos.all()]


def feedback_public(report: Feedback) -> dict:
    published = report.is_public
    lon, lat = public_position(report.location.x, report.location.y, exact=published)
    return {
        "id": report.public_id,
        "category": _ref(report.category, "code", "name", "name_en"),
        "status": report.status,
        "status_label": S(report.status).label,
        "status_note": report.status_note or None,
        "commune": _ref(report.commune, "code", "name", "full_name"),
        "agency": _ref(report.agency, "code", "name"),
        "channel": report.channel,
        "location": {"type": "Point", "coordinates": [lon, lat]},
        "location_exact": published,
        "received_at": iso_local(report.received_at),
        "answer_due_at": iso_local(report.answer_due_at),
        "answered_at": iso_local(report.answered_at),
        "published_at": iso_local(report.published_at),
        "closed_at": iso_local(report.closed_at),
        "updated_at": iso_local(report.updated_at),
        "is_late_now": report.due_at is not None and report.due_at < timezone.now(),
        "text": report.public_text if published else None,
        "answer": report.answer if published else None,
        "photos": public_photo_urls(report),
        "followers": report.followers,
        "url": public_url(report),
    }


def feedback_summary(report: Feedback) -> dict:
    return {
        "id": report.public_id,
        "category": _ref(report.category, "code", "name"),
        "status": report.status,
        "status_label": S(report.status).label,
        "agency": _ref(report.agency, "code", "name"),
        "commune": _ref(report.commune, "code", "name"),
        "received_at": iso_local(report.received_at),
        "due_at": iso_local(report.due_at),
        "is_late_now": report.due_at is not None and report.due_at < timezone.now(),
        "url": reverse("api-feedback-detail", args=[report.public_id]),
    }


def _event(event: FeedbackEvent) -> dict:
    return {
        "action": event.action,
        "from_status": event.from_status or None,
        "to_status": event.to_status,
        "at": iso_local(event.at),
        "actor": event.actor_name,
        "actor_role": event.actor_role or None,
        "actor_agency": event.actor_agency.code if event.actor_agency else None,
        "from_agency": event.from_agency.code if event.from_agency else None,
        "to_agency": event.to_agency.code if event.to_agency else None,
        "note": event.note,
    }


def feedback_detail(report: Feedback, *, actor: Actor) -> dict:
    own = actor.user_id is not None and report.reporter_user_id == actor.user_id
    handling = actor.is_official and actor.agency_id == report.agency_id
    events = report.events.select_related("actor_agency", "from_agency", "to_agency")
    consent_row = getattr(report, "consent", None)
    rating = getattr(report, "rating", None)
    return {
        **feedback_public(report),
        "location": {"type": "Point", "coordinates": [report.location.x, report.location.y]},
        "location_source": report.location_source,
        "location_public": feedback_public(report)["location"],
        "text": report.text,
        "public_text": report.public_text or None,
        "answer": report.answer or None,
        "address": report.address_text or None,
        "reporter": {
            "name": report.reporter_name or None,
            "phone": (report.reporter_phone if own or handling else phone_mask(report.reporter_phone))
            if report.reporter_phone
            else None,
            "phone_verified": report.reporter_phone_verified,
            "email": report.reporter_email or None,
            "signed_in": report.reporter_user_id is not None,
        },
        "consent": (
            {
                "purpose": consent_row.purpose,
                "version": consent_row.text_version,
                "given_at": iso_local(consent_row.given_at),
                "given_via": consent_row.given_via or None,
            }
            if consent_row
            else None
        ),
        "deadlines": {
            "refuse": iso_local(report.refuse_due_at),
            "request_info": iso_local(report.info_due_at),
            "answer": iso_local(report.answer_due_at),
            "publish": iso_local(report.publish_due_at),
            "current": iso_local(report.due_at),
        },
        "paused_working_days": report.paused_working_days,
        "external_id": report.external_id or None,
        "media_url": report.media_url or None,
        "photos": [
            {
                "id": p.pk,
                "name": p.original_name,
                "content_type": p.original_type,
                "size": p.original_size,
                "width": p.width,
                "height": p.height,
                "original_url": reverse("api-feedback-photo", args=[report.public_id, p.pk]),
            }
            for p in report.photos.all()
        ],
        "rating": {"score": rating.score, "comment": rating.comment} if rating else None,
        "events": [_event(e) for e in events],
        "allowed_actions": [
            {"action": t.action, "label": t.label, "note_required": t.note_required, "needs_agency": t.needs_agency}
            for t in feedback_actions(actor, report)
        ],
        "public_url": public_url(report),
    }
