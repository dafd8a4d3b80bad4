"""Registry API under /api/v1/layers/: the layers a caller may see, spatial
questions about their features, and feature edits.

Spatial questions:
- within a distance of a point: `?lon=&lat=&within_m=`, geodesic metres on
  the WGS84 ellipsoid (geography), nearest first, each with `distance_m`;
- inside an administrative unit: `?admin_unit=CODE&era=2019|2025`, features
  that intersect the unit's outline (a parcel across the border counts);
- intersecting a drawn polygon: POST .../features/intersecting/;
- counts per commune: points by the commune containing them, lines and
  polygons by their ST_PointOnSurface (one commune each). A point exactly on
  a shared border counts in both communes.
A layer the caller may not see is a 404, the same as a missing one."""

import json
import math
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.http import Http404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import NotAuthenticated, NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from gisportal.accounts.authentication import ApiTokenAuthentication
from gisportal.accounts.selectors import Actor, actor_for
from gisportal.api import (
    BadParameters,
    QueryParams,
    bbox_parameter,
    integer_parameter,
    message,
    number_parameter,
    page_links,
)

from ..models import AdministrativeUnit, Era, Feature, GeometryType, Layer, UnitLevel
from . import editing
from .ogc import FEATURE_JSON_SQL, GEOJSON_DECIMALS
from .selectors import layer_get_for_user, layers_editable_ids, layers_visible_to
from .serializers import FeatureDocumentSerializer, FeatureInputSerializer

MAX_PAGE = 10_000
DEFAULT_PAGE = 100
MAX_WITHIN_M = 50_000
MAX_OFFSET = 10**9
# Degrees of latitude per metre are largest at the equator (110,574 m per
# degree); a degree of longitude is at least 111,320 m x cos(latitude).
METRES_PER_DEGREE_LAT_MIN = 110_574.0
METRES_PER_DEGREE_LON_EQUATOR = 111_320.0
BOX_SAFETY = 1.02
COUNTS_CACHE_S = 24 * 3600
POLYGON_TYPES = frozenset({GeometryType.POLYGON, GeometryType.MULTIPOLYGON})


class RegistryApiView(APIView):
    # Token first: an anonymous write is then told to authenticate (401 with
    # WWW-Authenticate) rather than refused (403).
    authentication_classes = [ApiTokenAuthentication, SessionAuthentication]
    permission_classes: list = []


def _not_found() -> NotFound:
    return NotFound(message("Không có lớp dữ liệu này.", "No such layer."))


def _visible_layer(request, slug: str) -> Layer:
    try:
        return layer_get_for_user(actor=actor_for(request.user), slug=slug)
    except Http404 as exc:  # hidden and missing look the same
        raise _not_found() from exc


def _require_login(request) -> Actor:
    if not request.user or not request.user.is_authenticated:
        raise NotAuthenticated(message("Cần đăng nhập.", "Authentication is required."))
    return actor_for(request.user)


# --- the layers -----------------------------------------------------------------


def _layer_summary(request, layer: Layer, *, can_edit: bool) -> dict:
    def absolute(path: str) -> str:
        return request.build_absolute_uri(path)

    features = reverse("registry-layer-features", args=[layer.slug])
    return {
        "slug": layer.slug,
        "title": layer.title,
        "description": layer.description,
        "owner": {"code": layer.owner.code, "name": layer.owner.name},
        "geometry_type": layer.geometry_type,
        "visibility": layer.visibility,
        "schema": layer.schema,
        "time_field": layer.time_field or None,
        "feature_count": layer.feature_count,
        "version": layer.version,
        "bbox": list(layer.extent.extent) if layer.extent is not None else None,
        "attribution": layer.attribution,
        "license": layer.license,
        "is_demo": layer.is_demo,
        "can_edit": can_edit,
        "updated_at": layer.updated_at.isoformat(),
        "links": {
            "features": absolute(features),
            "counts_by_commune": absolute(reverse("registry-layer-counts", args=[layer.slug])),
            "ogc_collection": absolute(reverse("ogc-collection", args=[layer.slug])),
            "ogc_items": absolute(reverse("ogc-items", args=[layer.slug])),
            "tilejson": absolute(f"/tiles/{layer.slug}.json"),
        },
    }


class LayerListApi(RegistryApiView):
    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        summary="Registry layers the caller may see, with schema, counts and links",
        operation_id="registry_layers_list",
    )
    def get(self, request):
        actor = actor_for(request.user)
        layers = list(layers_visible_to(actor).order_by("slug"))
        editable = layers_editable_ids(actor=actor, layers=layers)
        return Response(
            {
                "count": len(layers),
                "layers": [_layer_summary(request, layer, can_edit=layer.pk in editable) for layer in layers],
            }
        )


# --- spatial questions: SQL -----------------------------------------------------


def _point_sql() -> str:
    return "ST_SetSRID(ST_MakePoint(%s, %s), 4326)"


def _degree_box(lat: float, metres: float) -> tuple[float, float] | None:
    """Half-widths in degrees of a box sure to hold every point within
    `metres` of a point at `lat`; None near the poles (no box then)."""
    d_lat = metres / METRES_PER_DEGREE_LAT_MIN * BOX_SAFETY
    lat_far = abs(lat) + d_lat
    if lat_far >= 89.0:
        return None
    d_lon = metres / (METRES_PER_DEGREE_LON_EQUATOR * math.cos(math.radians(lat_far))) * BOX_SAFETY
    return d_lon, d_lat


class FeatureFilter:
    """Conditions on layers_feature f, with their parameters, in order."""

    def __init__(self, layer: Layer):
        self.clauses = ["f.layer_id = %s::bigint"]
        self.values: list[Any] = [layer.pk]
        self.distance_from: tuple[float, float] | None = None

    def within(self, *, lon: float, lat: float, metres: float) -> None:
        box = _degree_box(lat, metres)
        if box is not None:
            # The (layer, geom) GiST index serves this box; the exact metre
            # test then runs only on the rows inside it.
            self.clauses.append(f"f.geom && ST_Expand({_point_sql()}, %s, %s)")
            self.values.extend([lon, lat, *box])
        self.clauses.append(f"ST_DWithin(f.geom::geography, {_point_sql()}::geography, %s)")
        self.values.extend([lon, lat, metres])
        self.distance_from = (lon, lat)

    def in_unit(self, unit_id: int) -> None:
        self.clauses.append("ST_Intersects(f.geom, (SELECT u.geom FROM layers_administrativeunit u WHERE u.id = %s))")
        self.values.append(unit_id)

    def intersecting(self, ewkb: bytes) -> None:
        self.clauses.append("ST_Intersects(f.geom, ST_GeomFromEWKB(%s))")
        self.values.append(ewkb)

    def in_bbox(self, bbox: tuple[float, float, float, float]) -> None:
        self.clauses.append("ST_Intersects(f.geom, ST_MakeEnvelope(%s, %s, %s, %s, 4326))")
        self.values.extend(bbox)


def features_page(*, feature_filter: FeatureFilter, limit: int, offset: int) -> list[str]:
    """A page (plus one row, to tell if there is more) of GeoJSON features as
    text written by PostGIS; nearest first when a distance applies."""
    where = " AND ".join(feature_filter.clauses)
    values = list(feature_filter.values)
    if feature_filter.distance_from:
        distance = f"ST_Distance(f.geom::geography, {_point_sql()}::geography)"
        inner = (
            f"SELECT f.id, f.geom, f.properties, {distance} AS distance_m FROM layers_feature f WHERE {where} "
            "ORDER BY distance_m, f.id LIMIT %s OFFSET %s"
        )
        values = [*feature_filter.distance_from, *values]
        row_json = (
            '\'{"type":"Feature","id":\' || f.id || \',"geometry":\' || ST_AsGeoJSON(f.geom, '
            + str(GEOJSON_DECIMALS)
            + ") || ',\"properties\":' || (f.properties || jsonb_build_object('distance_m', "
            "round(f.distance_m::numeric, 1)))::text || '}'"
        )
        order = "f.distance_m, f.id"
    else:
        inner = (
            f"SELECT f.id, f.geom, f.properties FROM layers_feature f WHERE {where} ORDER BY f.id LIMIT %s OFFSET %s"
        )
        row_json, order = FEATURE_JSON_SQL, "f.id"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {row_json} FROM ({inner}) f ORDER BY {order}", [*values, limit + 1, offset])
        return [row[0] for row in cursor.fetchall()]


def counts_by_commune(*, layer: Layer, era: str) -> dict:
    """Features per commune of `era`, cached per layer version. Walked commune
    by commune so that each point-in-polygon test reuses the prepared outline."""
    key = f"registry:counts:{layer.pk}:{layer.version}:{era}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    point = "f.geom" if layer.geometry_type == GeometryType.POINT else "ST_PointOnSurface(f.geom)"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT u.code, u.full_name, c.n
            FROM layers_administrativeunit u
            CROSS JOIN LATERAL (
                SELECT count(*) AS n FROM layers_feature f
                WHERE f.layer_id = %s::bigint AND f.geom && u.geom AND ST_Intersects(u.geom, {point})
            ) c
            WHERE u.era = %s AND u.level = %s
            ORDER BY u.code
            """,
            [layer.pk, era, UnitLevel.COMMUNE],
        )
        rows = cursor.fetchall()
        cursor.execute("SELECT count(*) FROM layers_feature WHERE layer_id = %s", [layer.pk])
        total = cursor.fetchone()[0]
    counted = sum(n for _, _, n in rows)
    result = {
        "layer": layer.slug,
        "era": era,
        "version": layer.version,
        "rule": "point in commune" if layer.geometry_type == GeometryType.POINT else "ST_PointOnSurface in commune",
        "total": total,
        # Features in no commune (outside the province); a point on a shared
        # border counts twice above, so this is never below zero.
        "outside": max(total - counted, 0),
        "communes": [{"code": code, "name": name, "count": n} for code, name, n in rows],
    }
    cache.set(key, result, COUNTS_CACHE_S)
    return result


# --- spatial questions: views -----------------------------------------------------


def _feature_collection(request, rows: list[str], *, limit: int, offset: int, extra: dict) -> Response:
    has_more = len(rows) > limit
    rows = rows[:limit]
    links = page_links(
        request, offset=offset, limit=limit, returned=len(rows), total=None if has_more else offset + len(rows)
    )
    head = {"type": "FeatureCollection", **extra, "numberReturned": len(rows), **links}
    features = [json.loads(row) for row in rows]
    return Response({**head, "features": features})


FEATURE_QUERY_PARAMETERS = [
    number_parameter("lon", low=-180, high=180, description="With lat and within_m: features within that many metres"),
    number_parameter("lat", low=-90, high=90),
    number_parameter("within_m", low=0, high=MAX_WITHIN_M, description="Metres, geodesic (WGS84)"),
    OpenApiParameter(
        "admin_unit",
        {"type": "string", "pattern": "^ *[0-9A-Za-z]{1,10} *$"},
        description="Unit code: features intersecting its outline",
    ),
    OpenApiParameter("era", str, enum=Era.values, description="Era of admin_unit (default 2025)"),
    bbox_parameter(),
    integer_parameter("limit", low=1, high=MAX_PAGE, default=DEFAULT_PAGE),
    integer_parameter("offset", low=0, high=MAX_OFFSET, default=0),
]


class LayerFeaturesApi(RegistryApiView):
    login_required_methods = ("POST",)  # for the schema: _require_login answers 401

    @extend_schema(
        parameters=FEATURE_QUERY_PARAMETERS,
        responses={200: OpenApiTypes.OBJECT},
        summary="Features of a layer: within a distance of a point, inside an administrative unit, in a bbox",
        operation_id="registry_features_list",
    )
    def get(self, request, slug: str):
        params = QueryParams(request.GET)
        lon = params.number("lon", low=-180, high=180)
        lat = params.number("lat", low=-90, high=90)
        within_m = params.number("within_m", low=0, high=MAX_WITHIN_M)
        unit_code = params.raw("admin_unit")
        era = params.choice("era", Era.values, default=Era.POST_2025)
        bbox = params.bbox("bbox")
        limit = params.integer("limit", default=DEFAULT_PAGE, low=1, high=MAX_PAGE)
        offset = params.integer("offset", default=0, low=0, high=MAX_OFFSET)
        near = {"lon": lon, "lat": lat, "within_m": within_m}
        sent = {name for name in near if params.raw(name) is not None}
        if sent and sent != set(near):
            for name in sorted(set(near) - sent):
                params.fail(
                    name,
                    "Cần đủ lon, lat và within_m cùng nhau.",
                    "lon, lat and within_m go together; this one is missing.",
                )
        if unit_code is not None and (len(unit_code) > 10 or not unit_code.isalnum()):
            params.fail("admin_unit", "Mã đơn vị không hợp lệ.", "Invalid unit code.")
            unit_code = None
        params.raise_if_invalid()

        layer = _visible_layer(request, slug)
        feature_filter = FeatureFilter(layer)
        extra: dict[str, Any] = {"layer": layer.slug}
        if unit_code is not None:
            unit = AdministrativeUnit.objects.filter(code=unit_code, era=era).values_list("id", "full_name").first()
            if unit is None:
                raise BadParameters(
                    {
                        "admin_unit": [
                            message(
                                f"Không có đơn vị hành chính mã {unit_code} thời kỳ {era}.",
                                f"No administrative unit {unit_code} in era {era}.",
                            )
                        ]
                    }
                )
            feature_filter.in_unit(unit[0])
            extra["admin_unit"] = {"code": unit_code, "era": era, "name": unit[1]}
        if lon is not None and lat is not None and within_m is not None:
            feature_filter.within(lon=lon, lat=lat, metres=within_m)
            extra["near"] = {"lon": lon, "lat": lat, "within_m": within_m}
        if bbox:
            feature_filter.in_bbox(bbox)
        rows = features_page(feature_filter=feature_filter, limit=limit, offset=offset)
        return _feature_collection(request, rows, limit=limit, offset=offset, extra=extra)

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={201: OpenApiTypes.OBJECT},
        summary="Add a feature (GeoJSON Feature; officials who may edit the layer)",
        operation_id="registry_features_create",
    )
    def post(self, request, slug: str):
        actor = _require_login(request)
        layer = _visible_layer(request, slug)
        body = _parsed_feature(request.data, actor=actor, layer=layer, partial=False)
        try:
            feature = editing.feature_create(
                actor=actor, layer=layer, geometry=body.get("geometry"), properties=body.get("properties")
            )
        except editing.FeatureInvalid as exc:
            raise BadParameters(exc.errors) from exc
        response = Response(_feature_document(feature), status=status.HTTP_201_CREATED)
        response["Location"] = request.build_absolute_uri(
            reverse("registry-layer-feature", args=[layer.slug, feature.pk])
        )
        return response


def _feature_body(data: Any, *, require_geometry: bool) -> dict:
    if not isinstance(data, dict) or data.get("type", "Feature") != "Feature":
        raise BadParameters({"type": [message("Phải là một GeoJSON Feature.", "Must be a GeoJSON Feature object.")]})
    if require_geometry and data.get("geometry") is None:
        raise BadParameters({"geometry": [message("Thiếu hình học.", "The geometry is required.")]})
    if not require_geometry and data.get("geometry") is None and data.get("properties") is None:
        raise BadParameters(
            {"properties": [message("Không có gì để sửa.", "Nothing to change: send geometry or properties.")]}
        )
    return data


def _parsed_feature(data: Any, *, actor: Actor, layer: Layer, partial: bool) -> dict:
    """The body's geometry parsed by drf-gis (serializers.py), after the
    body's shape and the right to edit: a caller who may not edit gets 403
    whatever they send."""
    body = _feature_body(data, require_geometry=not partial)
    editing.editor_require(actor=actor, layer=layer)
    serializer = FeatureInputSerializer(data=body, layer=layer, partial=partial)
    if not serializer.is_valid():
        raise BadParameters(serializer.errors)
    return serializer.validated_data


def _feature_document(feature: Feature) -> dict:
    return FeatureDocumentSerializer(feature).data


def _feature_id(raw: str) -> int:
    if not raw.isdecimal() or len(raw) > 18:
        raise NotFound(message("Không có đối tượng này.", "No such feature."))
    return int(raw)


class LayerFeatureDetailApi(RegistryApiView):
    login_required_methods = ("PATCH", "DELETE")  # for the schema: _require_login answers 401

    @extend_schema(responses={200: OpenApiTypes.OBJECT}, summary="One feature", operation_id="registry_feature_get")
    def get(self, request, slug: str, feature_id: str):
        layer = _visible_layer(request, slug)
        feature = Feature.objects.filter(layer=layer, pk=_feature_id(feature_id)).first()
        if feature is None:
            raise NotFound(message("Không có đối tượng này trong lớp.", "No such feature in this layer."))
        return Response(_feature_document(feature))

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT},
        summary="Change a feature: new geometry and/or properties merged in (null removes one)",
        operation_id="registry_feature_update",
    )
    def patch(self, request, slug: str, feature_id: str):
        actor = _require_login(request)
        layer = _visible_layer(request, slug)
        body = _parsed_feature(request.data, actor=actor, layer=layer, partial=True)
        try:
            feature = editing.feature_update(
                actor=actor,
                layer=layer,
                feature_id=_feature_id(feature_id),
                geometry=body.get("geometry"),
                properties=body.get("properties"),
            )
        except editing.FeatureInvalid as exc:
            raise BadParameters(exc.errors) from exc
        except Feature.DoesNotExist as exc:
            raise NotFound(message("Không có đối tượng này trong lớp.", "No such feature in this layer.")) from exc
        return Response(_feature_document(feature))

    @extend_schema(responses={204: None}, summary="Delete a feature", operation_id="registry_feature_delete")
    def delete(self, request, slug: str, feature_id: str):
        actor = _require_login(request)
        layer = _visible_layer(request, slug)
        try:
            editing.feature_delete(actor=actor, layer=layer, feature_id=_feature_id(feature_id))
        except Feature.DoesNotExist as exc:
            raise NotFound(message("Không có đối tượng này trong lớp.", "No such feature in this layer.")) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)


class LayerFeaturesIntersectingApi(RegistryApiView):
    @extend_schema(
        request=OpenApiTypes.OBJECT,
        parameters=[FEATURE_QUERY_PARAMETERS[-2], FEATURE_QUERY_PARAMETERS[-1]],
        responses={200: OpenApiTypes.OBJECT},
        summary="Features intersecting a polygon (GeoJSON Polygon/MultiPolygon, a Feature, or {geometry: ...})",
        operation_id="registry_features_intersecting",
    )
    def post(self, request, slug: str):
        params = QueryParams(request.GET)
        limit = params.integer("limit", default=DEFAULT_PAGE, low=1, high=MAX_PAGE)
        offset = params.integer("offset", default=0, low=0, high=MAX_OFFSET)
        params.raise_if_invalid()
        layer = _visible_layer(request, slug)
        data = request.data
        if isinstance(data, dict) and "geometry" in data:
            data = data["geometry"]
        try:
            polygon = editing.geometry_from_geojson(data, allowed_types=POLYGON_TYPES)
        except editing.FeatureInvalid as exc:
            raise BadParameters(exc.errors) from exc
        feature_filter = FeatureFilter(layer)
        feature_filter.intersecting(bytes(polygon.ewkb))
        rows = features_page(feature_filter=feature_filter, limit=limit, offset=offset)
        return _feature_collection(request, rows, limit=limit, offset=offset, extra={"layer": layer.slug})


class LayerCountsByCommuneApi(RegistryApiView):
    @extend_schema(
        parameters=[OpenApiParameter("era", str, enum=Era.values, description="Communes of this era (default 2025)")],
        responses={200: OpenApiTypes.OBJECT},
        summary="Number of features per commune (points by containment, others by a point on their surface)",
        operation_id="registry_counts_by_commune",
    )
    def get(self, request, slug: str):
        params = QueryParams(request.GET)
        era = params.choice("era", Era.values, default=Era.POST_2025)
        params.raise_if_invalid()
        layer = _visible_layer(request, slug)
        return Response(counts_by_commune(layer=layer, era=era))
