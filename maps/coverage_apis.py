"""Coverage planning APIs (public: coverage is about places, not people):

- GET /api/v1/analytics/coverage/?kind=&radius_m=&on=|era=&format=json|geojson
- GET /api/v1/analytics/catchments/?kind=&on=|era=&from=&to=
- GET /api/v1/analytics/coverage/suggest/?kind=&radius_m=&on=|era=&count=

and the planning page /planning/coverage/ that draws them."""

import datetime as dt

from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from gisportal.api import PublicApiView, QueryParams, date_parameter, integer_parameter, number_parameter
from gisportal.htmlmap import html_map_response
from gisportal.spreadsheets import generated_at_now
from gisportal.throttling import PublicLookupThrottle

from . import coverage
from .html_exports import coverage_html

DEFAULT_KIND = "post_office"
DEFAULT_RADIUS_M = 2000.0
ERAS = ("2019", "2025")

_KIND = OpenApiParameter("kind", str, enum=list(coverage.KINDS), description="default post_office")
_RADIUS = number_parameter(
    "radius_m", low=coverage.RADIUS_MIN_M, high=coverage.RADIUS_MAX_M, description="metres, default 2000"
)
_ON = date_parameter("on", description="the map in force that day (2025 communes from 2025-07-01)")
_ERA = OpenApiParameter("era", str, enum=list(ERAS), description="alternative to `on`")


def _common(params: QueryParams, *, radius: bool) -> dict:
    """kind, radius_m, and the map (era) chosen by `on` (or `era`)."""
    kind = params.choice("kind", coverage.KINDS, default=DEFAULT_KIND)
    values: dict = {"kind": kind}
    if radius:
        radius_m = params.number("radius_m", low=coverage.RADIUS_MIN_M, high=coverage.RADIUS_MAX_M)
        values["radius_m"] = DEFAULT_RADIUS_M if radius_m is None else radius_m
    on = params.date("on")
    era = params.choice("era", ERAS)
    if on is not None:
        on_era = coverage.era_for(on)
        if era is not None and era != on_era:
            params.fail(
                "era",
                f"Ngày {on.isoformat()} thuộc bản đồ {on_era}, không phải {era}.",
                f"The date {on.isoformat()} falls in the {on_era} map, not {era}.",
            )
        era = on_era
    elif era is None and "on" not in params.errors:
        on = timezone.localdate()
        era = coverage.era_for(on)
    values.update(on=on.isoformat() if on else None, era=era)
    return values


class _CoverageBase(PublicApiView):
    throttle_classes = [PublicLookupThrottle]


class CoverageApi(_CoverageBase):
    @extend_schema(
        parameters=[
            _KIND,
            _RADIUS,
            _ON,
            _ERA,
            OpenApiParameter(
                "format",
                str,
                enum=["json", "geojson", "html"],
                description="html: the map as a standalone file that opens offline.",
            ),
        ],
        responses={200: OpenApiTypes.OBJECT, (200, "text/html"): OpenApiTypes.BINARY},
        summary="Share of each commune's population within radius_m of a service point of a kind",
        operation_id="analytics_coverage",
    )
    def get(self, request):
        params = QueryParams(request.query_params)
        values = _common(params, radius=True)
        output = params.choice("format", ("json", "geojson", "html"), default="json")
        params.raise_if_invalid()
        data = coverage.coverage_by_commune(
            kind=values["kind"],
            radius_m=values["radius_m"],
            era=values["era"],
            with_geometry=output in ("geojson", "html"),
        )
        if output == "html":
            features = [{"type": "Feature", "geometry": c.pop("geometry"), "properties": c} for c in data["communes"]]
            body = coverage_html(
                features=features, kind=values["kind"], radius_m=values["radius_m"], on=values["on"], era=values["era"]
            )
            name = f"do-phu-{values['kind']}-{values['radius_m']:.0f}m-{values['era']}.html"
            return html_map_response(body, filename=name)
        # When the figures were computed: a saved answer says its moment.
        meta = {**values, "method": coverage.METHOD, "generated_at": generated_at_now()}
        if output == "geojson":
            features = [
                {
                    "type": "Feature",
                    "id": c["code"],
                    "geometry": c.pop("geometry"),
                    "properties": c,
                }
                for c in data["communes"]
            ]
            return Response(
                {
                    "type": "FeatureCollection",
                    **meta,
                    "summary": data["summary"],
                    "worst": data["worst"],
                    "features": features,
                }
            )
        return Response({**meta, **data})


class CatchmentsApi(_CoverageBase):
    @extend_schema(
        parameters=[
            _KIND,
            _ON,
            _ERA,
            OpenApiParameter("from", OpenApiTypes.DATE, description="dossiers received from this day"),
            OpenApiParameter("to", OpenApiTypes.DATE, description="dossiers received up to this day"),
        ],
        responses={200: OpenApiTypes.OBJECT},
        summary="Nearest-facility area (Voronoi, clipped to the province) of each service point (GeoJSON)",
        operation_id="analytics_catchments",
    )
    def get(self, request):
        params = QueryParams(request.query_params)
        values = _common(params, radius=False)
        date_from = params.date("from")
        date_to = params.date("to")
        if date_from and date_to and date_from > date_to:
            params.fail("to", "Ngày 'to' phải bằng hoặc sau ngày 'from'.", "'to' must be on or after 'from'.")
        params.raise_if_invalid()
        data = coverage.catchments(kind=values["kind"], era=values["era"], date_from=date_from, date_to=date_to)
        return Response(
            {
                "type": "FeatureCollection",
                **values,
                "from": date_from.isoformat() if date_from else None,
                "to": date_to.isoformat() if date_to else None,
                "method": coverage.CATCHMENT_METHOD,
                "features": data["features"],
            }
        )


class CoverageSuggestApi(_CoverageBase):
    @extend_schema(
        parameters=[_KIND, _RADIUS, _ON, _ERA, integer_parameter("count", low=1, high=coverage.SUGGEST_MAX, default=1)],
        responses={200: OpenApiTypes.OBJECT},
        summary="Greedy suggestion of new service-point sites covering the most uncovered population",
        operation_id="analytics_coverage_suggest",
    )
    def get(self, request):
        params = QueryParams(request.query_params)
        values = _common(params, radius=True)
        count = params.integer("count", default=1, low=1, high=coverage.SUGGEST_MAX)
        params.raise_if_invalid()
        data = coverage.coverage_suggest(
            kind=values["kind"], radius_m=values["radius_m"], era=values["era"], count=count
        )
        return Response(
            {
                **values,
                "count": count,
                "method": coverage.suggest_method(values["radius_m"]),
                **data,
            }
        )


def _page_strings() -> dict[str, str]:
    return {
        "share": _("Coverage share"),
        "population": _("Population"),
        "covered": _("Covered population"),
        "uncovered": _("Uncovered population"),
        "unknown": _("Population unknown"),
        "gain": _("One more service point here would cover about {gain} more people."),
        "summary": _("{share} of {population} inhabitants live within {radius} m."),
        "summaryExcluded": _("{count} communes with unknown population are left out of these figures."),
        "loading": _("Computing coverage…"),
        "failed": _("The request failed: {message}"),
        "catchment": _("Catchment"),
        "dossiers": _("Dossiers"),
    }


def coverage_page(request):
    """Static page + config; the browser reads everything from the APIs."""
    current_day = max(timezone.localdate(), coverage.ERA_2025_START)
    config = {
        "coverageUrl": reverse("api-analytics-coverage"),
        "catchmentsUrl": reverse("api-analytics-catchments"),
        "suggestUrl": reverse("api-analytics-coverage-suggest"),
        "pointsUrl": "/api/v1/service-points/",
        "radiusMin": coverage.RADIUS_MIN_M,
        "radiusMax": 10_000,
        "radius": DEFAULT_RADIUS_M,
        "on": current_day.isoformat(),
        "strings": _page_strings(),
    }
    kinds = [
        {"key": "post_office", "label": _("Post office (public postal service)")},
        {"key": "commune_desk", "label": _("Commune one-stop desk")},
        {"key": "provincial_centre", "label": _("Provincial public administration service centre")},
        {"key": "any", "label": _("Any type")},
    ]
    dates = [
        {"on": current_day.isoformat(), "label": _("2025 (current, after the merger)")},
        {"on": dt.date(2024, 1, 1).isoformat(), "label": _("2019 (before 1 July 2025)")},
    ]
    return render(request, "maps/coverage.html", {"config": config, "kinds": kinds, "dates": dates})
