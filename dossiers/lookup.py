"""Public lookup of a dossier by its code: procedure, status, dates, the
steps taken and whether it is on time. No personal data; rate-limited per
client (gisportal.throttling.PublicLookupThrottle)."""

import datetime as dt
import re

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from gisportal.api import PublicApiView, QueryParams, json_response, message
from gisportal.fastpath import answer_within_rate
from gisportal.messages import in_language

from .extensions import LookupSection, lookup_sections, step_label
from .models import PRE_RECEIPT_STATUSES, Channel, Dossier, Status
from .selectors import dossier_public_read
from .serializers import event_public, iso_local

# Circular 01/2018 Art. 19: V1V2V3.Z1Z2.Y1Y2.MX1X2-YYMMDD-NNNN (sequence may grow past 4 digits).
CODE_PATTERN = re.compile(r"[0-9A-Z]{3}\.[0-9A-Z]{2}\.[0-9A-Z]{2}\.[A-Z][0-9A-Z]{2}-\d{6}-\d{4,6}")


def _on_time_state(dossier: Dossier) -> str:
    if dossier.timeliness:
        return dossier.timeliness
    if dossier.status in PRE_RECEIPT_STATUSES:
        return "not_received"  # no deadline before the desk receives it
    if dossier.is_open:
        return "late" if dossier.is_late_at(timezone.now()) else "in_time"
    return "closed"


def public_view(dossier: Dossier, sections: list[LookupSection] | None = None) -> dict:
    """The public facts of a dossier, with the sections other apps add
    (`extensions.lookup_sections`: e.g. the post's tracking steps)."""
    events = list(dossier.events.all())
    sections = lookup_sections(dossier) if sections is None else sections
    view = {
        "code": dossier.code,
        "procedure": {"code": dossier.procedure.code, "name": dossier.procedure.name},
        "agency": {"code": dossier.agency.code, "name": dossier.agency.name},
        "receiving_point": {"code": dossier.receiving_point.code, "name": dossier.receiving_point.name},
        "channel": dossier.channel,
        "channel_label": Channel(dossier.channel).label,
        "status": dossier.status,
        "status_label": Status(dossier.status).label,
        "current_step": Status(dossier.status).label,
        "submitted_at": iso_local(dossier.submitted_at),
        "received_at": iso_local(dossier.received_at),
        "due_at": iso_local(dossier.due_at),
        "appointment_at": iso_local(dossier.appointment_at),
        "finished_at": iso_local(dossier.finished_at),
        "returned_at": iso_local(dossier.returned_at),
        "on_time_state": _on_time_state(dossier),
        "timeline": [event_public(e) for e in events],
    }
    for section in sections:
        if section.key not in view:  # an app adds to the answer, never replaces
            view[section.key] = section.data
    return view


def lookup_errors(code: str | None) -> dict[str, list[str]]:
    if not code:
        return {"code": [message("Cần mã hồ sơ.", "The dossier code is required.")]}
    if not CODE_PATTERN.fullmatch(code):
        return {
            "code": [
                message(
                    "Mã hồ sơ có dạng 000.00.13.H04-260427-0001.",
                    "A dossier code looks like 000.00.13.H04-260427-0001.",
                )
            ]
        }
    return {}


class DossierLookupApi(PublicApiView):
    """GET /api/v1/dossiers/lookup/?code=..."""

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "code",
                {"type": "string", "pattern": "^ *" + CODE_PATTERN.pattern + " *$"},
                required=True,
                description="A dossier code, e.g. 000.00.13.H04-260427-0001 (letters in either case).",
            )
        ],
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT},
        summary="Public lookup of a dossier by code (no personal data)",
        operation_id="dossiers_lookup",
    )
    def get(self, request):
        params, code = lookup_query(request.query_params)
        params.raise_if_invalid()
        data, status = lookup_answer_data(code)
        return Response(data, status=status)


def lookup_query(query) -> tuple[QueryParams, str]:
    """The code asked for (upper case), with its problems in the QueryParams."""
    params = QueryParams(query)
    code = (params.raw("code") or "").upper()
    params.errors.update(lookup_errors(code))
    return params, code


def lookup_answer_data(code: str) -> tuple[dict, int]:
    """The look-up's answer for a well-formed code, and its status."""
    dossier = dossier_public_read(code=code)
    if dossier is None:
        return {"detail": message("Không tìm thấy hồ sơ.", "Dossier not found.")}, 404
    return public_view(dossier), 200


# --- the lean path (gisportal/fastpath.py) -------------------------------------------


def lookup_accept(query) -> str | None:
    """The code of a look-up whose code is well formed; None (the view's 400
    names it) for any other."""
    params, code = lookup_query(query)
    return None if params.errors else code


def lookup_lean_answer(request: HttpRequest, code: str, view) -> HttpResponse:
    """What DossierLookupApi answers, without DRF's dispatch: the same rate
    limit (its count beside the read), reads, renderer and headers."""

    def answer() -> HttpResponse:
        data, status = lookup_answer_data(code)
        return json_response(data, status=status)

    return answer_within_rate(request, view, answer)


# Labels of the domain are written "Tiếng Việt / English": the page's half,
# through the one helper every page uses (also `|in_language` in templates).
_in_language = in_language


def _moment(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _page_view(dossier: Dossier) -> dict:
    """public_view for the page: the same fields, with datetimes (the template
    prints dd/mm/yyyy HH:MM) and labels in the page's language."""
    sections = lookup_sections(dossier)
    view = public_view(dossier, sections)
    view["sections"] = sections
    for name in ("submitted_at", "received_at", "due_at", "appointment_at", "finished_at", "returned_at"):
        view[name] = _moment(view[name])
    view["status_text"] = _in_language(view["status_label"])
    view["channel_text"] = _in_language(view["channel_label"])
    for step in view["timeline"]:
        step["at"] = _moment(step["at"])
        step["to_status_text"] = _in_language(step["to_status_label"])
        step["action_text"] = _in_language(step_label(step["action"]))
    return view


def lookup_page(request):
    """The lookup page: a form, and the answer rendered by the server (the
    page calls no API, so the API's rate limit guards the page too)."""
    code = (request.GET.get("code") or "").strip().upper()
    context = {"code": code, "errors": {}, "result": None, "not_found": False}
    if code:
        throttle = DossierLookupApi().get_throttles()[0]
        if not throttle.allow_request(request, None):
            response = render(request, "dossiers/lookup.html", {**context, "throttled": True}, status=429)
            wait = throttle.wait()
            if wait is not None:
                response["Retry-After"] = str(max(int(wait), 1))
            return response
        context["errors"] = lookup_errors(code)
        if not context["errors"]:
            dossier = dossier_public_read(code=code)
            context["result"] = _page_view(dossier) if dossier else None
            context["not_found"] = dossier is None
    return render(request, "dossiers/lookup.html", context, status=404 if context["not_found"] else 200)
