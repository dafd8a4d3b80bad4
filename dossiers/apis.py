"""Dossier API: submit, list (worklists), detail, transitions, apologies,
attachments. Each view parses input, calls one service or selector, and
shapes the answer; the rules live in services, selectors and workflow."""

import datetime as dt
import json
import logging
import re
from collections.abc import Mapping

from django.conf import settings
from django.http import Http404
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from gisportal.accounts.authentication import ApiTokenAuthentication
from gisportal.accounts.selectors import actor_for
from gisportal.api import QueryParams, body_number, body_point, integer_parameter, message, paged
from gisportal.downloads import download_response
from gisportal.unstorable import MultiPartParser

from .attachments import CheckedFile, attachment_download_name, attachment_open, attachments_check
from .calendar import working_calendar
from .components import ComponentsRefused
from .documents import document_choices, documents_as_files
from .errors import DossierInputError, DossierInputRefused, IdempotencyConflict, TransitionNotAllowed
from .models import Attachment, Dossier, Status
from .selectors import dossier_get_for_user, worklist
from .serializers import dossier_detail, dossier_summary
from .services import Submission, dossier_apologize, dossier_submit, dossier_transition

audit = logging.getLogger("gisportal.audit")

_TEXT_FIELDS = {
    # field: (max length, required)
    "procedure": (20, True),
    "applicant_name": (150, True),
    "applicant_id_number": (12, True),
    "applicant_address": (300, True),
    "applicant_phone": (20, False),
    "applicant_email": (254, False),
    "applicant_commune": (10, False),
    "receiving_point": (40, False),
    "result_delivery": (5, False),
    "delivery_address": (300, False),
    "delivery_commune": (10, False),
    "postal_pickup": (11, False),
    "pickup_address": (300, False),
    "pickup_point": (40, False),
    "note": (4000, False),
}
MAX_PAGE = 500
MAX_OFFSET = 10_000_000
_NESTED_APPLICANT = {"name", "id_number", "address", "phone", "email", "commune"}


class DossierApiView(APIView):
    """Maps the domain errors of the services to HTTP answers."""

    # Token first, so an anonymous caller gets 401 with WWW-Authenticate.
    authentication_classes = [ApiTokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes: list = []

    def handle_exception(self, exc):
        if isinstance(exc, DossierInputRefused):
            return Response(exc.errors, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
        if isinstance(exc, DossierInputError):
            return Response(exc.errors, status=status.HTTP_400_BAD_REQUEST)
        if isinstance(exc, TransitionNotAllowed):
            return Response(
                {"detail": str(exc), "status": exc.status, "allowed_actions": exc.allowed},
                status=status.HTTP_409_CONFLICT,
            )
        if isinstance(exc, ComponentsRefused):
            return Response(exc.body(), status=status.HTTP_422_UNPROCESSABLE_ENTITY)
        if isinstance(exc, IdempotencyConflict):
            return Response({"detail": str(exc)}, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
        if isinstance(exc, Dossier.DoesNotExist):
            return Response(
                {"detail": message("Không tìm thấy hồ sơ.", "Dossier not found.")}, status=status.HTTP_404_NOT_FOUND
            )
        return super().handle_exception(exc)


def _object(request) -> Mapping:
    """The request body as a mapping; a JSON array, string or number is a 400,
    not an AttributeError (500) further down."""
    if not isinstance(request.data, Mapping):
        raise DossierInputError.one("body", "Nội dung phải là một đối tượng JSON.", "The body must be a JSON object.")
    return request.data


def _flatten(data: Mapping) -> dict:
    """Accepts flat fields, or an `applicant` object with name, id_number, ..."""
    flat = {key: data.get(key) for key in data if key not in ("applicant", "attachments")}
    applicant = data.get("applicant")
    if isinstance(applicant, dict):
        for key in _NESTED_APPLICANT & applicant.keys():
            flat.setdefault(f"applicant_{key}", applicant[key])
    return flat


def _text(flat: dict, errors: dict, name: str) -> str:
    max_length, required = _TEXT_FIELDS[name]
    value = flat.get(name)
    if value is None or value == "":
        if required:
            errors.setdefault(name, []).append(message("Trường này là bắt buộc.", "This field is required."))
        return ""
    if not isinstance(value, str):
        errors.setdefault(name, []).append(message("Phải là chuỗi ký tự.", "Must be a string."))
        return ""
    if len(value) > max_length or "\x00" in value:
        errors.setdefault(name, []).append(
            message(f"Tối đa {max_length} ký tự, không chứa ký tự NUL.", f"At most {max_length} characters, no NUL.")
        )
        return ""
    return value


def submission_from_request(request) -> Submission:
    """The submission a request's body (JSON, or multipart with files) carries,
    each field checked for type and length; DossierInputError (400) naming
    every bad one. Also read by other apps' submission endpoints (the post
    office counter)."""
    flat = _flatten(_object(request))
    errors: dict[str, list[str]] = {}
    texts = {name: _text(flat, errors, name) for name in _TEXT_FIELDS}
    channel = body_number(flat, errors, "channel", low=1, high=3, integer=True)
    if channel is None and "channel" not in errors:
        errors["channel"] = [message("Trường này là bắt buộc (1, 2, 3).", "This field is required (1, 2, 3).")]
    # Each place as two numbers, or as a GeoJSON Point (`location`, `delivery_location`).
    lon, lat = body_point(flat, errors, name="location", lon="lon", lat="lat")
    delivery_lon, delivery_lat = body_point(
        flat, errors, name="delivery_location", lon="delivery_lon", lat="delivery_lat"
    )
    files = request.FILES.getlist("attachments") if hasattr(request, "FILES") else []
    checked, problems = attachments_check(files)
    if problems:
        errors["attachments"] = problems
    forms = _forms(request, errors)
    component_files, component_problems = _component_files(request, already=len(files))
    # Stored documents named instead of files, `documents[<code>]` (issue #15).
    for code, reused in _stored_documents(request, errors).items():
        component_files.setdefault(code, []).extend(reused)
    if errors:
        raise DossierInputError(errors)
    if component_problems:
        raise ComponentsRefused(components=component_problems, forms={})
    return Submission(
        procedure_code=texts["procedure"],
        applicant_name=texts["applicant_name"],
        applicant_id_number=texts["applicant_id_number"],
        applicant_address=texts["applicant_address"],
        applicant_phone=texts["applicant_phone"],
        applicant_email=texts["applicant_email"],
        applicant_commune_code=texts["applicant_commune"],
        channel=channel,
        receiving_point_code=texts["receiving_point"],
        lon=lon,
        lat=lat,
        result_delivery=texts["result_delivery"] or "desk",
        delivery_address=texts["delivery_address"],
        delivery_lon=delivery_lon,
        delivery_lat=delivery_lat,
        delivery_commune_code=texts["delivery_commune"],
        postal_pickup=texts["postal_pickup"],
        pickup_address=texts["pickup_address"],
        pickup_point_code=texts["pickup_point"],
        note=texts["note"],
        files=checked,
        component_files=component_files,
        forms=forms,
    )


def _stored_documents(request, errors: dict) -> dict[str, list[CheckedFile]]:
    try:
        chosen = document_choices(request.data)
    except DossierInputError as bad:
        errors.update(bad.errors)
        return {}
    return documents_as_files(user=request.user, chosen=chosen, errors=errors) if chosen else {}


COMPONENT_FILE_FIELD = re.compile(r"^components\[([-a-zA-Z0-9_]{1,40})\]$")


def _component_files(request, *, already: int) -> tuple[dict[str, list[CheckedFile]], dict[str, list[str]]]:
    """Files sent as `components[<code>]` (multipart), checked by content as
    untagged attachments are; the procedure's accepted types are the
    service's business. Problems by component code (422)."""
    uploads = getattr(request, "FILES", None)
    if not uploads:
        return {}, {}
    tagged = {}
    problems: dict[str, list[str]] = {}
    for key in uploads:
        found = COMPONENT_FILE_FIELD.match(key)
        # Other file fields are ignored, as they always were.
        if found:
            tagged[found.group(1)] = uploads.getlist(key)
    limit = settings.DOSSIER_ATTACHMENT_MAX_COUNT
    if already + sum(map(len, tagged.values())) > limit:
        problems.setdefault("attachments", []).append(
            message(f"Tối đa {limit} tệp đính kèm.", f"At most {limit} attachments.")
        )
        return {}, problems
    checked: dict[str, list[CheckedFile]] = {}
    for code, files in tagged.items():
        checked[code], file_problems = attachments_check(files)
        if file_problems:
            problems.setdefault(code, []).extend(file_problems)
    return checked, problems


def _forms(request, errors: dict) -> dict:
    """E-form answers, `forms`: {component code: answers}: a JSON object in a
    JSON body, JSON text in a multipart one."""
    data = request.data
    raw = data.get("forms") if isinstance(data, Mapping) else None
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raw = None
    if not isinstance(raw, dict) or not all(isinstance(answers, dict) for answers in raw.values()):
        errors.setdefault("forms", []).append(
            message(
                "forms phải là đối tượng JSON {mã thành phần: {trường: giá trị}}.",
                "forms must be a JSON object {component code: {field: value}}.",
            )
        )
        return {}
    return raw


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "maxLength": 100},
    OpenApiParameter.HEADER,
    description="Same key and body: the same dossier (200); same key, another body: 422.",
)
SUBMIT_RESPONSES = {
    201: OpenApiTypes.OBJECT,
    200: OpenApiTypes.OBJECT,
    400: OpenApiTypes.OBJECT,
    422: OpenApiTypes.OBJECT,
}


class DossierListApi(DossierApiView):
    """GET: the caller's worklist (officials) or own dossiers (citizens).
    POST: submit a dossier (JSON or multipart with `attachments` files);
    `Idempotency-Key` makes retries safe."""

    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=Status.values),
            OpenApiParameter("due", str, enum=["soon", "late"]),
            integer_parameter("limit", low=1, high=MAX_PAGE, default=50),
            integer_parameter("offset", low=0, high=MAX_OFFSET, default=0),
        ],
        responses={200: OpenApiTypes.OBJECT},
        summary="Worklist (officials) or own dossiers (citizens)",
        operation_id="dossiers_list",
    )
    def get(self, request):
        params = QueryParams(request.query_params)
        status_filter = params.choice("status", Status.values)
        due = params.choice("due", ["soon", "late"])
        limit = params.integer("limit", default=50, low=1, high=MAX_PAGE)
        offset = params.integer("offset", default=0, low=0, high=MAX_OFFSET)
        params.raise_if_invalid()
        dossiers = worklist(user=request.user, status=status_filter, due=due)
        return Response(paged(request, dossiers, offset=offset, limit=limit, serialize=dossier_summary))

    @extend_schema(
        parameters=[IDEMPOTENCY_KEY],
        request=OpenApiTypes.OBJECT,
        responses=SUBMIT_RESPONSES,
        summary="Submit a dossier (JSON or multipart with attachments)",
        operation_id="dossiers_submit",
    )
    def post(self, request):
        return submission_response(request, submit=dossier_submit)


def submission_response(request, *, submit) -> Response:
    """Parse a submission and its Idempotency-Key, `submit(submission=,
    acting_user=, idempotency_key=)` -> (dossier, created), and answer as
    `POST /api/v1/dossiers/` does (201, or 200 for a replay; Location)."""
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > 100:
        raise DossierInputError.one("Idempotency-Key", "Tối đa 100 ký tự.", "At most 100 characters.")
    submission = submission_from_request(request)
    dossier, created = submit(submission=submission, acting_user=request.user, idempotency_key=key or None)
    body = dossier_detail(dossier, actor=actor_for(request.user))
    response = Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
    response["Location"] = body["url"]
    if not created:
        response["Idempotent-Replayed"] = "true"
    return response


class DossierDetailApi(DossierApiView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT}, summary="One dossier", operation_id="dossiers_detail")
    def get(self, request, code: str):
        dossier = dossier_get_for_user(user=request.user, code=code)
        audit.info("dossier viewed code=%s user=%s", dossier.code, request.user.pk)
        return Response(dossier_detail(dossier, actor=actor_for(request.user)))


class DossierTransitionApi(DossierApiView):
    """POST {"action": ..., "note": ..., "agency": ...}: one move of the workflow."""

    parser_classes = [JSONParser, FormParser, MultiPartParser]

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT, 409: OpenApiTypes.OBJECT},
        summary="Apply one workflow transition",
        operation_id="dossiers_transition",
    )
    def post(self, request, code: str):
        data = _object(request)
        action = data.get("action")
        if not isinstance(action, str) or not action:
            raise DossierInputError.one("action", "Cần tên thao tác.", "The action is required.")
        note = data.get("note") or ""
        agency = data.get("agency") or None
        if not isinstance(note, str):
            raise DossierInputError.one("note", "Phải là chuỗi ký tự.", "Must be a string.")
        if agency is not None and not isinstance(agency, str):
            raise DossierInputError.one("agency", "Phải là mã cơ quan.", "Must be an agency code.")
        dossier = dossier_transition(code=code, action=action, acting_user=request.user, note=note, agency_code=agency)
        return Response(dossier_detail(dossier, actor=actor_for(request.user)))


def _parse_moment(raw) -> dt.datetime | None:
    """A date means the end of that working day; a datetime is taken as is.
    The date is tried first: parse_datetime also reads "2026-05-04" (as
    midnight, through datetime.fromisoformat)."""
    if not isinstance(raw, str):
        return None
    day = parse_date(raw)
    if day is not None:
        return working_calendar().end_of(day)
    moment = parse_datetime(raw)
    if moment is None:
        return None
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


class DossierApologyApi(DossierApiView):
    """POST {"reason": ..., "new_due_at": "YYYY-MM-DD" or ISO datetime}."""

    parser_classes = [JSONParser, FormParser]

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={201: OpenApiTypes.OBJECT, 409: OpenApiTypes.OBJECT},
        summary="Apologise for a late dossier with a new date",
        operation_id="dossiers_apology",
    )
    def post(self, request, code: str):
        data = _object(request)
        reason = data.get("reason")
        if not isinstance(reason, str):
            raise DossierInputError.one("reason", "Cần nêu lý do chậm.", "The reason for the delay is required.")
        try:
            new_due_at = _parse_moment(data.get("new_due_at"))
        except ValueError:
            new_due_at = None
        if new_due_at is None:
            raise DossierInputError.one("new_due_at", "Ngày không hợp lệ (YYYY-MM-DD).", "Invalid date (YYYY-MM-DD).")
        apology = dossier_apologize(code=code, acting_user=request.user, reason=reason, new_due_at=new_due_at)
        return Response(
            {
                "dossier": code,
                "reason": apology.reason,
                "new_due_at": timezone.localtime(apology.new_due_at).isoformat(),
            },
            status=status.HTTP_201_CREATED,
        )


class DossierAttachmentApi(DossierApiView):
    @extend_schema(
        responses={200: OpenApiTypes.BINARY}, summary="Download an attachment", operation_id="dossiers_attachment"
    )
    def get(self, request, code: str, attachment_id: int):
        dossier = dossier_get_for_user(user=request.user, code=code)
        attachment = Attachment.objects.filter(dossier=dossier, pk=attachment_id).first()
        if attachment is None:
            raise Http404
        try:
            handle = attachment_open(attachment.stored_name)
        except FileNotFoundError as missing:
            raise Http404 from missing
        audit.info("attachment downloaded code=%s attachment=%s user=%s", code, attachment.pk, request.user.pk)
        # Named by the checked type (a PDF sent as x.html downloads as x.pdf).
        return download_response(
            handle,
            filename=attachment_download_name(
                original_name=attachment.original_name, content_type=attachment.content_type
            ),
            content_type=attachment.content_type,
            private=True,
        )
