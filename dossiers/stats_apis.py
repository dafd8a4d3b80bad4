"""Dossier indicators: GET /api/v1/stats/dossiers/?group_by=&from=&to=
(JSON, or CSV with ?format=csv or Accept: text/csv).

Officials only (desk and processing officers, leaders, administrators); every
official sees the whole province's indicators, which are counts, not
personal data. Citizens get 403, anonymous callers 401."""

import datetime as dt

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.authentication import SessionAuthentication
from rest_framework.renderers import BaseRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from gisportal.accounts.authentication import ApiTokenAuthentication
from gisportal.api import IsOfficial, QueryParams, default_period
from gisportal.downloads import content_disposition
from gisportal.renderers import JSONRenderer
from gisportal.spreadsheets import csv_bytes, generated_at_now, with_period

from .stats_selectors import GROUP_BY, MEASURES, dossier_indicators

CSV_COLUMNS = ("key", "label", *MEASURES)
FORMATS = ("json", "csv")


class IndicatorsCsvRenderer(BaseRenderer):
    """The rows, then a total line, as CSV in UTF-8 with a BOM (so Excel
    reads the Vietnamese labels right) and no cell a spreadsheet would run."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        total = {**data["totals"], "key": "total", "label": "Tổng / Total"}
        header, rows = with_period(
            CSV_COLUMNS,
            ([row[c] for c in CSV_COLUMNS] for row in [*data["rows"], total]),
            date_from=data["from"],
            date_to=data["to"],
            generated_at=data.get("generated_at") or generated_at_now(),
        )
        return csv_bytes([header, *rows])


def indicator_params(query) -> tuple[str, dt.date, dt.date, str]:
    """(group_by, from, to, format) from query parameters; BadParameters (400)
    naming each bad one."""
    params = QueryParams(query)
    group_by = params.choice("group_by", GROUP_BY, default="none")
    today = timezone.localdate()
    date_to = params.date("to", default=today)
    date_from = params.date("from", default=default_period(date_to)[0])
    output = params.choice("format", FORMATS, default="json")
    if "from" not in params.errors and "to" not in params.errors and date_from > date_to:
        params.fail("to", "Ngày 'to' phải bằng hoặc sau ngày 'from'.", "'to' must be on or after 'from'.")
    params.raise_if_invalid()
    return group_by, date_from, date_to, output


class DossierIndicatorsApi(APIView):
    # Token first, so an anonymous caller gets 401 with WWW-Authenticate.
    authentication_classes = [ApiTokenAuthentication, SessionAuthentication]
    permission_classes = [IsOfficial]
    renderer_classes = [JSONRenderer, IndicatorsCsvRenderer]
    throttle_classes: list = []

    def perform_content_negotiation(self, request, force=False):
        # Only the figures of a GET have a CSV form: an OPTIONS answer (DRF's
        # metadata) is JSON whatever was asked for.
        if request.method not in ("GET", "HEAD"):
            return JSONRenderer(), JSONRenderer.media_type
        if request.query_params.get("format") == "csv":
            renderer = IndicatorsCsvRenderer()
            return renderer, renderer.media_type
        return super().perform_content_negotiation(request, force)

    def handle_exception(self, exc):
        # Errors are JSON, whatever format was asked for.
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)

    @extend_schema(
        summary="Dossier indicators: early / on-time / late, online share, average processing time",
        parameters=[
            OpenApiParameter("group_by", OpenApiTypes.STR, enum=list(GROUP_BY), description="Default none."),
            OpenApiParameter(
                "from", OpenApiTypes.DATE, description="First day (default: 1st of the month, 11 months ago)."
            ),
            OpenApiParameter("to", OpenApiTypes.DATE, description="Last day, on or after `from` (default: today)."),
            OpenApiParameter("format", OpenApiTypes.STR, enum=list(FORMATS), description="csv: the rows as CSV."),
        ],
        responses={200: OpenApiTypes.OBJECT, (200, "text/csv"): OpenApiTypes.BINARY},
    )
    def get(self, request):
        group_by, date_from, date_to, _output = indicator_params(request.query_params)
        data = dossier_indicators(group_by=group_by, date_from=date_from, date_to=date_to)
        data["generated_at"] = generated_at_now()
        response = Response(data)
        if isinstance(request.accepted_renderer, IndicatorsCsvRenderer):
            name = f"dossier-indicators-{group_by}-{date_from:%Y%m%d}-{date_to:%Y%m%d}.csv"
            response["Content-Disposition"] = content_disposition(name)
        return response
