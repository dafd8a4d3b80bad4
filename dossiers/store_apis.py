"""API of a citizen's document store and drafts (issue #15):

- `GET/POST /api/v1/me/documents/`, `DELETE /api/v1/me/documents/{id}/`,
  `GET /api/v1/me/documents/{id}/file/`;
- `GET/POST /api/v1/dossiers/drafts/`, `GET/PUT/DELETE
  /api/v1/dossiers/drafts/{id}/`, `POST /api/v1/dossiers/drafts/{id}/submit/`.

Views parse, call one service or selector of `documents` / `drafts`, and
shape the answer; a document or draft of someone else is a 404, as one that
does not exist."""

import logging

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.response import Response

from gisportal.accounts.selectors import actor_for
from gisportal.api import QueryParams, integer_parameter, message, paged
from gisportal.downloads import download_response
from gisportal.unstorable import MultiPartParser

from .apis import IDEMPOTENCY_KEY, SUBMIT_RESPONSES, DossierApiView, _object
from .attachments import attachment_download_name, attachment_open
from .documents import document_delete, document_get_for_user, document_summary, document_upload, documents_of
from .drafts import (
    dossier_submit_closing_draft,
    draft_delete,
    draft_detail,
    draft_get_for_user,
    draft_input,
    draft_save,
    draft_summary,
    drafts_of,
)
from .errors import DossierInputError
from .models import ComponentFileType, DossierDraft, StoredDocument
from .serializers import dossier_detail

audit = logging.getLogger("gisportal.audit")
MAX_PAGE = 200
PAGING = [
    integer_parameter("limit", low=1, high=MAX_PAGE, default=50),
    integer_parameter("offset", low=0, high=1_000_000, default=0),
]


class StoreApiView(DossierApiView):
    def handle_exception(self, exc):
        if isinstance(exc, StoredDocument.DoesNotExist):
            return Response(
                {"detail": message("Không tìm thấy giấy tờ.", "Document not found.")},
                status=status.HTTP_404_NOT_FOUND,
            )
        if isinstance(exc, DossierDraft.DoesNotExist):
            return Response(
                {"detail": message("Không tìm thấy hồ sơ nháp.", "Draft not found.")},
                status=status.HTTP_404_NOT_FOUND,
            )
        return super().handle_exception(exc)


def _page(request, queryset, serialize) -> dict:
    params = QueryParams(request.query_params)
    limit = params.integer("limit", default=50, low=1, high=MAX_PAGE)
    offset = params.integer("offset", default=0, low=0, high=1_000_000)
    params.raise_if_invalid()
    return paged(request, queryset, offset=offset, limit=limit, serialize=serialize)


# --- documents ---------------------------------------------------------------------------


class MyDocumentListApi(StoreApiView):
    """GET: the caller's documents, paged. POST (multipart `file`, optional
    `kind`, a component code such as `cccd`): keep one more; the same bytes
    again answer 200 with the document already kept."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        parameters=PAGING,
        responses={200: OpenApiTypes.OBJECT},
        summary="My documents (document store)",
        operation_id="me_documents_list",
    )
    def get(self, request):
        return Response(_page(request, documents_of(request.user).select_related("dossier"), document_summary))

    @extend_schema(
        request={
            "multipart/form-data": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {"type": "string", "format": "binary"},
                    "kind": {"type": "string", "maxLength": 40, "pattern": "^[-a-zA-Z0-9_]{1,40}$"},
                },
            }
        },
        responses={201: OpenApiTypes.OBJECT, 200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT},
        summary="Keep a document in my store",
        operation_id="me_documents_upload",
    )
    def post(self, request):
        data = _object(request)
        kind = data.get("kind") or ""
        if not isinstance(kind, str):
            raise DossierInputError.one("kind", "Phải là chuỗi ký tự.", "Must be a string.")
        files = request.FILES.getlist("file")
        if len(files) > 1:
            raise DossierInputError.one("file", "Mỗi lần một tệp.", "One file at a time.")
        document, created = document_upload(owner=request.user, upload=files[0] if files else None, kind=kind)
        return Response(document_summary(document), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class MyDocumentDetailApi(StoreApiView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT}, summary="One of my documents", operation_id="me_document")
    def get(self, request, document_id: int):
        return Response(document_summary(document_get_for_user(user=request.user, document_id=document_id)))

    @extend_schema(
        responses={204: None, 404: OpenApiTypes.OBJECT},
        summary="Delete one of my documents (a dossier keeps its own copy)",
        operation_id="me_document_delete",
    )
    def delete(self, request, document_id: int):
        document_delete(user=request.user, document_id=document_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MyDocumentFileApi(StoreApiView):
    @extend_schema(
        # The checked type of the file (one of those the attachment checker accepts).
        responses={(200, content_type): OpenApiTypes.BINARY for content_type in ComponentFileType.values},
        summary="Download one of my documents",
        operation_id="me_document_file",
    )
    def get(self, request, document_id: int):
        document = document_get_for_user(user=request.user, document_id=document_id)
        try:
            handle = attachment_open(document.stored_name)
        except FileNotFoundError as missing:
            raise StoredDocument.DoesNotExist from missing
        return download_response(
            handle,
            filename=attachment_download_name(original_name=document.original_name, content_type=document.content_type),
            content_type=document.content_type,
            private=True,
        )


# --- drafts ------------------------------------------------------------------------------

DRAFT_BODY = {
    "type": "object",
    "description": "The fields of POST /api/v1/dossiers/ (procedure required, the rest optional), "
    "`forms`, `documents[<component code>]` ids of stored documents, files `components[<code>]` and "
    "`attachments` (kept in the document store), `attachment_documents` ids of untagged stored documents.",
}


class DraftListApi(StoreApiView):
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(
        parameters=PAGING,
        responses={200: OpenApiTypes.OBJECT},
        summary="My drafts",
        operation_id="dossier_drafts_list",
    )
    def get(self, request):
        return Response(_page(request, drafts_of(request.user), draft_summary))

    @extend_schema(
        request={"application/json": DRAFT_BODY, "multipart/form-data": DRAFT_BODY},
        responses={201: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT, 403: OpenApiTypes.OBJECT},
        summary="Save a draft of a dossier",
        operation_id="dossier_drafts_create",
    )
    def post(self, request):
        read = draft_input(_object(request), getattr(request, "FILES", None))
        draft, _ = draft_save(owner=request.user, read=read)
        response = Response(draft_detail(draft), status=status.HTTP_201_CREATED)
        response["Location"] = f"/api/v1/dossiers/drafts/{draft.pk}/"
        return response


class DraftDetailApi(StoreApiView):
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(responses={200: OpenApiTypes.OBJECT}, summary="One of my drafts", operation_id="dossier_draft")
    def get(self, request, draft_id: int):
        return Response(draft_detail(draft_get_for_user(user=request.user, draft_id=draft_id)))

    @extend_schema(
        request={"application/json": DRAFT_BODY, "multipart/form-data": DRAFT_BODY},
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT},
        summary="Replace one of my drafts",
        operation_id="dossier_draft_replace",
    )
    def put(self, request, draft_id: int):
        # A draft of someone else is a 404 before its body is read.
        draft_get_for_user(user=request.user, draft_id=draft_id)
        read = draft_input(_object(request), getattr(request, "FILES", None))
        draft, _ = draft_save(owner=request.user, read=read, draft_id=draft_id)
        return Response(draft_detail(draft))

    @extend_schema(
        responses={204: None, 404: OpenApiTypes.OBJECT},
        summary="Delete one of my drafts (its documents stay in the store)",
        operation_id="dossier_draft_delete",
    )
    def delete(self, request, draft_id: int):
        draft_delete(user=request.user, draft_id=draft_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DraftSubmitApi(StoreApiView):
    """Submits a draft through the one submission service: 201 with the
    dossier (the draft is gone), or its 400/422 (the draft is kept)."""

    parser_classes = [JSONParser, FormParser]

    @extend_schema(
        parameters=[IDEMPOTENCY_KEY],
        request=None,
        responses=SUBMIT_RESPONSES,
        summary="Submit a draft as a dossier",
        operation_id="dossier_draft_submit",
    )
    def post(self, request, draft_id: int):
        key = request.headers.get("Idempotency-Key", "").strip()
        if len(key) > 100:
            raise DossierInputError.one("Idempotency-Key", "Tối đa 100 ký tự.", "At most 100 characters.")
        dossier, created = dossier_submit_closing_draft(
            draft_id=draft_id, acting_user=request.user, idempotency_key=key or None
        )
        audit.info("draft submitted draft=%s dossier=%s user=%s", draft_id, dossier.code, request.user.pk)
        body = dossier_detail(dossier, actor=actor_for(request.user))
        response = Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
        response["Location"] = body["url"]
        return response
