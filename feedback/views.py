"""Feedback pages: the public map, the report form, a report's public page,
and the officials' worklist and handling page. Pages parse, call one service
or selector and render; the map and the form draw from the same API as
other clients (feedback/apis.py)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_POST

from dossiers.models import Dossier
from dossiers.views import _in_language
from gisportal.accounts.models import Agency
from gisportal.accounts.selectors import actor_for
from gisportal.api import default_period
from gisportal.downloads import download_response

from . import consent
from .errors import FeedbackInputError, FeedbackNotAllowed, RatingNotAllowed
from .models import Feedback, Photo, Status
from .photos import photo_open
from .selectors import (
    POINTS_FROM_ZOOM,
    categories_active,
    feedback_actions,
    feedback_get_for_user,
    feedback_public_get,
    feedback_worklist,
)
from .serializers import feedback_public
from .services import dossier_rate, feedback_transition

PAGE_SIZE = 25
_TONES = {
    Status.NEEDS_INFO: "waiting",
    Status.ANSWERED: "done",
    Status.PUBLISHED: "done",
    Status.CLOSED: "closed",
    Status.REFUSED: "refused",
}


def _status(status: str) -> dict:
    return {"key": status, "label": _in_language(Status(status).label), "tone": _TONES.get(status, "open")}


def _categories() -> list[dict]:
    english = get_language() == "en"
    return [{"code": c.code, "label": (c.name_en if english and c.name_en else c.name)} for c in categories_active()]


def _api() -> dict:
    return {
        "map": reverse("api-feedback-map"),
        "submit": reverse("api-feedback-list"),
        "phoneCode": reverse("api-feedback-phone-code"),
        "nearby": reverse("api-feedback-nearby"),
        "places": reverse("api-feedback-places"),
        "adminUnits": reverse("admin-unit-list"),
        "page": reverse("feedback-page", args=["ID"]),
        "follow": reverse("api-feedback-follow", args=["ID"]),
        "rating": reverse("api-feedback-rating", args=["ID"]),
    }


@ensure_csrf_cookie
def feedback_map_page(request):
    """Public: clustered reports, filtered by category, status and period."""
    start, end = default_period(timezone.localdate())
    config = {
        "language": get_language(),
        "api": _api(),
        "pointsFromZoom": POINTS_FROM_ZOOM,
        "on": timezone.localdate().isoformat(),
        "statuses": {s: _in_language(Status(s).label) for s in Status.values},
        "categories": {c["code"]: c["label"] for c in _categories()},
        "strings": {
            "network": _("The server could not be reached. Check your connection and try again."),
            "loading": _("Loading reports…"),
            "shown": _("{count} reports in view."),
            "cluster": _("{count} reports here. Zoom in to see them."),
            "received": _("Received on"),
            "open": _("Open the report"),
            "failed": _("The reports could not be loaded: {message}"),
            "approximate": _("Approximate place (about 100 m) until the answer is published."),
        },
    }
    context = {
        "config": config,
        "categories": _categories(),
        "statuses": [_status(s) for s in Status.values],
        "period_from": start.isoformat(),
        "period_to": end.isoformat(),
    }
    return render(request, "feedback/map.html", context)


@ensure_csrf_cookie
def feedback_new_page(request):
    """The report form: a place (map tap, the device's position or an address),
    a category, the text, photos, the consent, and for a visitor without an
    account a phone checked with a code. The script posts to the API."""
    vi, en = consent.consent_text()
    signed_in = request.user.is_authenticated
    config = {
        "language": get_language(),
        "api": _api(),
        "signedIn": signed_in,
        "on": timezone.localdate().isoformat(),
        "maxPhotos": settings.FEEDBACK_PHOTO_MAX_COUNT,
        "strings": {
            "chosen": _("Place chosen: {lat}, {lon}"),
            "locating": _("Finding your location…"),
            "geoFailed": _("Your location could not be found. Tap the map or type an address instead."),
            "searching": _("Looking for the commune…"),
            "placeFound": _("Found: {name}. The report will be placed at the centre of this commune."),
            "placeNone": _("No commune or ward of the province in this address. Tap the map instead."),
            "nearbyTitle": _("Already reported nearby in the last 30 days — follow one instead of reporting again:"),
            "nearbyNone": _("Nothing of this kind has been reported within 50 m in the last 30 days."),
            "follow": _("Follow this report"),
            "following": _("You follow this report."),
            "needPhone": _("Enter your phone number and the code sent to it to follow without an account."),
            "codeSent": _("A code was sent by SMS to this number. It is valid for 10 minutes."),
            "sending": _("Sending…"),
            "distance": _("{distance} m away"),
            "failed": _("The request failed: {message}"),
            "network": _("The server could not be reached. Check your connection and try again."),
        },
    }
    context = {
        "config": config,
        "categories": _categories(),
        "consent_text": en if get_language() == "en" else vi,
        "consent_version": consent.CURRENT_VERSION,
        "signed_in": signed_in,
        "max_photos": settings.FEEDBACK_PHOTO_MAX_COUNT,
        "max_mb": settings.FEEDBACK_PHOTO_MAX_BYTES // (1024 * 1024),
    }
    return render(request, "feedback/new.html", context)


@ensure_csrf_cookie
def feedback_page(request, public_id: str):
    """Public: a report's status, dates, and once published its text, photos
    and answer. Its reporter may rate the answer; anyone may follow it."""
    report = feedback_public_get(public_id=public_id)
    if report is None:
        raise Http404
    actor = actor_for(request.user)
    own = actor.user_id is not None and report.reporter_user_id == actor.user_id
    sees_all = _seen_in_full(request.user, public_id)
    rated = hasattr(report, "rating")
    context = {
        "report": report,
        "public": feedback_public(report),
        "status": _status(report.status),
        "category_label": _in_language(f"{report.category.name} / {report.category.name_en}")
        if report.category.name_en
        else report.category.name,
        "own": own,
        "may_manage": sees_all and actor.is_official,
        "may_rate": (own or (not request.user.is_authenticated and bool(report.reporter_phone)))
        and report.is_public
        and not rated,
        "rated": rated,
        "config": {
            "api": _api(),
            "id": report.public_id,
            "signedIn": request.user.is_authenticated,
            "language": get_language(),
            "strings": {
                "network": _("The server could not be reached. Check your connection and try again."),
                "failed": _("The request failed: {message}"),
            },
        },
    }
    return render(request, "feedback/report.html", context)


def _seen_in_full(user, public_id: str) -> bool:
    try:
        feedback_get_for_user(user=user, public_id=public_id)
    except Feedback.DoesNotExist:
        return False
    return True


def feedback_photo_public(request, public_id: str, photo_id: int):
    """The public copy of a photo (no metadata) of a published report."""
    report = feedback_public_get(public_id=public_id)
    photo = Photo.objects.filter(feedback=report, pk=photo_id).first() if report is not None else None
    if photo is None or not report.is_public:
        raise Http404
    try:
        handle = photo_open("public", photo.public_stored)
    except FileNotFoundError as missing:
        raise Http404 from missing
    return download_response(handle, filename=f"{report.public_id}-{photo.pk}.jpg", content_type="image/jpeg")


@login_required
def feedback_worklist_page(request):
    """Officials: their agency's reports, with late and due-soon filters."""
    actor = actor_for(request.user)
    if not actor.is_official:
        raise Http404
    status = request.GET.get("status") if request.GET.get("status") in Status.values else None
    due = request.GET.get("due") if request.GET.get("due") in ("late", "soon") else None
    reports = feedback_worklist(user=request.user, status=status, due=due)
    page = Paginator(reports, PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    rows = [
        {
            "report": r,
            "status": _status(r.status),
            "is_late": r.due_at is not None and r.due_at < now,
            "url": reverse("feedback-manage", args=[r.public_id]),
        }
        for r in page
    ]
    context = {
        "rows": rows,
        "page": page,
        "statuses": [_status(s) for s in Status.values],
        "status": status,
        "due": due,
        "filter_query": urlencode({key: value for key, value in (("status", status), ("due", due)) if value}),
    }
    return render(request, "feedback/worklist.html", context)


@login_required
def feedback_manage_page(request, public_id: str):
    """Officials (and the reporter): the whole report and the moves they may make."""
    try:
        report = feedback_get_for_user(user=request.user, public_id=public_id)
    except Feedback.DoesNotExist as missing:
        raise Http404 from missing
    actor = actor_for(request.user)
    error = ""
    if request.method == "POST":
        try:
            feedback_transition_from_form(request, public_id)
        except FeedbackInputError as problems:
            error = " ".join(m for messages_ in problems.errors.values() for m in messages_)
        except FeedbackNotAllowed as refused:
            error = str(refused)
        else:
            messages.success(request, _("Done."))
            return redirect("feedback-manage", public_id=public_id)
    report = feedback_get_for_user(user=request.user, public_id=public_id)
    context = {
        "report": report,
        "status": _status(report.status),
        "actions": [
            {
                "action": t.action,
                "label": _in_language(t.label),
                "note_required": t.note_required,
                "needs_agency": t.needs_agency,
            }
            for t in feedback_actions(actor, report)
        ],
        "events": list(report.events.select_related("actor_agency", "to_agency")),
        "photos": list(report.photos.all()),
        "agencies": Agency.objects.exclude(pk=report.agency_id).order_by("kind", "name").only("code", "name"),
        "error": error,
        "handling": actor.is_official and actor.agency_id == report.agency_id,
    }
    return render(request, "feedback/manage.html", context, status=400 if error else 200)


def feedback_transition_from_form(request, public_id: str) -> None:
    feedback_transition(
        public_id=public_id,
        action=request.POST.get("action", ""),
        acting_user=request.user,
        note=request.POST.get("note", ""),
        agency_code=request.POST.get("agency") or None,
        public_text=request.POST.get("public_text") or None,
    )


@login_required
@require_POST
def dossier_rating_page(request, code: str):
    """The rating form of the dossier page (`sections.RATING_SECTION`)."""
    raw = (request.POST.get("score") or "").strip()
    score = int(raw) if raw.isdecimal() and len(raw) < 3 else None
    try:
        dossier_rate(code=code, score=score, comment=request.POST.get("comment", ""), acting_user=request.user)
    except Dossier.DoesNotExist as missing:
        raise Http404 from missing
    except FeedbackInputError as problems:
        messages.error(request, " ".join(m for texts in problems.errors.values() for m in texts))
    except RatingNotAllowed as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, _("Thank you: your rating was recorded."))
    return redirect("dossier-page", code=code)
