"""Dossier density API and tiles:
GET /api/v1/analytics/density/?cell=h3|commune&res=&era=&from=&to=&procedure=&sector=&channel=&status=
GET /tiles/analytics/density/{z}/{x}/{y}.pbf?res=&from=&to=&procedure=&sector=&channel=&status=

Officials only: dossier locations are personal data, so even counts per
small cell are not public. Anonymous callers get 401, citizens 403."""

import datetime as dt
import json

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Min
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from dossiers.models import Channel, Dossier, Procedure, Sector, Status
from gisportal.accounts.selectors import actor_for
from gisportal.api import OfficialApiView, QueryParams, month_start
from gisportal.htmlmap import html_map_response
from layers.models import Era

from .density import RESOLUTIONS, DensityFilters, density_commune_geojson, density_h3_geojson_text, density_tile
from .html_exports import density_html

CELLS = ("h3", "commune")
FORMATS = ("json", "html")
ERAS = (Era.POST_2025.value, Era.PRE_2025.value)
MVT_CONTENT_TYPE = "application/vnd.mapbox-vector-tile"
MAX_ZOOM = 22


def default_from(date_to: dt.date) -> dt.date:
    """A year back: the day after the same date last year."""
    try:
        return date_to.replace(year=date_to.year - 1) + dt.timedelta(days=1)
    except ValueError:  # 29 February
        return date_to.replace(year=date_to.year - 1, day=28) + dt.timedelta(days=1)


EARLIEST = dt.date(1900, 1, 1)
LATEST = dt.date(2199, 12, 31)


def _date(params: QueryParams, name: str, default: dt.date) -> dt.date:
    value = params.date(name, default=default)
    if not EARLIEST <= value <= LATEST:
        params.fail(name, "Ngày phải trong khoảng 1900-2199.", "The date must be within 1900-2199.")
        return default
    return value


def _code(params: QueryParams, name: str) -> str | None:
    value = params.raw(name)
    if value is not None and ("\x00" in value or len(value) > 100):
        params.fail(name, "Mã không hợp lệ.", "Invalid code.")
        return None
    return value


def _filters(params: QueryParams) -> DensityFilters:
    date_to = _date(params, "to", timezone.localdate())
    date_from = _date(params, "from", default_from(date_to))
    if "from" not in params.errors and "to" not in params.errors and date_from > date_to:
        params.fail("to", "Ngày 'to' phải bằng hoặc sau ngày 'from'.", "'to' must be on or after 'from'.")
    procedure_id = sector_id = None
    procedure_code = _code(params, "procedure")
    if procedure_code is not None:
        procedure_id = Procedure.objects.filter(code=procedure_code).values_list("id", flat=True).first()
        if procedure_id is None:
            params.fail("procedure", "Không có thủ tục mang mã này.", "No procedure has this code.")
    sector_code = _code(params, "sector")
    if sector_code is not None:
        sector_id = Sector.objects.filter(code=sector_code).values_list("id", flat=True).first()
        if sector_id is None:
            params.fail("sector", "Không có lĩnh vực mang mã này.", "No sector has this code.")
    channel = params.choice("channel", [str(c) for c in Channel.values])
    status = params.choice("status", Status.values)
    return DensityFilters(
        date_from=date_from,
        date_to=date_to,
        procedure_id=procedure_id,
        sector_id=sector_id,
        channel=int(channel) if channel else None,
        status=status,
    )


def density_params(query) -> tuple[str, int, str, DensityFilters]:
    """(cell, res, era, filters) from query parameters; BadParameters (400)
    naming each bad one."""
    params = QueryParams(query)
    cell = params.choice("cell", CELLS, default="h3")
    res = params.integer("res", default=8, low=RESOLUTIONS[0], high=RESOLUTIONS[-1])
    era = params.choice("era", ERAS, default=Era.POST_2025.value)
    filters = _filters(params)
    params.choice("format", FORMATS, default="json")  # read by the view; checked here with the rest
    params.raise_if_invalid()
    return cell, res, era, filters


_FILTER_PARAMETERS = [
    OpenApiParameter("from", OpenApiTypes.DATE, description="First day received (default: a year before `to`)."),
    OpenApiParameter("to", OpenApiTypes.DATE, description="Last day received, included (default: today)."),
    OpenApiParameter("procedure", OpenApiTypes.STR, description="National procedure code, e.g. 1.001193."),
    OpenApiParameter("sector", OpenApiTypes.STR, description="Sector code."),
    OpenApiParameter("channel", OpenApiTypes.INT, enum=[1, 2, 3], description="1 in person, 2 online, 3 post."),
    OpenApiParameter("status", OpenApiTypes.STR, enum=list(Status.values)),
    OpenApiParameter("res", OpenApiTypes.INT, enum=list(RESOLUTIONS), description="H3 resolution (default 8)."),
]


class DensityApi(OfficialApiView):
    @extend_schema(
        summary="Dossiers counted per H3 cell or per commune (GeoJSON FeatureCollection)",
        parameters=[
            OpenApiParameter("cell", OpenApiTypes.STR, enum=list(CELLS), description="Default h3."),
            OpenApiParameter("era", OpenApiTypes.STR, enum=list(ERAS), description="Communes of which map (commune)."),
            *_FILTER_PARAMETERS,
            OpenApiParameter(
                "format",
                OpenApiTypes.STR,
                enum=list(FORMATS),
                description="Default json; html: the map as a standalone file that opens offline.",
            ),
        ],
        responses={200: OpenApiTypes.OBJECT, (200, "text/html"): OpenApiTypes.BINARY, 413: None},
    )
    def get(self, request):
        cell, res, era, filters = density_params(request.query_params)
        if request.query_params.get("format") == "html":
            if cell == "h3":
                collection = json.loads(density_h3_geojson_text(filters=filters, res=res))
            else:
                collection = density_commune_geojson(filters=filters, era=era)
            body = density_html(
                collection=collection, cell=cell, res=res, date_from=filters.date_from, date_to=filters.date_to
            )
            name = f"mat-do-ho-so-{cell}-{filters.date_from:%Y%m%d}-{filters.date_to:%Y%m%d}.html"
            return html_map_response(body, filename=name)
        if cell == "h3":
            # Written as text from kept per-cell fragments: at thousands of
            # cells, building and encoding dicts took longer than counting.
            return HttpResponse(density_h3_geojson_text(filters=filters, res=res), content_type="application/json")
        return Response(density_commune_geojson(filters=filters, era=era))


class DensityTileApi(OfficialApiView):
    @extend_schema(
        summary="Mapbox vector tile of the H3 dossier counts (layer `density`; 204 when empty)",
        parameters=_FILTER_PARAMETERS,
        responses={(200, MVT_CONTENT_TYPE): OpenApiTypes.BINARY, 204: None},
    )
    def get(self, request, z: int, x: int, y: int):
        params = QueryParams(request.query_params)
        if not 0 <= z <= MAX_ZOOM:
            params.fail("z", f"Mức thu phóng phải trong [0, {MAX_ZOOM}].", f"Zoom must be within [0, {MAX_ZOOM}].")
        elif not (0 <= x < 2**z and 0 <= y < 2**z):
            params.fail("x", "Ô lưới nằm ngoài mức thu phóng.", "The tile is outside this zoom level.")
        res = params.integer("res", default=8, low=RESOLUTIONS[0], high=RESOLUTIONS[-1])
        filters = _filters(params)
        params.raise_if_invalid()
        data = density_tile(filters=filters, res=res, z=z, x=x, y=y)
        response = HttpResponse(data, content_type=MVT_CONTENT_TYPE, status=200 if data else 204)
        if not data:
            del response["Content-Type"]
        response["Cache-Control"] = "private, max-age=60"
        return response


# --- the page (here beside its API: it is the API's only client) ----------------------------------


def _page_config(*, first_month: dt.date, last_month: dt.date, today: dt.date, window: int) -> dict:
    return {
        "apiUrl": reverse("api-analytics-density"),
        # The month slider: step i is the i-th month from `firstMonth`; the
        # script turns a step and a window into whole-month `from`/`to`.
        "firstMonth": first_month.strftime("%Y-%m"),
        "lastMonth": last_month.strftime("%Y-%m"),
        "today": today.isoformat(),
        "window": window,
        "strings": {
            "loading": _("Loading…"),
            "failed": _("Could not load the counts."),
            "dossiers": _("dossiers"),
            "perThousand": _("per 1,000 inhabitants"),
            "noData": _("No dossiers match these filters."),
            "shown": _("%(areas)s areas, %(dossiers)s dossiers"),
            "play": _("Play month by month"),
            "pause": _("Pause"),
        },
    }


@login_required
def density_page(request):
    if not actor_for(request.user).is_official:
        raise PermissionDenied(_("Only officials may see the dossier density."))
    windows_months, default_window = (1, 3, 6, 12), 12
    fallback_months_back = 24  # without any dossier yet, the slider still reaches two years back
    today = timezone.localdate()
    last_month = month_start(today)
    earliest = Dossier.objects.aggregate(earliest=Min("received_at"))["earliest"]
    if earliest is None:
        first_month = month_start(today, fallback_months_back)
    else:
        first_month = min(month_start(timezone.localdate(earliest)), last_month)
    # The page opens on the last `default_window` whole months, up to today.
    date_from = month_start(today, default_window - 1)
    context = {
        "date_from": date_from,
        "date_to": today,
        "month_steps": (last_month.year - first_month.year) * 12 + last_month.month - first_month.month,
        "windows": windows_months,
        "default_window": default_window,
        "period_label": f"{date_from:%m/%Y} – {today:%m/%Y}",
        "resolutions": RESOLUTIONS,
        "default_res": 8,
        "procedures": Procedure.objects.order_by("code").values("code", "name"),
        "sectors": Sector.objects.order_by("name").values("code", "name"),
        "channels": Channel.choices,
        "statuses": Status.choices,
        "density_config": _page_config(
            first_month=first_month, last_month=last_month, today=today, window=default_window
        ),
    }
    return render(request, "maps/density.html", context)
