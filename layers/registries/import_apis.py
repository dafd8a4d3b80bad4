"""Upload a file into a registry layer, follow the import job, download its
error report, and export a layer. Callers authenticate (session or token);
a layer or job the caller may not see is a 404."""

import shutil
import tempfile
from pathlib import Path

from django.conf import settings
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotAuthenticated, PermissionDenied
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from gisportal.accounts.selectors import Actor, actor_for
from gisportal.api import QueryParams, bbox_parameter, message
from gisportal.downloads import download_response
from gisportal.filestore import media_storage
from gisportal.htmlmap import MAX_FEATURES, html_map_response
from gisportal.outbox import outbox_state_message
from gisportal.renderers import JSONRenderer
from gisportal.spreadsheets import CSV_CONTENT_TYPE

from ..models import ImportJob
from .exporting import EXPORT_FORMATS, layer_export, layer_html_map
from .importing import ImportRefused, import_job_create
from .selectors import features_of, layer_can_edit, layer_get_for_user, typed_value

RESERVED_EXPORT_PARAMETERS = {"format", "bbox"}


def _job_json(request, job: ImportJob) -> dict:
    return {
        "id": job.pk,
        "layer": job.layer.slug,
        "status": job.status,
        "mode": job.mode,
        "source_name": job.source_name,
        "format": job.format,
        "source_crs": job.source_crs,
        "progress": job.progress,
        "rows_total": job.rows_total,
        "rows_done": job.rows_done,
        "rows_imported": job.rows_imported,
        "rows_repaired": job.rows_repaired,
        "rows_rejected": job.rows_rejected,
        "rows_flagged": job.rows_flagged,
        "message": job.message,
        # Where a queued or running job stands, e.g. "queued, waiting for the
        # worker" while the task queue is unreachable (gisportal/outbox.py).
        "state_message": outbox_state_message(job),
        "published": job.published_at is not None,
        "attempts": job.attempts,
        "max_attempts": settings.OUTBOX_MAX_ATTEMPTS,
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "heartbeat_at": job.heartbeat_at.isoformat() if job.heartbeat_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "links": {
            "self": request.build_absolute_uri(reverse("import-job-detail", args=[job.pk])),
            "errors": (
                request.build_absolute_uri(reverse("import-job-errors", args=[job.pk]))
                if job.error_report_path
                else None
            ),
        },
    }


def _job_for(*, actor: Actor, job_id: int) -> ImportJob:
    """The job's creator, the layer's editors and administrators may follow
    a job; for anyone else it does not exist."""
    job = ImportJob.objects.select_related("layer").filter(pk=job_id).first()
    if job is None or actor.is_anonymous:
        raise Http404
    if actor.is_administrator or job.user_id == actor.user_id or layer_can_edit(actor=actor, layer=job.layer):
        return job
    raise Http404


class LayerImportApi(APIView):
    parser_classes = [MultiPartParser, FormParser]
    login_required_methods = ("POST",)  # for the schema: anonymous callers get 401

    @extend_schema(
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {
                    "file": {"type": "string", "format": "binary"},
                    "mode": {"type": "string", "enum": ImportJob.Mode.values},
                },
                "required": ["file"],
            }
        },
        responses={202: OpenApiTypes.OBJECT, 413: OpenApiTypes.OBJECT},
        summary="Upload a GeoPackage, zipped Shapefile, GeoJSON, KML or CSV into a layer (runs as a job)",
        operation_id="layer_import_create",
    )
    def post(self, request, slug: str):
        actor = actor_for(request.user)
        if actor.is_anonymous:
            raise NotAuthenticated(message("Cần đăng nhập.", "Authentication required."))
        layer = layer_get_for_user(actor=actor, slug=slug)
        if not layer_can_edit(actor=actor, layer=layer):
            raise PermissionDenied(message("Bạn không có quyền sửa lớp này.", "You may not edit this layer."))
        # Refuse an oversized body from its header, before reading it.
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
        if declared > settings.UPLOAD_MAX_BYTES + 1024 * 1024:
            return _too_large()

        params = QueryParams(request.data)
        mode = params.choice("mode", ImportJob.Mode.values, default=ImportJob.Mode.REPLACE)
        upload = request.FILES.get("file")
        if upload is None:
            params.fail("file", "Thiếu tệp tải lên.", "A file is required.")
        params.raise_if_invalid()
        if upload.size > settings.UPLOAD_MAX_BYTES:
            return _too_large()
        try:
            job = import_job_create(
                layer=layer, acting_user=request.user, source_name=upload.name or "", mode=mode, upload=upload
            )
        except ImportRefused as refusal:
            return Response({"file": [str(refusal)]}, status=status.HTTP_400_BAD_REQUEST)
        return Response(_job_json(request, job), status=status.HTTP_202_ACCEPTED)


def _too_large() -> Response:
    limit_mb = settings.UPLOAD_MAX_BYTES // (1024 * 1024)
    return Response(
        {"file": [message(f"Tệp quá lớn; giới hạn {limit_mb} MB.", f"File too large; the limit is {limit_mb} MB.")]},
        status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    )


class ImportJobDetailApi(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT}, summary="An import job: status, progress and counts")
    def get(self, request, job_id: int):
        job = _job_for(actor=actor_for(request.user), job_id=job_id)
        return Response(_job_json(request, job))


class ImportJobErrorsApi(APIView):
    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.BINARY}, summary="The error report of an import job")
    def get(self, request, job_id: int):
        job = _job_for(actor=actor_for(request.user), job_id=job_id)
        storage = media_storage()
        if not job.error_report_path or not storage.exists(job.error_report_path):
            raise Http404
        handle = storage.open(job.error_report_path, "rb")
        return download_response(handle, filename=f"import-{job.pk}-errors.csv", content_type=CSV_CONTENT_TYPE)


class LayerExportApi(APIView):
    renderer_classes = [JSONRenderer]

    def perform_content_negotiation(self, request, force=False):
        # `format` names the file format here, not DRF's renderer override;
        # errors are JSON and the file goes out as a FileResponse.
        renderer = JSONRenderer()
        return renderer, renderer.media_type

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "format",
                str,
                enum=[*EXPORT_FORMATS, "html"],
                description="Default gpkg. `html`: a standalone map that opens offline (at most "
                f"{MAX_FEATURES:,} features, else 413 naming `bbox`).",
            ),
            bbox_parameter(),
        ],
        responses={
            **{(200, spec.content_type): OpenApiTypes.BINARY for spec in EXPORT_FORMATS.values()},
            (200, "text/html"): OpenApiTypes.BINARY,
            413: None,  # format=html beyond its cap; the body is the portal's (gisportal/schema.py)
        },
        summary="Export a layer, or the features in a bbox or matching property values, as a file",
        description="Any other query parameter named like a field of the layer's schema filters on equality.",
        operation_id="layer_export",
    )
    def get(self, request, slug: str):
        layer = layer_get_for_user(actor=actor_for(request.user), slug=slug)
        params = QueryParams(request.GET)
        format = params.choice("format", [*EXPORT_FORMATS, "html"], default="gpkg")
        bbox = params.bbox("bbox")
        properties = {}
        for name, value in request.GET.items():
            if name in RESERVED_EXPORT_PARAMETERS:
                continue
            if name == "lang" and layer.field(name) is None:
                continue  # the page language (the HTML map's), unless the layer has a field of that name
            if layer.field(name) is None:
                params.fail(name, "Không phải trường của lớp.", "Not a field of this layer.")
                continue
            try:
                typed_value(layer, name, value)
            except ValueError:
                params.fail(name, "Giá trị không đúng kiểu của trường.", "Value does not match the field's type.")
                continue
            properties[name] = value
        params.raise_if_invalid()

        if format == "html":
            features = features_of(layer=layer, bbox=bbox, properties=properties or None)
            selection = ", ".join([*(f"{k}={v}" for k, v in properties.items()), *(["bbox"] if bbox else [])])
            body = layer_html_map(
                layer=layer,
                features_queryset=features,
                period=f"{timezone.localdate():%Y-%m-%d}" + (f" ({selection})" if selection else ""),
            )
            return html_map_response(body, filename=f"{layer.slug}.html")
        spec = EXPORT_FORMATS[format]
        folder = Path(tempfile.mkdtemp(prefix="export-"))
        try:
            path = folder / f"{layer.slug}{spec.extension}"
            layer_export(
                layer=layer,
                path=path,
                format=format,
                features_queryset=features_of(layer=layer, bbox=bbox, properties=properties or None),
            )
            handle = path.open("rb")
        finally:
            # The open handle keeps the bytes readable after the folder is gone.
            shutil.rmtree(folder, ignore_errors=True)
        return download_response(handle, filename=f"{layer.slug}{spec.extension}", content_type=spec.content_type)
