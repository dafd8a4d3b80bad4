"""JSON API of the spatial foundation. Views parse, call a selector, shape."""

import json

from django.http import Http404, HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from gisportal.api import (
    PublicApiView,
    QueryParams,
    bbox_parameter,
    integer_parameter,
    number_parameter,
    numbers_pattern,
    page_links,
    public_answer,
)
from gisportal.fastpath import answer_within_rate
from gisportal.renderers import json_body

from . import selectors
from .models import AdministrativeUnit, Era, ServicePointKind, UnitLevel

MAX_PAGE = 10_000
MAX_OFFSET = 10**9


def _unit_properties(unit: AdministrativeUnit) -> dict:
    return {
        "code": unit.code,
        "name": unit.name,
        "full_name": unit.full_name,
        "name_en": unit.name_en,
        "level": unit.level,
        "era": unit.era,
        "parent_code": unit.parent.code if unit.parent_id else None,
        "valid_from": unit.valid_from.isoformat() if unit.valid_from else None,
        "valid_to": unit.valid_to.isoformat() if unit.valid_to else None,
        "population": unit.population,
        "population_year": unit.population_year,
    }


def _unit_feature(unit: AdministrativeUnit) -> dict:
    geometry = json.loads(unit.geojson) if getattr(unit, "geojson", None) else json.loads(unit.geom.geojson)
    return {
        "type": "Feature",
        "id": f"{unit.era}-{unit.code}",
        "geometry": geometry,
        "properties": _unit_properties(unit),
    }


def _point_feature(*, id: int, lon: float, lat: float, properties: dict) -> dict:
    return {
        "type": "Feature",
        "id": id,
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": properties,
    }


UNIT_PARAMETERS = [
    OpenApiParameter("level", str, enum=UnitLevel.values),
    OpenApiParameter("on", OpenApiTypes.DATE, description="Units in force on this day (default today)."),
    OpenApiParameter("era", str, enum=Era.values, description="Only units of this era (with no `on`: all its units)."),
    OpenApiParameter(
        "contains",
        {"type": "string", "pattern": numbers_pattern(2)},
        description="LON,LAT: only units containing this point.",
    ),
    OpenApiParameter("geometry", str, enum=["full", "simplified"], description="Simplified outlines (~50 m) for maps."),
    integer_parameter("limit", low=1, high=MAX_PAGE, default=100, description="Page size."),
    integer_parameter("offset", low=0, high=MAX_OFFSET, default=0),
]


class AdminUnitListApi(PublicApiView):
    @extend_schema(
        parameters=UNIT_PARAMETERS,
        responses={200: OpenApiTypes.OBJECT},
        summary="Administrative units (GeoJSON)",
        operation_id="admin_units_list",
    )
    def get(self, request):
        params, query = unit_list_query(request.GET)
        params.raise_if_invalid()
        return unit_list_answer(request, query)

    @staticmethod
    def body(request, on, level, era, contains, geometry, limit, offset) -> bytes:
        units = selectors.unit_list(on=on, level=level, era=era, contains=contains, simplified=geometry == "simplified")
        page = list(units[offset : offset + limit + 1])
        has_more = len(page) > limit
        page = page[:limit]
        links = page_links(
            request, offset=offset, limit=limit, returned=len(page), total=None if has_more else offset + len(page)
        )
        # Outlines are spliced in as PostGIS wrote them: decoding and
        # re-encoding a page of communes (250 KB of coordinates) cost 30 ms.
        render = json_body
        features = b",".join(
            b'{"type":"Feature","id":%s,"geometry":%s,"properties":%s}'
            % (render(f"{u.era}-{u.code}"), (u.geojson or "null").encode(), render(_unit_properties(u)))
            for u in page
        )
        rest = render({"numberReturned": len(page), **links})
        return b'{"type":"FeatureCollection","features":[' + features + b"]," + rest[1:]


UnitListQuery = tuple  # (on, level, era, contains, geometry, limit, offset), AdminUnitListApi.body's order


def unit_list_query(query) -> tuple[QueryParams, UnitListQuery]:
    """The parameters of a units list, read from the query string, with
    their problems in the QueryParams."""
    params = QueryParams(query)
    level = params.choice("level", UnitLevel.values)
    era = params.choice("era", Era.values)
    on = params.date("on")
    contains = params.lon_lat("contains")
    geometry = params.choice("geometry", ["full", "simplified"], default="full")
    limit = params.integer("limit", default=100, low=1, high=MAX_PAGE)
    offset = params.integer("offset", default=0, low=0, high=MAX_OFFSET)
    return params, (on, level, era, contains, geometry, limit, offset)


def unit_list_answer(request, query: UnitListQuery) -> HttpResponse:
    """AdminUnitListApi's answer: the page, kept per version of the units."""
    return public_answer(
        request,
        key=f"units:{timezone.localdate()}:{request.build_absolute_uri()}",
        version=selectors.units_version(),
        make=lambda: AdminUnitListApi.body(request, *query),
    )


# --- the lean path (gisportal/fastpath.py) -------------------------------------------


def unit_list_accept(query) -> UnitListQuery | None:
    """The parameters of a units list whose parameters are valid; None (the
    view's 400 names each bad one) for any other."""
    params, values = unit_list_query(query)
    return None if params.errors else values


def unit_list_lean_answer(request, query: UnitListQuery, view) -> HttpResponse:
    """What AdminUnitListApi answers, without DRF's dispatch: the same rate
    limit (its count beside the read), kept answer and headers."""
    return answer_within_rate(request, view, lambda: unit_list_answer(request, query))


class AdminUnitDetailApi(PublicApiView):
    @extend_schema(
        parameters=[UNIT_PARAMETERS[1], UNIT_PARAMETERS[2]],
        responses={200: OpenApiTypes.OBJECT},
        summary="One administrative unit with its successors and predecessors",
        operation_id="admin_units_retrieve",
    )
    def get(self, request, code: str):
        params = QueryParams(request.GET)
        on = params.date("on")
        era = params.choice("era", Era.values)
        params.raise_if_invalid()
        unit = selectors.unit_get(code=code, on=on, era=era)
        if unit is None:
            raise Http404
        feature = _unit_feature(unit)

        def brief(other: AdministrativeUnit) -> dict:
            return {"code": other.code, "name": other.full_name, "era": other.era, "level": other.level}

        feature["properties"]["successors"] = [brief(u) for u in unit.successors.order_by("code")]
        feature["properties"]["predecessors"] = [brief(u) for u in unit.predecessors.order_by("code")]
        feature["properties"]["children_count"] = unit.children.count()
        return Response(feature)


MATCH_MAX_ADDRESS = 300


class AdminUnitMatchApi(PublicApiView):
    """GET /api/v1/admin-units/match/?address=: the units whose name is in a
    typed address (with or without diacritics), each as a point inside it."""

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "address",
                {"type": "string", "minLength": 1, "maxLength": MATCH_MAX_ADDRESS},
                required=True,
                description="A free-text address, e.g. 'so 12 nguyen gia thieu, phuong kinh bac'.",
            ),
            OpenApiParameter("level", str, enum=UnitLevel.values, description="Default commune."),
            OpenApiParameter("on", OpenApiTypes.DATE, description="Units in force on this day (default today)."),
            integer_parameter("limit", low=1, high=20, default=5),
        ],
        responses={200: OpenApiTypes.OBJECT},
        summary="Administrative units named in a typed address (diacritics optional), best first",
        operation_id="admin_units_match",
    )
    def get(self, request):
        params = QueryParams(request.GET)
        address = params.raw("address")
        if address is None and "address" not in params.errors:
            params.fail("address", "Thiếu tham số bắt buộc.", "This parameter is required.")
        elif address is not None and len(address) > MATCH_MAX_ADDRESS:
            params.fail("address", f"Tối đa {MATCH_MAX_ADDRESS} ký tự.", f"At most {MATCH_MAX_ADDRESS} characters.")
        level = params.choice("level", UnitLevel.values, default=UnitLevel.COMMUNE)
        on = params.date("on")
        limit = params.integer("limit", default=5, low=1, high=20)
        params.raise_if_invalid()

        matches = selectors.units_matching_address(address=address, on=on, level=level, limit=limit)
        features = [
            _point_feature(
                id=rank,
                lon=m.lon,
                lat=m.lat,
                properties={
                    "rank": rank,
                    "code": m.code,
                    "name": m.name,
                    "full_name": m.full_name,
                    "era": m.era,
                    "score": round(m.score, 3),
                },
            )
            for rank, m in enumerate(matches, start=1)
        ]
        return Response({"type": "FeatureCollection", "query": {"address": address}, "features": features})


KIND_CHOICES = [*ServicePointKind.values, "any"]


class ServicePointListApi(PublicApiView):
    @extend_schema(
        parameters=[
            OpenApiParameter("kind", str, enum=KIND_CHOICES),
            bbox_parameter(),
            integer_parameter("limit", low=1, high=MAX_PAGE, default=100),
            integer_parameter("offset", low=0, high=MAX_OFFSET, default=0),
        ],
        responses={200: OpenApiTypes.OBJECT},
        summary="Service points (GeoJSON), paged with a `next` link",
        operation_id="service_points_list",
    )
    def get(self, request):
        params = QueryParams(request.GET)
        kind = params.choice("kind", KIND_CHOICES, default="any")
        bbox = params.bbox("bbox")
        limit = params.integer("limit", default=100, low=1, high=MAX_PAGE)
        offset = params.integer("offset", default=0, low=0, high=MAX_OFFSET)
        params.raise_if_invalid()

        points = selectors.service_point_list(kind=None if kind == "any" else kind, bbox=bbox)
        page = list(points[offset : offset + limit + 1])
        has_more = len(page) > limit
        page = page[:limit]
        links = page_links(
            request, offset=offset, limit=limit, returned=len(page), total=None if has_more else offset + len(page)
        )
        features = [
            _point_feature(
                id=p.id,
                lon=p.geom.x,
                lat=p.geom.y,
                properties={
                    "code": p.code,
                    "kind": p.kind,
                    "kind_label": p.get_kind_display(),
                    "name": p.name,
                    "address": p.address,
                    "opening_hours": p.opening_hours,
                    "counters": p.counters,
                    "phone": p.phone,
                    "admin_unit_code": p.admin_unit.code if p.admin_unit_id else None,
                    "is_demo": p.is_demo,
                },
            )
            for p in page
        ]
        return Response({"type": "FeatureCollection", "features": features, "numberReturned": len(features), **links})


def nearest_point_feature(*, rank: int, point: selectors.NearestPoint) -> dict:
    """One answer of the nearest look-up as a GeoJSON feature (the fields of
    the public contract of GET /api/v1/service-points/nearest/)."""
    return _point_feature(
        id=point.id,
        lon=point.lon,
        lat=point.lat,
        properties={
            "rank": rank,
            "distance_m": round(point.distance_m, 1),
            "code": point.code,
            "kind": point.kind,
            "name": point.name,
            "address": point.address,
            "admin_unit_code": point.admin_unit_code,
            "opening_hours": point.opening_hours,
            "counters": point.counters,
            "phone": point.phone,
            "is_demo": point.is_demo,
        },
    )


# The nearest look-up's parameters as the schema declares them; its view is
# `maps.nearest_apis.ServicePointNearestApi`, which adds "where can I get this
# done, now" (procedures, opening hours, load) from the other apps.
NEAREST_PARAMETERS = [
    number_parameter("lon", low=-180, high=180, required=True),
    number_parameter("lat", low=-90, high=90, required=True),
    OpenApiParameter("kind", str, enum=KIND_CHOICES, description="Default any"),
    integer_parameter("limit", low=1, high=50, default=5),
]


def nearest_params(params: QueryParams) -> tuple[float | None, float | None, str, int]:
    """lon, lat, kind, limit of the nearest look-up (problems noted in `params`)."""
    lon = params.number("lon", low=-180, high=180, required=True)
    lat = params.number("lat", low=-90, high=90, required=True)
    kind = params.choice("kind", KIND_CHOICES, default="any")
    limit = params.integer("limit", default=5, low=1, high=50)
    return lon, lat, kind, limit


def nearest_plain(*, lon: float, lat: float, kind: str, limit: int) -> dict:
    """The answer without the "now" parameters: the `limit` nearest points of
    `kind` by geodesic distance, as it has always been."""
    nearest = selectors.service_points_nearest(lon=lon, lat=lat, kind=None if kind == "any" else kind, limit=limit)
    return {
        "type": "FeatureCollection",
        "query": {"lon": lon, "lat": lat, "kind": kind, "limit": limit},
        "features": [nearest_point_feature(rank=rank, point=p) for rank, p in enumerate(nearest, start=1)],
    }


PLACES_MAX_QUERY = 100


class PlaceSearchApi(PublicApiView):
    """GET /api/v1/places/search/?q=: communes and wards of the current map and
    service points by name or address, diacritics optional (the submit map's
    address search). Rate-limited like every public look-up."""

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "q",
                {"type": "string", "minLength": 1, "maxLength": PLACES_MAX_QUERY, "pattern": "\\S"},
                required=True,
                description="A place name or address, e.g. 'kinh bac' or 'Phường Vũ Ninh'.",
            ),
            integer_parameter("limit", low=1, high=20, default=8),
        ],
        responses={200: OpenApiTypes.OBJECT},
        summary="Communes, wards and service points by name (diacritics optional), best first",
        operation_id="places_search",
    )
    def get(self, request):
        params = QueryParams(request.GET)
        q = params.raw("q")
        if q is None and "q" not in params.errors:
            params.fail("q", "Cần từ khóa tìm kiếm (tên xã, phường, địa điểm).", "A place name to search is required.")
        elif q is not None and len(q) > PLACES_MAX_QUERY:
            params.fail("q", f"Tối đa {PLACES_MAX_QUERY} ký tự.", f"At most {PLACES_MAX_QUERY} characters.")
        limit = params.integer("limit", default=8, low=1, high=20)
        params.raise_if_invalid()
        results = [
            {
                "type": hit.type,
                "code": hit.code,
                "name": hit.name,
                # A unit's full name ("Phường Kinh Bắc"), a point's address.
                "detail": hit.detail,
                "kind": hit.kind,
                "commune_code": hit.commune_code,
                "score": round(hit.score, 3),
                "point": {"type": "Point", "coordinates": [hit.lon, hit.lat]},
                "bbox": list(hit.bbox) if hit.bbox else None,
            }
            for hit in selectors.places_search(q=q, limit=limit)
        ]
        return Response({"query": q, "results": results})
