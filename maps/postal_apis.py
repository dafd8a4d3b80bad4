"""The postal map for officials: parcels in progress and deliveries by
commune as GeoJSON, and the page /planning/postal/ that draws both (read
only, like every planning page). Anonymous callers get 401 (API) or the
login page, citizens 403."""

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from gisportal.api import BadParameters, OfficialApiView, QueryParams, default_period
from postal.models import IN_PROGRESS_STATUSES, Leg

from .load_apis import PERIOD_PARAMETERS, parameter_errors, period_parse, require_official
from .postal import deliveries_geojson, shipments_in_progress_geojson
from .views import base_tiles

_IN_PROGRESS = [str(s) for s in IN_PROGRESS_STATUSES]


def in_progress_params(query) -> tuple[str | None, str | None]:
    params = QueryParams(query)
    leg = params.choice("leg", Leg.values)
    status = params.choice("status", _IN_PROGRESS)
    params.raise_if_invalid()
    return leg, status


def deliveries_params(query):
    params = QueryParams(query)
    date_from, date_to = period_parse(params)
    params.raise_if_invalid()
    return date_from, date_to


class ShipmentsInProgressApi(OfficialApiView):
    @extend_schema(
        summary="Parcels on their way (public post), at their last known position: post office, desk or commune",
        parameters=[
            OpenApiParameter("leg", OpenApiTypes.STR, enum=Leg.values, description="Default: both."),
            OpenApiParameter("status", OpenApiTypes.STR, enum=_IN_PROGRESS, description="Default: all in progress."),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        leg, status = in_progress_params(request.query_params)
        return Response(shipments_in_progress_geojson(leg=leg, status=status))


class DeliveriesByCommuneApi(OfficialApiView):
    @extend_schema(
        summary="Results sent by post per commune (2025 map): delivered, failed, failure rate, median working days",
        parameters=PERIOD_PARAMETERS,
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        date_from, date_to = deliveries_params(request.query_params)
        return Response(deliveries_geojson(date_from=date_from, date_to=date_to))


@login_required
def postal_page(request):
    require_official(request)
    errors: dict = {}
    try:
        date_from, date_to = deliveries_params(request.GET)
    except BadParameters as error:
        errors = parameter_errors(error)
        date_from, date_to = default_period(timezone.localdate())
    deliveries = deliveries_geojson(date_from=date_from, date_to=date_to)
    query = {"from": date_from.isoformat(), "to": date_to.isoformat()}
    config = {
        "tiles": base_tiles(),
        "deliveries": deliveries,
        "inProgressUrl": reverse("api-analytics-shipments"),
        "strings": {
            "failureRate": _("Failed deliveries (share)"),
            "medianDays": _("Median working days from hand-over to delivery"),
            "inProgress": _("Parcels on their way"),
            "ended": _("Results sent by post, delivery ended"),
            "delivered": _("Delivered"),
            "failed": _("Failed at least once or returned"),
            "noData": _("no delivery in the period"),
            "inbound": _("Dossier to the desk"),
            "outbound": _("Result to the applicant"),
            "since": _("since"),
            "loadingFailed": _("Could not load the parcels on their way."),
        },
    }
    rows = sorted(
        (f["properties"] for f in deliveries["features"] if f["properties"]["ended"]),
        key=lambda p: (-(p["failure_rate"] or 0), p["name"]),
    )
    context = {
        "rows": rows,
        "date_from": date_from,
        "date_to": date_to,
        "errors": errors,
        "json_url": f"{reverse('api-analytics-deliveries')}?{urlencode(query)}",
        "in_progress_url": reverse("api-analytics-shipments"),
        "postal_config": config,
    }
    return render(request, "maps/postal.html", context, status=400 if errors else 200)
