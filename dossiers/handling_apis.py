"""API of the steps after submission (issue #15): assign a dossier to an
officer, the officer's own queue, the electronic result (attach, download). Each view parses input, calls one service
or selector and shapes the answer, as `apis` does."""

import logging

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.response import Response

from gisportal.accounts.selectors import actor_for
from gisportal.api import QueryParams, integer_parameter, paged
from gisportal.downloads import download_response
from gisportal.unstorable import MultiPartParser

from .apis import MAX_OFFSET, MAX_PAGE, DossierApiView, _object
from .attachments import attachment_download_name, attachment_open, attachments_check
from .errors import DossierInputError
from .handling_selectors import dossiers_assigned_to_me, result_document_for
from .handling_serializers import result_ref
from .handling_services import dossier_assign_officer, dossier_result_attach, dossier_supplement_with_files
from .selectors import dossier_get_for_user
from .serializers import dossier_detail, dossier_summary

audit = logging.getLogger("gisportal.audit")
PDF_ONLY = frozenset({"application/pdf"})
# The schema says what the view requires, so a client (and schemathesis)
# never sends a body the schema calls valid and the view refuses.
ASSIGN_BODY = {
    "type": "object",
    "properties": {
        "officer": {"type": "string", "minLength": 1, "pattern": r"\S", "description": "The officer's user name"},
        "note": {"type": "string"},
    },
    "required": ["officer"],
}


def _optional_text(data, name: str) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise DossierInputError.one(name, "Phải là chuỗi ký tự.", "Must be a string.")
    return value


class DossierAssignApi(DossierApiView):
    """POST {"officer": "<user name>", "note": "..."}: a leader or desk officer
    who may act on the dossier assigns it to a processing officer or leader
    of the agency handling it."""

    parser_classes = [JSONParser, FormParser]

    @extend_schema(
        request=dict.fromkeys(("application/json", "application/x-www-form-urlencoded"), ASSIGN_BODY),
        responses={
            200: OpenApiTypes.OBJECT,
            400: OpenApiTypes.OBJECT,
            404: OpenApiTypes.OBJECT,
            409: OpenApiTypes.OBJECT,
            422: OpenApiTypes.OBJECT,
        },
        summary="Assign a dossier to an officer of the agency handling it",
        operation_id="dossiers_assign",
    )
    def post(self, request, code: str):
        data = _object(request)
        officer = data.get("officer")
        if not isinstance(officer, str) or not officer.strip():
            raise DossierInputError.one(
                "officer", "Cần tên đăng nhập của cán bộ.", "The officer's user name is required."
            )
        note = _optional_text(data, "note")
        dossier = dossier_assign_officer(code=code, officer=officer, acting_user=request.user, note=note)
        return Response(dossier_detail(dossier, actor=actor_for(request.user)))


class MyWorklistApi(DossierApiView):
    """GET: the open dossiers assigned to the caller, the nearest due first."""

    @extend_schema(
        parameters=[
            integer_parameter("limit", low=1, high=MAX_PAGE, default=50),
            integer_parameter("offset", low=0, high=MAX_OFFSET, default=0),
        ],
        responses={200: OpenApiTypes.OBJECT},
        summary="Dossiers assigned to me, by due time",
        operation_id="worklist_mine",
    )
    def get(self, request):
        params = QueryParams(request.query_params)
        limit = params.integer("limit", default=50, low=1, high=MAX_PAGE)
        offset = params.integer("offset", default=0, low=0, high=MAX_OFFSET)
        params.raise_if_invalid()
        dossiers = dossiers_assigned_to_me(user=request.user)
        return Response(paged(request, dossiers, offset=offset, limit=limit, serialize=dossier_summary))


class DossierResultApi(DossierApiView):
    """GET: the electronic result as a download (officials who see the
    dossier: the newest document; the applicant: the approved one, once the
    result is returned; 404 otherwise). POST (multipart, one PDF `file`): a
    processing officer attaches it while processing."""

    parser_classes = [MultiPartParser]

    @extend_schema(
        responses={200: OpenApiTypes.BINARY, 404: OpenApiTypes.OBJECT},
        summary="Download the electronic result",
        operation_id="dossiers_result_download",
    )
    def get(self, request, code: str):
        actor = actor_for(request.user)
        dossier = dossier_get_for_user(user=request.user, code=code)
        document = result_document_for(actor, dossier)
        if document is None:
            raise Http404
        try:
            handle = attachment_open(document.stored_name)
        except FileNotFoundError as missing:
            raise Http404 from missing
        audit.info("result downloaded code=%s result=%s user=%s", code, document.pk, request.user.pk)
        return download_response(
            handle,
            filename=attachment_download_name(original_name=document.original_name, content_type=document.content_type),
            content_type=document.content_type,
            private=True,
        )

    @extend_schema(
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
                "required": ["file"],
            }
        },
        responses={
            201: OpenApiTypes.OBJECT,
            400: OpenApiTypes.OBJECT,
            404: OpenApiTypes.OBJECT,
            409: OpenApiTypes.OBJECT,
        },
        summary="Attach the electronic result (one PDF)",
        operation_id="dossiers_result_attach",
    )
    def post(self, request, code: str):
        files = request.FILES.getlist("file") if hasattr(request, "FILES") else []
        if len(files) != 1:
            raise DossierInputError.one("file", "Cần đúng một tệp PDF.", "Exactly one PDF file is required.")
        checked, problems = attachments_check(files, max_count=1, types=PDF_ONLY, described="PDF")
        if problems:
            raise DossierInputError({"file": problems})
        document = dossier_result_attach(code=code, document=checked[0], acting_user=request.user)
        return Response(result_ref(document, code=code), status=status.HTTP_201_CREATED)


class DossierSupplementApi(DossierApiView):
    """POST (multipart: files `attachments`, optional `note`): the applicant
    (or the desk) hands in the supplement with the missing files while the
    dossier waits for it; the dossier moves to `supplemented`."""

    parser_classes = [MultiPartParser]

    @extend_schema(
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {
                    "attachments": {"type": "array", "items": {"type": "string", "format": "binary"}, "minItems": 1},
                    "note": {"type": "string", "maxLength": 4000},
                },
                "required": ["attachments"],
            }
        },
        responses={
            200: OpenApiTypes.OBJECT,
            400: OpenApiTypes.OBJECT,
            404: OpenApiTypes.OBJECT,
            409: OpenApiTypes.OBJECT,
        },
        summary="Hand in a supplement with files",
        operation_id="dossiers_supplement",
    )
    def post(self, request, code: str):
        data = _object(request)
        note = _optional_text(data, "note")
        files = request.FILES.getlist("attachments") if hasattr(request, "FILES") else []
        checked, problems = attachments_check(files)
        if problems:
            raise DossierInputError({"attachments": problems})
        dossier = dossier_supplement_with_files(code=code, files=checked, acting_user=request.user, note=note)
        return Response(dossier_detail(dossier, actor=actor_for(request.user)))
