"""Public JSON API of the procedure catalogue: search and detail."""

import re

from django.contrib.gis.geos import Point
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from gisportal.accounts.models import Agency
from gisportal.api import (
    BadParameters,
    PublicApiView,
    QueryParams,
    integer_parameter,
    json_response,
    message,
    number_parameter,
    page_links,
)
from gisportal.fastpath import answer_within_rate

from . import catalogue, desks
from .models import AdministrativeLevel, OnlineLevel, Procedure, Sector
from .process import steps_public

DEFAULT_PAGE = 20
MAX_PAGE = 100
MAX_OFFSET = 10**6
MAX_QUERY_LENGTH = 200


def _brief(request, procedure: Procedure, urls: "_ProcedureUrls | None" = None) -> dict:
    api_url, page_url = (urls or _ProcedureUrls(request)).of(procedure.code)
    return {
        "code": procedure.code,
        "name": procedure.name,
        "sector": {"code": procedure.sector.code, "name": procedure.sector.name},
        "agency": {"code": procedure.agency.code, "name": procedure.agency.name},
        "level": procedure.level,
        "online_level": procedure.online_level,
        "old_online_level": procedure.old_online_level,
        "processing_days": procedure.processing_days,
        "fee_vnd": procedure.fee_vnd,
        "postal_submission_allowed": procedure.postal_submission_allowed,
        "postal_result_allowed": procedure.postal_result_allowed,
        "url": api_url,
        "page_url": page_url,
    }


class _ProcedureUrls:
    """A procedure's two absolute URLs (its API detail and its page), for
    every procedure of one answer: each reversed and made absolute once,
    then the code put in (reversing twice a procedure was a fifth of a page
    of 20's time). A code that a path would quote (none of the national
    ones) is reversed as usual."""

    _MARK = "0procedure-code0"
    _PLAIN = re.compile(r"[0-9A-Za-z._-]+")

    def __init__(self, request):
        self.request = request
        # (start, end) of each URL around the code: the mark's last place (the host cannot be after it).
        self.api = request.build_absolute_uri(reverse("api-procedure-detail", args=[self._MARK])).rpartition(self._MARK)
        self.page = request.build_absolute_uri(reverse("procedure-detail", args=[self._MARK])).rpartition(self._MARK)

    def of(self, code: str) -> tuple[str, str]:
        if not self._PLAIN.fullmatch(code):
            return tuple(
                self.request.build_absolute_uri(reverse(name, args=[code]))
                for name in ("api-procedure-detail", "procedure-detail")
            )
        return self.api[0] + code + self.api[2], self.page[0] + code + self.page[2]


def _form(request, form) -> dict:
    url = request.build_absolute_uri(form.file.url) if form.file else form.url
    return {"title": form.title, "url": url}


def _known(model, name: str, value: str | None, params: QueryParams) -> str | None:
    """`value` if some row of `model` has that code; otherwise the parameter
    is reported (a typo must not look like an empty result)."""
    if value and not model.objects.filter(code=value).exists():
        params.fail(name, f"Không có mã {value}.", f"No {name} has the code {value}.")
        return None
    return value


def _text(query, name: str, params: QueryParams, *, max_length: int) -> str | None:
    value = (query.get(name) or "").strip()
    if not all(ch.isprintable() or ch.isspace() for ch in value):
        params.fail(name, "Chứa ký tự điều khiển.", "Contains control characters.")
        return None
    if len(value) > max_length:
        params.fail(name, f"Dài quá {max_length} ký tự.", f"Longer than {max_length} characters.")
        return None
    return value or None


LIST_PARAMETERS = [
    OpenApiParameter(
        "q", str, description="Name (with or without Vietnamese diacritics, any case) or national code, e.g. 1.001193."
    ),
    OpenApiParameter("sector", str, description="Sector code, e.g. ho-tich."),
    OpenApiParameter("agency", str, description="Implementing agency code, e.g. ubnd-xa, so-tp."),
    OpenApiParameter("level", str, enum=AdministrativeLevel.values),
    OpenApiParameter("online_level", str, enum=OnlineLevel.values),
    integer_parameter("limit", low=1, high=MAX_PAGE, default=DEFAULT_PAGE, description="Page size."),
    integer_parameter("offset", low=0, high=MAX_OFFSET, default=0),
]


class ProcedureListApi(PublicApiView):
    @extend_schema(
        parameters=LIST_PARAMETERS,
        responses={200: OpenApiTypes.OBJECT},
        summary="Search the procedure catalogue (best match first)",
        operation_id="procedures_list",
    )
    def get(self, request):
        params, search = procedure_list_query(request.GET)
        params.raise_if_invalid()
        return Response(procedure_list_data(request, search))


def procedure_list_query(query) -> tuple[QueryParams, dict]:
    """The search's parameters (`procedures_search_page`'s arguments), with
    their problems in the QueryParams; a sector or agency code is checked
    against its table."""
    params = QueryParams(query)
    search = {
        "q": _text(query, "q", params, max_length=MAX_QUERY_LENGTH),
        "sector": _known(Sector, "sector", _text(query, "sector", params, max_length=40), params),
        "agency": _known(Agency, "agency", _text(query, "agency", params, max_length=40), params),
        "level": params.choice("level", AdministrativeLevel.values),
        "online_level": params.choice("online_level", OnlineLevel.values),
        "limit": params.integer("limit", default=DEFAULT_PAGE, low=1, high=MAX_PAGE),
        "offset": params.integer("offset", default=0, low=0, high=MAX_OFFSET),
    }
    return params, search


def procedure_list_data(request, search: dict) -> dict:
    """ProcedureListApi's answer to a valid search: one page, best match first."""
    total, page = catalogue.procedures_search_page(**search)
    links = page_links(request, offset=search["offset"], limit=search["limit"], returned=len(page), total=total)
    urls = _ProcedureUrls(request)
    return {"count": total, **links, "results": [_brief(request, p, urls) for p in page]}


# --- the lean path (gisportal/fastpath.py) -------------------------------------------


def procedure_list_accept(query) -> dict | None:
    """The parameters of a valid search by words, level or online level;
    None for any other (the view's 400 names a bad parameter). A search by
    sector or agency, whose codes are checked against their tables, is left
    to the view."""
    if query.get("sector") or query.get("agency"):
        return None
    params, search = procedure_list_query(query)
    return None if params.errors else search


def procedure_list_lean_answer(request: HttpRequest, search: dict, view) -> HttpResponse:
    """What ProcedureListApi answers, without DRF's dispatch: the same rate
    limit (its count beside the search), page, renderer and headers."""

    def answer() -> HttpResponse:
        return json_response(procedure_list_data(request, search))

    return answer_within_rate(request, view, answer)


class ProcedureDetailApi(PublicApiView):
    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        summary="One procedure with its documents, forms and legal basis",
        operation_id="procedures_retrieve",
    )
    def get(self, request, code: str):
        procedure = catalogue.procedure_get(code=code)
        if procedure is None:
            raise NotFound(message(f"Không có thủ tục mã {code}.", f"No procedure has the code {code}."))
        return Response(
            {
                **_brief(request, procedure),
                "required_documents": procedure.required_documents,
                "result": procedure.result,
                "fee_note": procedure.fee_note,
                "legal_basis": procedure.legal_basis,
                "is_demo_values": procedure.is_demo_values,
                "forms": [_form(request, form) for form in procedure.forms.all()],
                "national_portal_url": catalogue.national_portal_url(procedure.code),
                # Its own process (issue #15): [] = the workflow table as it stands.
                "process": steps_public(procedure),
                "updated_at": procedure.updated_at.isoformat(),
            }
        )


class ProcedureDesksApi(PublicApiView):
    """GET /api/v1/procedures/{code}/desks/?lon=&lat=: the service points that
    may receive this procedure's dossier for an address there, the proposed
    one first, each with its reason in both languages and its geodesic
    distance (dossiers.desks). Post offices follow as drop-off points when
    the procedure may be sent by post."""

    @extend_schema(
        parameters=[
            number_parameter("lon", low=-180, high=180, required=True, description="WGS84 longitude of the address"),
            number_parameter("lat", low=-90, high=90, required=True, description="WGS84 latitude of the address"),
        ],
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT},
        summary="Which desks may receive this procedure for this address, and why one is proposed",
        operation_id="procedures_desks",
    )
    def get(self, request, code: str):
        params = QueryParams(request.GET)
        lon = params.number("lon", low=-180, high=180, required=True)
        lat = params.number("lat", low=-90, high=90, required=True)
        params.raise_if_invalid()
        procedure = catalogue.procedure_get(code=code)
        if procedure is None:
            raise NotFound(message(f"Không có thủ tục mã {code}.", f"No procedure has the code {code}."))
        commune = desks.commune_at(lon, lat)
        if commune is None:
            outside = message("Vị trí nằm ngoài tỉnh.", "The location is outside the province.")
            raise BadParameters({"lon": [outside], "lat": [outside]})
        found = desks.eligible_desks(procedure=procedure, commune=commune, origin=Point(lon, lat, srid=4326))
        features = []
        proposed_done = False
        for rank, desk in enumerate(found, start=1):
            point = desk.point
            proposed = desk.role == desks.RECEIVING and not proposed_done
            proposed_done = proposed_done or proposed
            features.append(
                {
                    "type": "Feature",
                    "id": point.code,
                    "geometry": {"type": "Point", "coordinates": [point.geom.x, point.geom.y]},
                    "properties": {
                        "rank": rank,
                        "code": point.code,
                        "name": point.name,
                        "kind": point.kind,
                        "address": point.address,
                        "role": desk.role,
                        "proposed": proposed,
                        "distance_m": round(point.distance_m, 1),
                        "reason": {"vi": desk.reason.vi, "en": desk.reason.en},
                    },
                }
            )
        others_may, others_reason = desks.other_commune_desks(procedure=procedure, commune=commune)
        return Response(
            {
                "type": "FeatureCollection",
                "procedure": {"code": procedure.code, "name": procedure.name, "level": procedure.level},
                # Whether a commune desk not listed may receive it too (a submission there is refused if not).
                "other_commune_desks": {
                    "may_receive": others_may,
                    "reason": {"vi": others_reason.vi, "en": others_reason.en},
                },
                "commune": {"code": commune.code, "name": commune.name, "full_name": commune.full_name},
                "query": {"lon": lon, "lat": lat},
                "features": features,
            }
        )
