"""Batch nearest runs for planners (officials): start one, follow it, read
its result. POST /api/v1/analytics/nearest-runs/ queues a run for the
worker (202); GET .../{id}/ answers its status and, once it has succeeded,
the load of each service point."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from gisportal.accounts.selectors import actor_for
from gisportal.api import BadParameters, OfficialApiView
from gisportal.messages import message
from gisportal.outbox import outbox_state_message

from .batch_nearest import BatchNearestError, nearest_run_create, nearest_run_loads
from .models import NearestRun, ServicePointKind
from .registries.selectors import layers_visible_to

_RUN_FIELDS = ("id", "source", "kind", "status", "points", "service_points", "mean_distance_m", "max_distance_m")
_START = inline_serializer(
    "NearestRunStart",
    {
        "source": serializers.ChoiceField(choices=["dossiers", "feedback", "features"]),
        "kind": serializers.ChoiceField(choices=ServicePointKind.values),
        "layer": serializers.SlugField(required=False, help_text="A Point registry, for source=features."),
    },
)


def run_json(run: NearestRun) -> dict:
    data = {name: getattr(run, name) for name in _RUN_FIELDS}
    data["layer"] = run.layer.slug if run.layer_id else None
    data["message"] = run.message or (outbox_state_message(run) if run.status == NearestRun.Status.QUEUED else "")
    for name in ("created_at", "started_at", "finished_at"):
        value = getattr(run, name)
        data[name] = value.isoformat() if value else None
    return data


class NearestRunsApi(OfficialApiView):
    @extend_schema(
        summary="Start a batch nearest run: every point of a source to its nearest service point of a kind",
        request=_START,
        responses={202: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT},
    )
    def post(self, request):
        data = request.data if hasattr(request.data, "get") else {}
        source, kind, slug = data.get("source"), data.get("kind"), data.get("layer")
        errors: dict[str, list[str]] = {}
        for name, value in (("source", source), ("kind", kind)):
            if not isinstance(value, str) or not value:
                errors[name] = [message("Bắt buộc.", "Required.")]
        if slug is not None and not isinstance(slug, str):
            errors["layer"] = [message("Phải là mã lớp dữ liệu.", "Must be a layer slug.")]
        if errors:
            raise BadParameters(errors)
        layer_id = None
        if slug:
            layer = layers_visible_to(actor_for(request.user)).filter(slug=slug).first()
            if layer is None:
                raise BadParameters({"layer": [message("Không có lớp dữ liệu này.", "No such layer.")]})
            layer_id = layer.pk
        try:
            run = nearest_run_create(source=source, kind=kind, layer_id=layer_id, acting_user=request.user)
        except BatchNearestError as error:
            raise BadParameters({error.field: [message(error.vi, error.en)]}) from error
        return Response(run_json(run), status=status.HTTP_202_ACCEPTED)


class NearestRunApi(OfficialApiView):
    @extend_schema(
        summary="A batch nearest run: status, and once succeeded the load of each service point",
        parameters=[OpenApiParameter("run_id", OpenApiTypes.INT, OpenApiParameter.PATH)],
        responses={200: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT},
    )
    def get(self, request, run_id: int):
        run = NearestRun.objects.select_related("layer").filter(pk=run_id).first()
        if run is None or (
            run.layer_id and not layers_visible_to(actor_for(request.user)).filter(pk=run.layer_id).exists()
        ):
            raise NotFound(message("Không có lượt chạy này.", "No such run."))
        data = run_json(run)
        data["service_point_loads"] = nearest_run_loads(run=run) if run.status == NearestRun.Status.SUCCEEDED else []
        return Response(data)
