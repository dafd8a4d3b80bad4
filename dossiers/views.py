"""Web pages of dossiers for citizens and officials: submit, my dossiers,
the worklist, one dossier with its actions.

Pages parse the form, call one service or selector and render; the rules
(who may see what, which move is allowed, what a submission needs) live in
`selectors`, `workflow` and `services`, exactly as for the API."""

import logging
import secrets

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from gisportal.accounts.models import Agency, Role
from gisportal.accounts.selectors import Actor, actor_for
from gisportal.api import message
from layers.models import ServicePoint

from .attachments import ALLOWED_DESCRIPTION, attachments_check
from .calendar import working_calendar
from .errors import DossierInputError, IdempotencyConflict, TransitionNotAllowed
from .extensions import dossier_sections, step_label
from .forms import SubmitForm
from .models import Channel, Dossier, Procedure, Status
from .selectors import dossier_actions, dossier_get_for_user, dossier_may_apologize, worklist
from .serializers import dossier_detail
from .services import Submission, dossier_apologize, dossier_submit, dossier_transition, submission_channel

audit = logging.getLogger("gisportal.audit")

PAGE_SIZE = 25
ATTACHMENT_ACCEPT = ".pdf,.png,.jpg,.jpeg,.docx"
# Badge colour groups of the status labels.
_STATUS_TONES = {
    Status.WAITING_SUPPLEMENT: "waiting",
    Status.APPROVED: "done",
    Status.RESULT_READY: "done",
    Status.RESULT_RETURNED: "done",
    Status.REFUSED: "refused",
    Status.WITHDRAWN: "closed",
    Status.STOPPED: "closed",
}


def _in_language(text: str) -> str:
    """Labels of the domain are written "Tiếng Việt / English": the page's half."""
    vietnamese, separator, english = str(text).partition(" / ")
    if not separator:
        return str(text)
    return english if get_language() == "en" else vietnamese


def _status(status: str) -> dict:
    return {"key": status, "label": _in_language(Status(status).label), "tone": _STATUS_TONES.get(status, "open")}


def _actions(actor: Actor, dossier: Dossier) -> list[dict]:
    return [
        {
            "action": t.action,
            "label": _in_language(t.label),
            "note_required": t.note_required,
            "needs_agency": t.needs_agency,
        }
        for t in dossier_actions(actor, dossier)
    ]


def _row(dossier: Dossier, *, actor: Actor, now) -> dict:
    """What the lists show of one dossier."""
    return {
        "code": dossier.code,
        "procedure": dossier.procedure,
        "applicant_name": dossier.applicant_name,
        "status": _status(dossier.status),
        "received_at": dossier.received_at,
        "due_at": dossier.due_at,
        "appointment_at": dossier.appointment_at,
        "is_late": dossier.is_open and dossier.due_at < now,
        "timeliness": _in_language(dossier.get_timeliness_display()) if dossier.timeliness else "",
        "actions": _actions(actor, dossier) if actor.is_official else [],
        "url": reverse("dossier-page", args=[dossier.code]),
    }


def _safe_next(request, default: str) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False):
        return target
    return default


# --- Submit ----------------------------------------------------------------------


def _applicant_initial(user, actor: Actor) -> dict:
    """A citizen submits for themself: their profile fills the form."""
    if actor.role != Role.CITIZEN:
        return {}
    profile = getattr(user, "profile", None)
    return {
        "applicant_name": (profile.full_name if profile else "") or user.get_full_name(),
        "applicant_id_number": profile.id_number if profile else "",
        "applicant_phone": profile.phone if profile else "",
        "applicant_email": user.email,
    }


def _submit_config(procedure: Procedure, actor: Actor) -> dict:
    return {
        "language": get_language(),
        "api": {
            "adminUnits": reverse("admin-unit-list"),
            "nearest": reverse("service-point-nearest"),
            "match": reverse("admin-unit-match"),
        },
        "on": timezone.localdate().isoformat(),
        "choosePoint": actor.role == Role.CITIZEN,
        "strings": {
            "loading": _("Loading the commune map…"),
            "mapFailed": _("The map could not be loaded; choose the commune and the receiving point in the lists."),
            "searching": _("Looking for the nearest commune desk…"),
            "nearest": _("Nearest commune desk: {name} ({distance}). It is selected below; you may choose another."),
            "nearestNone": _("No commune desk was found near this point."),
            "chosen": _("Location chosen: {lat}, {lon}"),
            "sending": _("Sending…"),
            "deliveryChosen": _("The result goes to this point ({lat}, {lon}), in {commune}."),
            "deliveryMatched": _("Address matched to {commune}. Click the map to put the exact place, if you like."),
            "deliveryNoMatch": _("No commune of the current map was recognised in this address. Choose it below."),
            "deliveryOutside": _("This point is outside the province."),
            "postOffices": _("Nearest post offices: {list}."),
            "locating": _("Finding your location…"),
            "geoFailed": _("Your location could not be found. Click the map instead."),
            "pickupProposed": _("Nearest post office proposed: {name} ({distance})."),
        },
    }


_APPLICANT_FIELDS = (
    "applicant_name",
    "applicant_id_number",
    "applicant_phone",
    "applicant_email",
    "applicant_address",
    "applicant_commune",
)


def _render_submit(
    request, *, procedure, form, actor, point, channel, status=200, replayed_conflict=False, attachment_errors=()
):
    context = {
        "procedure": procedure,
        "required_documents": procedure.required_documents or [],
        "forms": list(procedure.forms.all()),
        "form": form,
        "applicant_fields": [form[name] for name in _APPLICANT_FIELDS],
        "is_citizen": actor.role == Role.CITIZEN,
        "desk_point": point,
        "channel_label": _in_language(Channel(channel).label) if channel else "",
        "accept": ATTACHMENT_ACCEPT,
        "allowed_types": ALLOWED_DESCRIPTION,
        "max_files": settings.DOSSIER_ATTACHMENT_MAX_COUNT,
        "attachment_errors": list(attachment_errors),
        "files_lost": request.method == "POST" and bool(request.FILES.getlist("attachments")),
        "replayed_conflict": replayed_conflict,
        "submit_config": _submit_config(procedure, actor),
    }
    return render(request, "dossiers/submit.html", context, status=status)


def _submission(procedure: Procedure, data: dict, *, channel: int, files) -> Submission:
    # The page keeps every postal field on screen; only the chosen options count.
    by_post = (data.get("result_delivery") or "desk") == "post"
    pickup = data.get("postal_pickup") or ""
    return Submission(
        procedure_code=procedure.code,
        applicant_name=data.get("applicant_name") or "",
        applicant_id_number=(data.get("applicant_id_number") or "").strip(),
        applicant_address=data.get("applicant_address") or "",
        applicant_phone=data.get("applicant_phone") or "",
        applicant_email=data.get("applicant_email") or "",
        applicant_commune_code=data.get("applicant_commune") or "",
        channel=channel,
        receiving_point_code=data.get("receiving_point") or "",
        lon=data.get("lon"),
        lat=data.get("lat"),
        result_delivery=data.get("result_delivery") or "desk",
        delivery_address=data.get("delivery_address") or "",
        delivery_lon=data.get("delivery_lon") if by_post else None,
        delivery_lat=data.get("delivery_lat") if by_post else None,
        delivery_commune_code=(data.get("delivery_commune") or "") if by_post else "",
        postal_pickup=pickup,
        pickup_address=(data.get("pickup_address") or "") if pickup == "home" else "",
        pickup_point_code=(data.get("pickup_point") or "") if pickup == "post_office" else "",
        note=data.get("note") or "",
        files=files,
    )


@login_required
@sensitive_post_parameters("applicant_id_number")
def dossier_submit_page(request, code: str):
    """GET: the form. POST: one dossier through `dossier_submit`; a second
    POST of the same form (same token) lands on the same dossier."""
    procedure = get_object_or_404(Procedure.objects.select_related("agency", "sector"), code=code, is_active=True)
    actor = actor_for(request.user)
    point = ServicePoint.objects.filter(pk=actor.service_point_id).first() if actor.service_point_id else None
    channel = submission_channel(actor, point)
    options = {
        "postal_result_allowed": procedure.postal_result_allowed,
        "choose_point": actor.role == Role.CITIZEN,
        # Only an online dossier sends its paper copy by post (Decision 45/2016).
        "postal_pickup_allowed": channel == Channel.ONLINE and procedure.postal_submission_allowed,
    }

    def page(form: SubmitForm, **extra):
        return _render_submit(
            request, procedure=procedure, form=form, actor=actor, point=point, channel=channel, **extra
        )

    if channel is None:
        return page(SubmitForm(**options), status=403)
    if request.method != "POST":
        initial = {**_applicant_initial(request.user, actor), "form_token": secrets.token_urlsafe(24)}
        return page(SubmitForm(initial=initial, **options))

    form = SubmitForm(request.POST, **options)
    checked, problems = attachments_check(request.FILES.getlist("attachments"))
    if not form.is_valid() or problems:
        return page(form, status=400, attachment_errors=problems)
    submission = _submission(procedure, form.cleaned_data, channel=channel, files=checked)
    token = form.cleaned_data.get("form_token") or None
    try:
        dossier, created = dossier_submit(submission=submission, acting_user=request.user, idempotency_key=token)
    except DossierInputError as refused:
        form.add_service_errors(refused.errors)
        return page(form, status=400, attachment_errors=refused.errors.get("attachments", []))
    except IdempotencyConflict:
        # This form was already sent with other content: a new token lets
        # the person send the changed form as a new dossier on purpose.
        data = request.POST.copy()
        data["form_token"] = secrets.token_urlsafe(24)
        form = SubmitForm(data, **options)
        form.is_valid()
        return page(form, status=422, replayed_conflict=True)
    audit.info("dossier submitted code=%s user=%s created=%s", dossier.code, request.user.pk, created)
    messages.success(
        request,
        _("Dossier %(code)s has been received.") % {"code": dossier.code}
        if created
        else _("This form was already sent: dossier %(code)s.") % {"code": dossier.code},
        extra_tags="dossier-submitted",
    )
    return redirect("dossier-page", code=dossier.code)


# --- Lists -------------------------------------------------------------------------


def _page_of(request, dossiers):
    return Paginator(dossiers, PAGE_SIZE).get_page(request.GET.get("page"))


@login_required
def my_dossiers(request):
    """A citizen's own dossiers; officials have their worklist instead."""
    actor = actor_for(request.user)
    if actor.is_official:
        return redirect("worklist")
    page = _page_of(request, worklist(user=request.user))
    now = timezone.now()
    profile = getattr(request.user, "profile", None)
    context = {
        "page": page,
        "rows": [_row(d, actor=actor, now=now) for d in page.object_list],
        "profile": profile,
        "masked_id": ("*" * 8 + profile.id_number[-4:]) if profile and profile.id_number else "",
    }
    return render(request, "dossiers/my_dossiers.html", context)


_DUE_FILTERS = ("soon", "late")


@login_required
def worklist_page(request):
    """The dossiers of the official's office, with filters and the moves
    their role may make on each."""
    actor = actor_for(request.user)
    if not actor.is_official:
        return render(request, "dossiers/worklist.html", {"forbidden": True}, status=403)
    status = request.GET.get("status") or None
    due = request.GET.get("due") or None
    bad_filter = (status is not None and status not in Status.values) or (due is not None and due not in _DUE_FILTERS)
    if bad_filter:
        status = status if status in Status.values else None
        due = due if due in _DUE_FILTERS else None
    dossiers = worklist(user=request.user, status=status, due=due)
    page = _page_of(request, dossiers)
    now = timezone.now()
    everything = worklist(user=request.user)
    by_status = dict(everything.order_by().values_list("status").annotate(n=Count("id")))
    counts = {
        "all": sum(by_status.values()),
        "late": worklist(user=request.user, due="late", now=now).count(),
        "soon": worklist(user=request.user, due="soon", now=now).count(),
    }
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "rows": [_row(d, actor=actor, now=now) for d in page.object_list],
        "status": status or "",
        "due": due or "",
        "bad_filter": bad_filter,
        "statuses": [{**_status(s), "count": by_status.get(s, 0)} for s in Status.values],
        "counts": counts,
        "filter_query": query.urlencode(),
        "next": request.get_full_path(),
    }
    return render(request, "dossiers/worklist.html", context, status=400 if bad_filter else 200)


# --- One dossier ----------------------------------------------------------------------


def _visible_or_404(user, code: str) -> Dossier:
    try:
        return dossier_get_for_user(user=user, code=code)
    except Dossier.DoesNotExist as missing:
        raise Http404 from missing


def _moment(value: str | None):
    return timezone.localtime(parse_datetime(value)) if value else None


# Slips that mean something only once the dossier went that way.
def _slips(dossier: Dossier, detail: dict, *, has_apology: bool) -> list[dict]:
    shown = {
        "receipt": True,
        "supplement": dossier.supplement_count > 0,
        "refusal": dossier.status == Status.REFUSED,
        "apology": has_apology,
        "control": True,
    }
    labels = {
        "receipt": _("Receipt and appointment slip"),
        "supplement": _("Request to supplement"),
        "refusal": _("Refusal slip"),
        "apology": _("Apology and new appointment"),
        "control": _("Process control slip"),
    }
    return [{"kind": kind, "label": labels[kind], "url": url} for kind, url in detail["slips"].items() if shown[kind]]


def _render_dossier(request, dossier: Dossier, *, status: int = 200, refused: str = "", errors=None, posted=None):
    actor = actor_for(request.user)
    detail = dossier_detail(dossier, actor=actor)
    apologies = list(dossier.apologies.all())
    needs_agency = any(a["needs_agency"] for a in detail["allowed_actions"])
    now = timezone.now()
    context = {
        "dossier": dossier,
        "detail": detail,
        "status": _status(dossier.status),
        "channel_label": _in_language(detail["channel_label"]),
        "delivery_label": _in_language(dossier.get_result_delivery_display()),
        "timeliness": _in_language(dossier.get_timeliness_display()) if dossier.timeliness else "",
        "is_late": dossier.is_open and dossier.due_at < now,
        "events": [
            {
                **event,
                "step": _in_language(step_label(event["action"])),
                "at": _moment(event["at"]),
                "to_status": _status(event["to_status"]),
                "from_status": _status(event["from_status"]) if event["from_status"] else None,
            }
            for event in detail["events"]
        ],
        "actions": [{**action, "label": _in_language(action["label"])} for action in detail["allowed_actions"]],
        "agencies": list(Agency.objects.exclude(pk=dossier.agency_id).only("code", "name")) if needs_agency else [],
        "apologies": apologies,
        "can_apologize": dossier_may_apologize(actor, dossier, at=now),
        "slips": _slips(dossier, detail, has_apology=bool(apologies)),
        "lookup_page": reverse("dossier-lookup-page") + "?code=" + dossier.code,
        "refused": refused,
        "errors": errors or {},
        "posted": posted or {},
        "is_official": actor.is_official,
        # Panels of other apps (dossiers.extensions), with their part of the API answer.
        "sections": [
            {"template": section.template, "data": detail.get(section.key)}
            for section in dossier_sections()
            if section.template and detail.get(section.key) is not None
        ],
    }
    return render(request, "dossiers/dossier_detail.html", context, status=status)


@login_required
def dossier_page(request, code: str):
    dossier = _visible_or_404(request.user, code)
    # Who looked at whose personal data (Decree 13/2023): the audit log.
    audit.info("dossier viewed code=%s user=%s", dossier.code, request.user.pk)
    return _render_dossier(request, dossier)


@login_required
@require_POST
def dossier_action(request, code: str):
    """One move of the workflow (`dossier_transition`): 409 when the table
    does not allow it, 400 when the note or agency is missing."""
    action = request.POST.get("action", "")
    note = request.POST.get("note", "")
    agency = request.POST.get("agency") or None
    posted = {"action": action, "note": note, "agency": agency or ""}
    try:
        dossier = dossier_transition(code=code, action=action, acting_user=request.user, note=note, agency_code=agency)
    except Dossier.DoesNotExist as missing:
        raise Http404 from missing
    except TransitionNotAllowed as refused:
        dossier = _visible_or_404(request.user, code)
        return _render_dossier(request, dossier, status=409, refused=str(refused), posted=posted)
    except DossierInputError as problem:
        dossier = _visible_or_404(request.user, code)
        return _render_dossier(request, dossier, status=400, errors=problem.errors, posted=posted)
    messages.success(
        request,
        _("%(code)s: done. Status now: %(status)s.")
        % {"code": dossier.code, "status": _in_language(Status(dossier.status).label)},
    )
    return redirect(_safe_next(request, reverse("dossier-page", args=[dossier.code])))


@login_required
@require_POST
def dossier_apology(request, code: str):
    """Apology and new date for a dossier that went late while open."""
    reason = request.POST.get("reason", "")
    raw_date = request.POST.get("new_due_at", "")
    posted = {"reason": reason, "new_due_at": raw_date}
    try:
        day = parse_date(raw_date) if raw_date else None
    except ValueError:
        day = None
    try:
        if day is None:
            raise DossierInputError.one("new_due_at", "Ngày không hợp lệ.", "Invalid date.")
        dossier_apologize(code=code, acting_user=request.user, reason=reason, new_due_at=working_calendar().end_of(day))
    except Dossier.DoesNotExist as missing:
        raise Http404 from missing
    except TransitionNotAllowed as refused:
        dossier = _visible_or_404(request.user, code)
        text = (
            str(refused)
            if refused.read_only
            else message(
                "Chỉ xin lỗi, hẹn lại cho hồ sơ đang xử lý đã quá hạn.",
                "Only an open dossier past its due date gets an apology.",
            )
        )
        return _render_dossier(request, dossier, status=409, refused=text, posted=posted)
    except DossierInputError as problem:
        dossier = _visible_or_404(request.user, code)
        return _render_dossier(request, dossier, status=400, errors=problem.errors, posted=posted)
    messages.success(request, _("The apology and the new date have been recorded."))
    return redirect("dossier-page", code=code)
