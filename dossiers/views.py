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
from django.contrib.gis.db.models import Extent
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from gisportal.accounts.models import Agency, Role
from gisportal.accounts.selectors import Actor, actor_for
from gisportal.api import message
from gisportal.messages import in_language
from layers.models import ServicePoint
from layers.selectors import units_valid_on

from .attachments import ALLOWED_DESCRIPTION, attachments_check
from .calendar import working_calendar
from .component_pages import component_slots, components_from_post
from .components import ComponentsRefused
from .drafts import dossier_submit_closing_draft
from .errors import DossierInputError, IdempotencyConflict, TransitionNotAllowed
from .extensions import dossier_sections, step_label
from .forms import SubmitForm
from .handling_selectors import dossiers_assigned_to_me
from .handling_services import ASSIGN_ACTION, RESULT_ACTION
from .models import LIFE_CYCLE, Channel, Dossier, Procedure, Status, mask_id_number
from .process import ROLE_LABELS, current_step, dossier_step_plan
from .selectors import dossier_actions, dossier_get_for_user, dossier_may_apologize, worklist
from .serializers import dossier_detail
from .services import Submission, dossier_apologize, dossier_submit, dossier_transition, submission_channel
from .store_pages import (
    draft_initial,
    draft_page_problems,
    draft_rows,
    draft_slot_data,
    page_documents,
    page_draft,
    page_draft_save,
    submit_page_context,
)
from .workflow import TRANSITIONS
from .worklist_search import SORTS, worklist_order, worklist_search

audit = logging.getLogger("gisportal.audit")

PAGE_SIZE = 25
ATTACHMENT_ACCEPT = ".pdf,.png,.jpg,.jpeg,.docx"
# Badge colour groups of the status labels.
_STATUS_TONES = {
    Status.WAITING_RECEIPT: "waiting",
    Status.WAITING_COMPLETION: "waiting",
    Status.WAITING_SUPPLEMENT: "waiting",
    Status.APPROVED: "done",
    Status.RESULT_READY: "done",
    Status.RESULT_RETURNED: "done",
    Status.REFUSED: "refused",
    Status.WITHDRAWN: "closed",
    Status.STOPPED: "closed",
}


# Labels of the domain are written "Tiếng Việt / English": the page's half,
# through the one helper every page uses (also `|in_language` in templates).
_in_language = in_language


# Workflow moves carry the note an official (or the applicant) typed.
TYPED_NOTE_ACTIONS = frozenset(t.action for t in TRANSITIONS) | {"apologize", ASSIGN_ACTION, RESULT_ACTION}


def _status(status: str) -> dict:
    return {"key": status, "label": _in_language(Status(status).label), "tone": _STATUS_TONES.get(status, "open")}


# Moves that cannot be undone: their forms carry a required "I confirm"
# checkbox, and `dossier_action` checks it too, so the confirmation holds
# without JavaScript (and against an old or hand-made form). The API is for
# programs and takes no confirmation.
CONFIRMED_ACTIONS = frozenset({"approve", "refuse", "withdraw", "stop"})


def _actions(actor: Actor, dossier: Dossier) -> list[dict]:
    return [
        {
            "action": t.action,
            "label": _in_language(t.label),
            "note_required": t.note_required,
            "needs_agency": t.needs_agency,
            "confirm": t.action in CONFIRMED_ACTIONS,
        }
        for t in dossier_actions(actor, dossier)
    ]


def _step_due(dossier: Dossier, calendar) -> dict | None:
    """The step the dossier waits for in its procedure's declared process,
    with its internal due time (dossiers.process); None without one."""
    step = current_step(dossier_step_plan(dossier, calendar=calendar)) if dossier.procedure.process else None
    if step is None or step.due_at is None:
        return None
    return {"label": _in_language(step.label), "due_at": step.due_at}


def _row(dossier: Dossier, *, actor: Actor, now, calendar=None) -> dict:
    """What the lists show of one dossier (officials: with the due time of
    the step it waits for, when its procedure declares a process)."""
    return {
        "code": dossier.code,
        "procedure": dossier.procedure,
        "applicant_name": dossier.applicant_name,
        "status": _status(dossier.status),
        "submitted_at": dossier.submitted_at,
        "received_at": dossier.received_at,
        "due_at": dossier.due_at,
        "appointment_at": dossier.appointment_at,
        "is_late": dossier.is_late_at(now),
        "timeliness": _in_language(dossier.get_timeliness_display()) if dossier.timeliness else "",
        "actions": _actions(actor, dossier) if actor.is_official else [],
        "step": _step_due(dossier, calendar) if actor.is_official and calendar is not None else None,
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


# The map's first view is cached: the communes change once in years.
_START_BOUNDS_SECONDS = 3600


def _start_bounds(commune_code: str) -> list[list[float]] | None:
    """[[south, west], [north, east]] of the applicant's commune when the form
    names one, else of the province (the 2025 communes in force): the submit
    map opens there instead of a fixed zoom around a fixed centre."""
    key = f"submit:start-bounds:{timezone.localdate().isoformat()}:{commune_code}"
    bounds = cache.get(key)
    if bounds is None:
        communes = units_valid_on().filter(level="commune")
        chosen = communes.filter(code=commune_code) if commune_code else communes.none()
        extent = (chosen if commune_code and chosen.exists() else communes).aggregate(box=Extent("geom_simplified"))
        box = extent["box"]
        bounds = [[box[1], box[0]], [box[3], box[2]]] if box else []
        cache.set(key, bounds, _START_BOUNDS_SECONDS)
    return bounds or None


def _submit_config(procedure: Procedure, actor: Actor, commune_code: str = "") -> dict:
    return {
        "language": get_language(),
        "api": {
            "adminUnits": reverse("admin-unit-list"),
            "nearest": reverse("service-point-nearest"),
            "match": reverse("admin-unit-match"),
            "places": reverse("place-search"),
            "desks": reverse("api-procedure-desks", args=[procedure.code]),
        },
        "on": timezone.localdate().isoformat(),
        "choosePoint": actor.role == Role.CITIZEN,
        "startBounds": _start_bounds(commune_code),
        "strings": {
            "loading": _("Loading the commune map…"),
            "mapFailed": _("The map could not be loaded; choose the commune and the receiving point in the lists."),
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
            "searchShort": _("Type at least two letters."),
            "searchNone": _("No commune, ward or service point of this name."),
            "searchFailed": _("The search failed: {message}"),
            "communeChosen": _("{commune} chosen. Tap the map where the address is for a precise place."),
            "pointFound": _("{name}: tap the map where the address is."),
            "geoDenied": _(
                "You refused to share your location. Search the address or tap the map instead; "
                "to use your location, allow it in the browser's site settings."
            ),
            "geoUnsupported": _("This browser cannot share its location. Search the address or tap the map."),
            "geoOutside": _("Your location is outside the province. Search the address or tap the map."),
            "desksLoading": _("Looking for the desks that may receive this procedure…"),
            "desksFailed": _("The desks could not be looked up: {message}"),
            "desksFor": _("Desks that may receive this procedure for an address in {commune}:"),
            "proposed": _("Proposed: {name} ({distance}). It is selected below; you may choose another."),
            "proposedTag": _("proposed"),
            "choose": _("Choose"),
            "dropOff": _("Post office for dropping the paper dossier"),
            "deskNotEligible": _(
                "Warning: {name} may not receive this procedure for an address in {commune}. {reason} "
                "Choose {proposed} instead."
            ),
        },
    }


def _form_commune(form) -> str:
    if "applicant_commune" not in form.fields:
        return ""
    value = form["applicant_commune"].value()
    return value if isinstance(value, str) and len(value) <= 10 else ""


_APPLICANT_FIELDS = (
    "applicant_name",
    "applicant_id_number",
    "applicant_phone",
    "applicant_email",
    "applicant_address",
    "applicant_commune",
)


def _render_submit(
    request,
    *,
    procedure,
    form,
    actor,
    point,
    channel,
    status=200,
    replayed_conflict=False,
    attachment_errors=(),
    components_refused=None,
    component_problems=None,
    draft=None,
):
    posted = request.method == "POST"
    slots = component_slots(
        procedure,
        data=request.POST if posted else (draft_slot_data(draft) if draft else None),
        refused=components_refused,
        problems=component_problems,
        complete=actor.role == Role.CITIZEN,
    )
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
        "files_lost": posted and bool(request.FILES),
        # One upload slot per dossier component, e-forms from their schema.
        "component_slots": slots,
        "component_errors": any(slot.errors or any(f.errors for f in slot.fields) for slot in slots)
        or bool(components_refused),
        # Refusals of no one slot (too many files in all).
        "components_other_errors": [
            text
            for code, texts in (components_refused.components.items() if components_refused else [])
            if code not in {slot.component.code for slot in slots}
            for text in texts
        ],
        "replayed_conflict": replayed_conflict,
        "submit_config": _submit_config(procedure, actor, _form_commune(form)),
        # The document store and drafts (issue #15).
        **submit_page_context(request, slots=slots, draft=draft),
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

    draft = page_draft(request) if channel is not None else None

    def page(form: SubmitForm, **extra):
        return _render_submit(
            request, procedure=procedure, form=form, actor=actor, point=point, channel=channel, draft=draft, **extra
        )

    if channel is None:
        return page(SubmitForm(**options), status=403)
    if request.method != "POST":
        initial = {**_applicant_initial(request.user, actor), "form_token": secrets.token_urlsafe(24)}
        if draft is not None:
            initial.update(draft_initial(draft))
        return page(SubmitForm(initial=initial, **options))

    form = SubmitForm(request.POST, **options)
    if "save_draft" in request.POST:
        try:
            draft = page_draft_save(request, procedure, draft)
        except DossierInputError as refused:
            form.is_valid()
            form.add_service_errors({k: v for k, v in refused.errors.items() if k in form.fields})
            return page(form, status=400, component_problems=draft_page_problems(refused.errors))
        messages.success(
            request,
            _("The draft is saved. It is kept for %(days)s days after it was last saved.")
            % {"days": settings.DOSSIER_DRAFT_DAYS},
            extra_tags="draft-saved",
        )
        return redirect(reverse("dossier-submit", args=[procedure.code]) + f"?draft={draft.pk}")
    checked, problems = attachments_check(request.FILES.getlist("attachments"))
    component_files, eforms, component_problems = components_from_post(procedure, request)
    # Stored documents chosen instead of files (issue #15).
    reused, untagged = page_documents(request, component_problems)
    for code, files in reused.items():
        component_files.setdefault(code, []).extend(files)
    checked += untagged
    if not form.is_valid() or problems or component_problems:
        return page(form, status=400, attachment_errors=problems, component_problems=component_problems)
    submission = _submission(procedure, form.cleaned_data, channel=channel, files=checked)
    submission.component_files, submission.forms = component_files, eforms
    token = form.cleaned_data.get("form_token") or None
    try:
        if draft is not None:
            # Through the same service; the draft is deleted with the dossier's creation.
            dossier, created = dossier_submit_closing_draft(
                draft_id=draft.pk, acting_user=request.user, submission=submission, idempotency_key=token
            )
        else:
            dossier, created = dossier_submit(submission=submission, acting_user=request.user, idempotency_key=token)
    except DossierInputError as refused:
        form.add_service_errors(refused.errors)
        return page(form, status=400, attachment_errors=refused.errors.get("attachments", []))
    except ComponentsRefused as refused:
        return page(form, status=422, components_refused=refused)
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
        (
            _(
                "Dossier %(code)s has been submitted and is waiting for the desk to receive it. "
                "The receipt slip and the deadline come when it is received."
            )
            if dossier.status == Status.WAITING_RECEIPT
            else _("Dossier %(code)s has been received.")
        )
        % {"code": dossier.code}
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
        "drafts": draft_rows(request.user),
        "profile": profile,
        "masked_id": ("*" * 8 + profile.id_number[-4:]) if profile and profile.id_number else "",
    }
    return render(request, "dossiers/my_dossiers.html", context)


_DUE_FILTERS = ("soon", "late")
_SORTS = tuple(key for name in SORTS for key in (name, f"-{name}"))
# A search (dossier code or name, citizen ID) is POSTed, kept in the session
# under a random key, and the list's URL names only that key: the citizen ID
# (and the applicant's name) never reach a URL, a referrer, the history or the
# access log. The last few searches of a session are kept, for back and tabs.
_SEARCHES = "worklist_searches"
_SEARCHES_KEPT = 10


def _search_store(request, *, text: str, id_number: str) -> str:
    key = secrets.token_urlsafe(6)
    searches = {**request.session.get(_SEARCHES, {}), key: {"text": text, "id_number": id_number}}
    request.session[_SEARCHES] = dict(list(searches.items())[-_SEARCHES_KEPT:])
    return key


def _search_form_errors(id_number: str) -> dict:
    if id_number and not (len(id_number) == 12 and id_number.isdigit()):
        text = message("Số CCCD phải gồm đúng 12 chữ số.", "A citizen ID number has exactly 12 digits.")
        return {"id_number": [text]}
    return {}


def _sort_links(query, sort: str) -> dict[str, dict]:
    """One link per sortable column: ascending first, then the other way."""
    links = {}
    for name in SORTS:
        current = "ascending" if sort == name else "descending" if sort == f"-{name}" else ""
        target = query.copy()
        target["sort"] = f"-{name}" if current == "ascending" else name
        target.pop("page", None)
        links[name] = {"url": "?" + target.urlencode(), "state": current}
    return links


@login_required
@sensitive_post_parameters("id_number", "q")
def worklist_page(request):
    """The dossiers of the official's office, with filters, a search (POST,
    see _SEARCHES), sorting and the moves their role may make on each."""
    actor = actor_for(request.user)
    if not actor.is_official:
        return render(request, "dossiers/worklist.html", {"forbidden": True}, status=403)
    search_errors: dict = {}
    posted_search = {"text": "", "id_number": ""}
    if request.method == "POST":
        text = " ".join((request.POST.get("q") or "").split())[:100]
        id_number = "".join((request.POST.get("id_number") or "").split())
        search_errors = _search_form_errors(id_number)
        if not search_errors:
            kept = {k: request.POST[k] for k in ("status", "due", "sort") if request.POST.get(k)}
            if text or id_number:
                kept["search"] = _search_store(request, text=text, id_number=id_number)
            return redirect(reverse("worklist") + ("?" + urlencode(kept) if kept else ""))
        posted_search = {"text": text, "id_number": id_number}
    status = request.GET.get("status") or None
    due = request.GET.get("due") or None
    sort = request.GET.get("sort") or None
    search_key = request.GET.get("search") or ""
    bad_filter = (
        (status is not None and status not in Status.values)
        or (due is not None and due not in _DUE_FILTERS)
        or (sort is not None and sort not in _SORTS)
    )
    if bad_filter:
        status = status if status in Status.values else None
        due = due if due in _DUE_FILTERS else None
        sort = sort if sort in _SORTS else None
    # "Assigned to me" (issue #15): the caller's own open dossiers by due time.
    mine = request.GET.get("assigned") == "me"
    search = request.session.get(_SEARCHES, {}).get(search_key) if search_key else None
    dossiers = (
        dossiers_assigned_to_me(user=request.user) if mine else worklist(user=request.user, status=status, due=due)
    )
    if search:
        dossiers = worklist_search(dossiers, text=search["text"], id_number=search["id_number"])
    if sort:
        dossiers = worklist_order(dossiers, sort=sort)
    page = _page_of(request, dossiers)
    now = timezone.now()
    # One calendar for the page's step dues, read only when a row needs it.
    calendar = working_calendar() if any(d.procedure.process for d in page.object_list) else None
    everything = worklist(user=request.user)
    by_status = dict(everything.order_by().values_list("status").annotate(n=Count("id")))
    counts = {
        "all": sum(by_status.values()),
        "late": worklist(user=request.user, due="late", now=now).count(),
        "soon": worklist(user=request.user, due="soon", now=now).count(),
        "mine": dossiers_assigned_to_me(user=request.user).count(),
        # Online dossiers the desk has to receive (desk officers only).
        "waiting_receipt": by_status.get(Status.WAITING_RECEIPT, 0) if actor.role == Role.DESK_OFFICER else None,
    }
    query = request.GET.copy()
    query.pop("page", None)
    without_search = query.copy()
    without_search.pop("search", None)
    shown_search = search or posted_search
    context = {
        "page": page,
        "rows": [_row(d, actor=actor, now=now, calendar=calendar) for d in page.object_list],
        "mine": mine,
        "status": status or "",
        "due": due or "",
        "sort": sort or "",
        "sorts": _sort_links(query, sort or ""),
        "bad_filter": bad_filter,
        "statuses": [{**_status(s), "count": by_status.get(s, 0)} for s in LIFE_CYCLE],
        "counts": counts,
        "filter_query": query.urlencode(),
        "next": request.get_full_path(),
        "search_key": search_key if search else "",
        "search_text": shown_search["text"],
        "search_id_number": shown_search["id_number"],
        "search_masked_id": mask_id_number(shown_search["id_number"]) if shown_search["id_number"] else "",
        "search_expired": bool(search_key) and search is None,
        "search_errors": search_errors,
        "clear_search_url": "?" + without_search.urlencode() if without_search else reverse("worklist"),
    }
    status_code = 400 if bad_filter or search_errors else 200
    return render(request, "dossiers/worklist.html", context, status=status_code)


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
        # Form 1 exists from receipt on (409 from the API before).
        "receipt": dossier.received_at is not None,
        "supplement": dossier.supplement_count > 0
        or any(e["action"] == "request_completion" for e in detail["events"]),
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
    codes = {code for event in detail["events"] for code in (event["actor_agency"], event["to_agency"]) if code}
    agency_names = dict(Agency.objects.filter(code__in=codes).values_list("code", "name"))
    context = {
        "dossier": dossier,
        "detail": detail,
        "status": _status(dossier.status),
        "channel_label": _in_language(detail["channel_label"]),
        "delivery_label": _in_language(dossier.get_result_delivery_display()),
        "timeliness": _in_language(dossier.get_timeliness_display()) if dossier.timeliness else "",
        "is_late": dossier.is_late_at(now),
        "events": [
            {
                **event,
                "step": _in_language(step_label(event["action"])),
                # Notes the portal writes itself (the channel on receipt, the
                # steps other apps record: fees, post) are "Tiếng Việt /
                # English"; the note typed with a workflow move is shown as typed.
                "note": event["note"] if event["action"] in TYPED_NOTE_ACTIONS else _in_language(event["note"]),
                # Agencies by name, not by their code.
                "actor_agency": agency_names.get(event["actor_agency"], event["actor_agency"]),
                "to_agency": agency_names.get(event["to_agency"], event["to_agency"]),
                "at": _moment(event["at"]),
                "to_status": _status(event["to_status"]),
                "from_status": _status(event["from_status"]) if event["from_status"] else None,
            }
            for event in detail["events"]
        ],
        "actions": [
            {**action, "label": _in_language(action["label"]), "confirm": action["action"] in CONFIRMED_ACTIONS}
            for action in detail["allowed_actions"]
        ],
        "agencies": list(Agency.objects.exclude(pk=dossier.agency_id).only("code", "name")) if needs_agency else [],
        "apologies": apologies,
        "can_apologize": dossier_may_apologize(actor, dossier, at=now),
        "slips": _slips(dossier, detail, has_apology=bool(apologies)),
        "lookup_page": reverse("dossier-lookup-page") + "?code=" + dossier.code,
        "refused": refused,
        "errors": errors or {},
        "posted": posted or {},
        "is_official": actor.is_official,
        # The procedure's declared process with each step's due time.
        "process_steps": [
            {
                **step,
                "label": _in_language(step["label"]),
                "due_at": _moment(step["due_at"]),
                "done_at": _moment(step["done_at"]),
                "role_labels": [_in_language(ROLE_LABELS.get(r, r)) for r in step["roles"]],
            }
            for step in detail["process"]
        ],
        "step_due_at": _moment(detail["step_due_at"]),
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
    if action in CONFIRMED_ACTIONS and request.POST.get("confirm") != "yes":
        dossier = _visible_or_404(request.user, code)
        # A move the table refuses anyway goes on to its 409 below.
        if any(t.action == action for t in dossier_actions(actor_for(request.user), dossier)):
            unconfirmed = message(
                "Hãy đánh dấu ô xác nhận: thao tác này không thể hoàn tác.",
                "Tick the confirmation box: this cannot be undone.",
            )
            return _render_dossier(request, dossier, status=400, errors={"confirm": [unconfirmed]}, posted=posted)
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
