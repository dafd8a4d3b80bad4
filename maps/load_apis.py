"""Load, accessibility and Decision 766 indicator APIs, and their two pages
(/planning/load/, /planning/indicators/). Officials only: anonymous callers
get 401 (API) or the login page, citizens 403."""

import datetime as dt
import io
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from gisportal.accounts.selectors import actor_for
from gisportal.api import BadParameters, OfficialApiView, QueryParams, default_period, number_parameter
from gisportal.downloads import download_response
from gisportal.htmlmap import html_map_response
from gisportal.messages import in_language
from gisportal.spreadsheets import CSV_CONTENT_TYPE, csv_bytes, generated_at_now, with_period, xlsx_row
from layers.models import ServicePointKind

from .html_exports import indicators_html, load_html
from .indicators766 import GROUP_BY, INDICATORS, export_table, indicators_766
from .load import commune_accessibility, service_point_load
from .views import base_tiles

FORMATS = ("json", "csv", "xlsx", "html")
LOAD_FORMATS = ("json", "html")
# Longest period one request may cover: ten years of DailyStat rows is still cheap.
MAX_PERIOD_DAYS = 3660
DEFAULT_RADIUS_M = 5000.0
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def period_parse(params: QueryParams) -> tuple[dt.date, dt.date]:
    date_to = params.date("to", default=timezone.localdate())
    date_from = params.date("from", default=default_period(date_to)[0])
    if "from" not in params.errors and "to" not in params.errors:
        if date_from > date_to:
            # Name the parameter that was sent: a default cannot be wrong.
            name = "to" if params.query.get("to") else "from"
            params.fail(name, "Ngày 'to' phải bằng hoặc sau ngày 'from'.", "'to' must be on or after 'from'.")
        elif (date_to - date_from).days > MAX_PERIOD_DAYS:
            params.fail("from", "Khoảng thời gian tối đa 10 năm.", "The period may cover at most 10 years.")
    return date_from, date_to


def load_params(query) -> tuple[dt.date, dt.date, str | None]:
    params = QueryParams(query)
    date_from, date_to = period_parse(params)
    kind = params.choice("kind", ServicePointKind.values)
    params.choice("format", LOAD_FORMATS, default="json")  # read by the API
    params.raise_if_invalid()
    return date_from, date_to, kind


def accessibility_params(query) -> tuple[dt.date, float, str | None]:
    params = QueryParams(query)
    kind = params.choice("kind", ServicePointKind.values)
    radius = params.number("radius_m", low=100, high=100_000)
    on = params.date("on", default=timezone.localdate())
    params.raise_if_invalid()
    return on, DEFAULT_RADIUS_M if radius is None else radius, kind


def indicator_params(query) -> tuple[str, dt.date, dt.date, str]:
    params = QueryParams(query)
    group_by = params.choice("group_by", GROUP_BY, default="province")
    date_from, date_to = period_parse(params)
    output = params.choice("format", FORMATS, default="json")
    if output == "html" and params.query.get("group_by", "commune") != "commune":
        params.fail(
            "group_by",
            "Bản đồ HTML vẽ theo xã: dùng group_by=commune hoặc bỏ trống.",
            "The HTML map is drawn per commune: use group_by=commune or leave it out.",
        )
    if output == "html":
        group_by = "commune"
    params.raise_if_invalid()
    return group_by, date_from, date_to, output


PERIOD_PARAMETERS = [
    OpenApiParameter("from", OpenApiTypes.DATE, description="First day (default: 1st of the month, 11 months ago)."),
    OpenApiParameter("to", OpenApiTypes.DATE, description="Last day, on or after `from` (default: today)."),
]
_KIND = OpenApiParameter("kind", OpenApiTypes.STR, enum=list(ServicePointKind.values), description="Default: all.")


class ServicePointLoadApi(OfficialApiView):
    @extend_schema(
        summary="Load per service point: received per counter per working day, open queue, late share",
        parameters=[
            *PERIOD_PARAMETERS,
            _KIND,
            OpenApiParameter(
                "format",
                OpenApiTypes.STR,
                enum=list(LOAD_FORMATS),
                description="Default json; html: the map as a standalone file that opens offline.",
            ),
        ],
        responses={200: OpenApiTypes.OBJECT, (200, "text/html"): OpenApiTypes.BINARY},
    )
    def get(self, request):
        date_from, date_to, kind = load_params(request.query_params)
        data = service_point_load(date_from=date_from, date_to=date_to, kind=kind)
        if request.query_params.get("format") == "html":
            body = load_html(collection=data, date_from=date_from, date_to=date_to)
            name = f"tai-diem-phuc-vu-{date_from:%Y%m%d}-{date_to:%Y%m%d}.html"
            return html_map_response(body, filename=name)
        return Response(data)


class AccessibilityApi(OfficialApiView):
    @extend_schema(
        summary="Two-step floating catchment accessibility per commune (counters per 10,000 inhabitants)",
        parameters=[
            _KIND,
            number_parameter("radius_m", low=100, high=100_000, description="Catchment radius d0 in metres."),
            OpenApiParameter("on", OpenApiTypes.DATE, description="Communes in force that day (default today)."),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        on, radius, kind = accessibility_params(request.query_params)
        return Response(commune_accessibility(on=on, radius_m=radius, kind=kind))


def _csv_response(header: list[str], table: list[list], name: str, period: dict) -> HttpResponse:
    header, table = with_period(header, table, **period)
    return download_response(csv_bytes([header, *table]), filename=f"{name}.csv", content_type=CSV_CONTENT_TYPE)


def _xlsx_response(header: list[str], table: list[list], name: str, period: dict) -> HttpResponse:
    from openpyxl import Workbook

    header, table = with_period(header, table, **period)
    book = Workbook()
    sheet = book.active
    sheet.title = "Chỉ số 766"
    sheet.append(xlsx_row(header))
    for line in table:
        sheet.append(xlsx_row(line))
    sheet.freeze_panes = "A2"
    about = book.create_sheet("Thông tin - About")
    for line in (
        ("Kỳ từ ngày / Period from", str(period["date_from"])),
        ("Đến ngày / Period to", str(period["date_to"])),
        ("Thời điểm lập / Generated at", period["generated_at"]),
    ):
        about.append(xlsx_row(line))
    out = io.BytesIO()
    book.save(out)
    return download_response(out.getvalue(), filename=f"{name}.xlsx", content_type=XLSX_TYPE)


class Indicators766Api(OfficialApiView):
    @extend_schema(
        summary="Decision 766 service-quality indicators with their full-score thresholds",
        parameters=[
            OpenApiParameter("group_by", OpenApiTypes.STR, enum=list(GROUP_BY), description="Default province."),
            *PERIOD_PARAMETERS,
            OpenApiParameter(
                "format",
                OpenApiTypes.STR,
                enum=list(FORMATS),
                description="Default json. html: the on-time share per commune as a standalone map that opens "
                "offline (group_by commune, or left out).",
            ),
        ],
        responses={
            200: OpenApiTypes.OBJECT,
            (200, "text/html"): OpenApiTypes.BINARY,
            (200, "text/csv"): OpenApiTypes.BINARY,
            (200, XLSX_TYPE): OpenApiTypes.BINARY,
        },
    )
    def get(self, request):
        group_by, date_from, date_to, output = indicator_params(request.query_params)
        data = indicators_766(group_by=group_by, date_from=date_from, date_to=date_to)
        data["generated_at"] = generated_at_now()
        if output == "json":
            return Response(data)
        name = f"chi-so-766-{group_by}-{date_from:%Y%m%d}-{date_to:%Y%m%d}"
        if output == "html":
            body = indicators_html(data=data, date_from=date_from, date_to=date_to)
            return html_map_response(body, filename=f"{name}.html")
        header, table = export_table(data)
        period = {
            "date_from": date_from.isoformat(),
            "date_to": date_to.isoformat(),
            "generated_at": data["generated_at"],
        }
        return (_csv_response if output == "csv" else _xlsx_response)(header, table, name, period)


# --- pages ---------------------------------------------------------------------------


def require_official(request) -> None:
    if not actor_for(request.user).is_official:
        raise PermissionDenied(_("Only officials may see this page."))


def _kinds() -> list[dict]:
    return [
        {"key": "", "label": _("All kinds")},
        {"key": "provincial_centre", "label": _("Provincial public administration service centre")},
        {"key": "commune_desk", "label": _("Commune one-stop desk")},
        {"key": "post_office", "label": _("Post office (public postal service)")},
    ]


def parameter_errors(error: BadParameters) -> dict:
    return {name: [str(m) for m in messages] for name, messages in error.detail.items()}


@login_required
def load_page(request):
    require_official(request)
    errors: dict = {}
    try:
        date_from, date_to, kind = load_params(request.GET)
    except BadParameters as error:
        errors = parameter_errors(error)
        kind = None
        date_from, date_to = default_period(timezone.localdate())
    data = service_point_load(date_from=date_from, date_to=date_to, kind=kind)
    query = {"from": date_from.isoformat(), "to": date_to.isoformat(), **({"kind": kind} if kind else {})}
    config = {
        "tiles": base_tiles(),
        "load": data,
        "accessibilityUrl": f"{reverse('api-analytics-accessibility')}?"
        + urlencode({**({"kind": kind} if kind else {}), "radius_m": int(DEFAULT_RADIUS_M)}),
        "strings": {
            "received": _("Dossiers received"),
            "perCounterDay": _("Received per counter per working day"),
            "openQueue": _("Open queue"),
            "lateShare": _("Late share"),
            "counters": _("Counters"),
            "overloaded": _("Overloaded"),
            "legendTitle": _("Received per counter per working day"),
            "legendOverloaded": _("Overloaded: more than %(norm)s per counter per working day (the capacity norm)")
            % {"norm": _number(data["capacity_per_counter_per_day"])},
            "legendNone": _("Nothing received in the period"),
            "accessLegendTitle": _("Accessibility (counters per 10,000 inhabitants)"),
            "accessNoData": _("No data: population unknown, left out of the score"),
            "accessibility": _("Accessibility (counters per 10,000 inhabitants)"),
            "population": _("Population"),
            "unknown": _("unknown"),
            "loadingFailed": _("Could not load the accessibility layer."),
        },
    }
    context = {
        "data": data,
        "capacity": data["capacity_per_counter_per_day"],
        "features": data["features"],
        "kinds": _kinds(),
        "kind": kind or "",
        "date_from": date_from,
        "date_to": date_to,
        "errors": errors,
        "json_url": f"{reverse('api-analytics-load')}?{urlencode(query)}",
        "html_url": f"{reverse('api-analytics-load')}?{urlencode({**query, 'format': 'html'})}",
        "load_config": config,
    }
    return render(request, "maps/load.html", context, status=400 if errors else 200)


@login_required
def indicators_page(request):
    require_official(request)
    errors: dict = {}
    try:
        group_by, date_from, date_to, _output = indicator_params(request.GET)
    except BadParameters as error:
        errors = parameter_errors(error)
        group_by = "province"
        date_from, date_to = default_period(timezone.localdate())
    data = indicators_766(group_by=group_by, date_from=date_from, date_to=date_to)
    communes = data if group_by == "commune" else None
    if communes is None:
        communes = indicators_766(group_by="commune", date_from=date_from, date_to=date_to)
    query = {"group_by": group_by, "from": date_from.isoformat(), "to": date_to.isoformat()}
    url = reverse("api-analytics-indicators")
    chart_rows = data["rows"][:15]
    config = {
        "tiles": base_tiles(),
        "chart": {
            "labels": [in_language(row["label"]) for row in chart_rows],
            "onTime": [_percent(row["indicators"]["on_time"]["value"]) for row in chart_rows],
            "onlineSubmission": [_percent(row["indicators"]["online_submission"]["value"]) for row in chart_rows],
        },
        "communeOnTime": {
            row["key"]: _percent(row["indicators"]["on_time"]["value"]) for row in communes["rows"] if row["key"]
        },
        "unitsUrl": f"{reverse('admin-unit-list')}?"
        + urlencode(
            {
                "level": "commune",
                "geometry": "simplified",
                "limit": 1000,
                "on": max(timezone.localdate(), dt.date(2025, 7, 1)).isoformat(),
            }
        ),
        "strings": {
            "onTime": _("Done early or on time (%)"),
            "onlineSubmission": _("Online submission rate (%)"),
            "noData": _("no finished dossier"),
            "legendNoData": _("No data: no dossier finished in the period"),
        },
    }
    shown = list(INDICATORS)
    context = {
        "data": data,
        "indicators": shown,
        "rows": [
            {**row, "label": in_language(row["label"]), "cells": [row["indicators"][spec["key"]] for spec in shown]}
            for row in data["rows"]
        ],
        "group_choices": [
            {"key": "province", "label": _("Whole province")},
            {"key": "agency", "label": _("Agency")},
            {"key": "service_point", "label": _("Service point")},
            {"key": "commune", "label": _("Commune (2025 map)")},
        ],
        "group_by": group_by,
        "date_from": date_from,
        "date_to": date_to,
        "errors": errors,
        "csv_url": f"{url}?{urlencode({**query, 'format': 'csv'})}",
        "xlsx_url": f"{url}?{urlencode({**query, 'format': 'xlsx'})}",
        "json_url": f"{url}?{urlencode(query)}",
        "html_url": f"{url}?{urlencode({**query, 'group_by': 'commune', 'format': 'html'})}",
        "indicators_config": config,
    }
    return render(request, "maps/indicators.html", context, status=400 if errors else 200)


def _number(value: float) -> str:
    """A norm as people write it: 32, not 32.0."""
    return f"{value:g}"


def _percent(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)
