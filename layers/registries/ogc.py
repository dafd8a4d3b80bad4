"""OGC API - Features - Part 1: Core, for the registry layers, under /ogc/.

GeoJSON and HTML encodings, chosen by `f=json|html` or else the Accept header.
Only the layers the caller may see are listed; any other collection is a 404,
the same as a missing one.

Choices the standard leaves open, made here:
- `limit` is 1-10,000 (default 100); a larger value is capped to 10,000, not
  refused; 0, negative or non-integer values are a 400.
- Unknown query parameters on /items are a 400 naming them (the standard's
  /req/core/query-param-unknown): a misspelt property filter must not quietly
  return everything. Parameters known here: f, limit, offset, bbox, bbox-crs,
  crs, datetime and every field of the layer's schema (equality filters).
- `numberMatched` is exact when it is cheap: the layer's kept feature count
  when nothing filters, offset + returned on the last page, or a count of at
  most COUNT_CAP matches, made by the page's own statement from the rows it
  reads anyway. Above that it is left out (the standard allows it), and the
  query is remembered per process and layer version so that its next pages
  skip the count; paging goes by the `next` links either way.
- `datetime` applies to the layer's `time_field`. A date field is a calendar
  day in the portal's time zone: it matches when that day meets the interval.
  A collection without a time field has no temporal features, so a `datetime`
  selects nothing there.
- Geometry JSON is written by PostGIS (ST_AsGeoJSON, 7 decimals, about 1 cm)
  in the query and spliced into the response; rows never become Python
  geometries.
"""

import datetime as dt
import json
import math
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.http import Http404, HttpResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from psycopg.adapt import Loader
from rest_framework.exceptions import APIException, NotFound
from rest_framework.views import APIView

from gisportal.accounts.selectors import actor_for
from gisportal.api import QueryParams, message
from gisportal.dbrouting import read_connection
from gisportal.fastpath import answer_within_rate, reconnecting
from gisportal.renderers import JSONRenderer
from gisportal.throttling import PublicLookupThrottle

from ..models import Layer
from .selectors import (
    layer_read_for_user,
    layer_read_lean,
    layer_visible_to,
    layers_visible_to,
    properties_equal_sql,
    typed_value,
)

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CRS84H = "http://www.opengis.net/def/crs/OGC/0/CRS84h"
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
MAX_OFFSET = 10**9
COUNT_CAP = 10_000
OVER_CAP_REMEMBERED = 1_000
GEOJSON_DECIMALS = 7
EXTENT_CACHE_S = 24 * 3600

MEDIA_JSON = "application/json"
MEDIA_GEOJSON = "application/geo+json"
MEDIA_HTML = "text/html"
MEDIA_JSON_SCHEMA = "application/schema+json"
MEDIA_OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
STANDARD_ITEM_PARAMETERS = frozenset({"f", "limit", "offset", "bbox", "bbox-crs", "crs", "datetime"})
FORMATS = ["json", "html"]


# --- content negotiation ---------------------------------------------------------


def _accept_quality(accept: str, media_types: tuple[str, ...]) -> float:
    best = 0.0
    for part in accept.split(","):
        pieces = [p.strip() for p in part.split(";")]
        media, q = pieces[0].lower(), 1.0
        for piece in pieces[1:]:
            if piece.startswith("q="):
                try:
                    q = float(piece[2:])
                except ValueError:
                    q = 0.0
        if media in media_types:
            best = max(best, q)
    return best


def _wants_html(request, params: QueryParams) -> bool:
    """`f` decides; else HTML only when the Accept header prefers it to JSON
    (browsers do; GDAL, OWSLib and curl do not)."""
    chosen = params.choice("f", FORMATS)
    if chosen:
        return chosen == "html"
    accept = request.META.get("HTTP_ACCEPT", "")
    html = _accept_quality(accept, ("text/html", "application/xhtml+xml"))
    if html == 0.0:
        return False
    json_q = _accept_quality(accept, ("application/json", "application/geo+json", "application/*", "*/*"))
    return html > json_q


def _json_response(document: dict, *, content_type: str = MEDIA_JSON) -> HttpResponse:
    response = HttpResponse(json.dumps(document, ensure_ascii=False), content_type=content_type)
    response["Vary"] = "Accept"
    return response


def _html_response(request, template: str, context: dict) -> HttpResponse:
    html = render_to_string(template, context, request=request._request)
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    response["Vary"] = "Accept"
    return response


def _url(request, name: str, *args, **query) -> str:
    path = reverse(name, args=args)
    query = {k: v for k, v in query.items() if v is not None}
    return request.build_absolute_uri(path + (f"?{urlencode(query)}" if query else ""))


def _link(href: str, rel: str, media: str, title: str) -> dict:
    return {"href": href, "rel": rel, "type": media, "title": title}


def _self_and_alternate(request, name: str, *args, html: bool, json_media: str = MEDIA_JSON) -> list[dict]:
    json_link = _url(request, name, *args, f="json")
    html_link = _url(request, name, *args, f="html")
    if html:
        return [
            _link(html_link, "self", MEDIA_HTML, "Trang này / This document"),
            _link(json_link, "alternate", json_media, "Dạng JSON / This document as JSON"),
        ]
    return [
        _link(json_link, "self", json_media, "Trang này / This document"),
        _link(html_link, "alternate", MEDIA_HTML, "Dạng HTML / This document as HTML"),
    ]


class OgcApiThrottle(PublicLookupThrottle):
    """The public look-up limit, per client, times PAGING_FACTOR (or
    `OGC_API_RATE` when set): GDAL reads 10 features a page unless told
    otherwise, so one layer of a few thousand features is hundreds of
    requests, where a look-up is one."""

    scope = "ogc_api"
    PAGING_FACTOR = 10

    def get_rate(self) -> str | None:
        configured = getattr(settings, "OGC_API_RATE", None)
        if configured:
            return configured
        base = super().get_rate()
        if not base:
            return base
        count, _, period = base.partition("/")
        return f"{int(count) * self.PAGING_FACTOR}/{period}"


class OgcApiView(APIView):
    """Session or token authentication (anonymous sees public layers only),
    a per-client rate limit; responses are built here with exact media
    types, so DRF's negotiation is skipped (errors stay JSON)."""

    throttle_classes = [OgcApiThrottle]
    renderer_classes = [JSONRenderer]
    permission_classes: list = []
    schema = None  # described by its own OpenAPI document at /ogc/api, not in /api/schema/

    def perform_content_negotiation(self, request, force=False):
        renderer = JSONRenderer()
        return renderer, renderer.media_type


# --- landing page, conformance, API definition ----------------------------------


class LandingPageView(OgcApiView):
    def get(self, request):
        params = QueryParams(request.GET)
        html = _wants_html(request, params)
        params.raise_if_invalid()
        document = {
            "title": "Cổng dịch vụ công Bắc Ninh — lớp dữ liệu chuyên ngành / Bắc Ninh registries",
            "description": "OGC API - Features của các lớp dữ liệu chuyên ngành (y tế, giáo dục, đất đai, xây dựng). "
            "OGC API - Features for the sector registries of Bắc Ninh province (EPSG:4326 / CRS84).",
            "links": [
                *_self_and_alternate(request, "ogc-landing", html=html),
                _link(_url(request, "ogc-openapi"), "service-desc", MEDIA_OPENAPI, "Định nghĩa API / API definition"),
                _link(
                    _url(request, "ogc-openapi", f="html"),
                    "service-doc",
                    MEDIA_HTML,
                    "Tài liệu API / API documentation",
                ),
                _link(_url(request, "ogc-conformance"), "conformance", MEDIA_JSON, "Chuẩn tuân thủ / Conformance"),
                _link(_url(request, "ogc-collections"), "data", MEDIA_JSON, "Các lớp dữ liệu / Collections"),
            ],
        }
        if html:
            return _html_response(request, "ogc/landing.html", {"doc": document})
        return _json_response(document)


class ConformanceView(OgcApiView):
    def get(self, request):
        params = QueryParams(request.GET)
        html = _wants_html(request, params)
        params.raise_if_invalid()
        document = {"conformsTo": CONFORMANCE}
        if html:
            return _html_response(request, "ogc/conformance.html", {"doc": document})
        return _json_response(document)


class OpenApiView(OgcApiView):
    """The OpenAPI 3.0 definition of these endpoints. Each collection the caller
    may see gets its own items path listing its property filters, which is
    how clients such as GDAL learn which filters the server applies."""

    def get(self, request):
        params = QueryParams(request.GET)
        html = _wants_html(request, params)
        params.raise_if_invalid()
        if html:
            return _html_response(request, "ogc/openapi.html", {"openapi_url": _url(request, "ogc-openapi", f="json")})
        layers = list(layers_visible_to(actor_for(request.user)))
        return _json_response(_openapi_document(request, layers), content_type=MEDIA_OPENAPI)


def _openapi_document(request, layers: list[Layer]) -> dict:
    def parameter(name: str, schema: dict, description: str, *, where: str = "query") -> dict:
        return {"name": name, "in": where, "required": where == "path", "schema": schema, "description": description}

    f_param = parameter("f", {"type": "string", "enum": FORMATS}, "Định dạng / Encoding")
    common_items = [
        f_param,
        parameter(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
            f"Số đối tượng mỗi trang; lớn hơn {MAX_LIMIT} thì lấy {MAX_LIMIT}. / Page size; larger values are capped.",
        ),
        parameter("offset", {"type": "integer", "minimum": 0, "default": 0}, "Bỏ qua / Features to skip"),
        {
            **parameter("bbox", {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}}, "CRS84"),
            "style": "form",
            "explode": False,
        },
        parameter("bbox-crs", {"type": "string", "enum": [CRS84]}, "Chỉ CRS84 / CRS84 only"),
        parameter("datetime", {"type": "string"}, "RFC 3339 instant or interval (`..` open end)"),
    ]
    json_content = {MEDIA_JSON: {"schema": {"type": "object"}}, MEDIA_HTML: {"schema": {"type": "string"}}}
    geojson_content = {MEDIA_GEOJSON: {"schema": {"type": "object"}}, MEDIA_HTML: {"schema": {"type": "string"}}}
    errors = {"400": {"description": "Tham số sai / Bad parameter"}, "404": {"description": "Không có / Not found"}}

    def operation(operation_id: str, summary: str, parameters: list[dict], content: dict) -> dict:
        return {
            "get": {
                "operationId": operation_id,
                "summary": summary,
                "parameters": parameters,
                "responses": {"200": {"description": summary, "content": content}, **errors},
            }
        }

    collection_id = parameter("collectionId", {"type": "string"}, "Collection id", where="path")
    feature_id = parameter("featureId", {"type": "string"}, "Feature id", where="path")
    paths = {
        "/": operation("getLandingPage", "Landing page", [f_param], json_content),
        "/conformance": operation("getConformanceDeclaration", "Conformance classes", [f_param], json_content),
        "/collections": operation("getCollections", "Collections the caller may see", [f_param], json_content),
        "/collections/{collectionId}": operation(
            "describeCollection", "One collection", [collection_id, f_param], json_content
        ),
        "/collections/{collectionId}/items": operation(
            "getFeatures", "Features of a collection", [collection_id, *common_items], geojson_content
        ),
        "/collections/{collectionId}/items/{featureId}": operation(
            "getFeature", "One feature", [collection_id, feature_id, f_param], geojson_content
        ),
    }
    type_schemas = {
        "integer": {"type": "integer"},
        "number": {"type": "number"},
        "boolean": {"type": "boolean"},
        "date": {"type": "string", "format": "date"},
        "datetime": {"type": "string", "format": "date-time"},
    }
    for layer in layers:
        filters = [
            parameter(f["name"], type_schemas.get(f.get("type"), {"type": "string"}), f"= {f['name']}")
            for f in layer.schema
            if f.get("name") and f["name"] not in STANDARD_ITEM_PARAMETERS
        ]
        paths[f"/collections/{layer.slug}/items"] = operation(
            f"getFeatures_{layer.slug.replace('-', '_')}", layer.title, [*common_items, *filters], geojson_content
        )
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Bắc Ninh registries — OGC API - Features",
            "version": "1.0.0",
            "description": "OGC API - Features Part 1: Core (GeoJSON, HTML).",
        },
        "servers": [{"url": request.build_absolute_uri(reverse("ogc-landing")).rstrip("/")}],
        "paths": paths,
    }


# --- collections ----------------------------------------------------------------


def _temporal_extent(layer: Layer) -> list[str | None] | None:
    """[first, last] of the layer's time field as RFC 3339, cached per version."""
    if not layer.time_field or not layer.feature_count:
        return None
    key = f"ogc:temporal:{layer.pk}:{layer.version}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    with read_connection().cursor() as cursor:
        cursor.execute(
            "SELECT min(properties->>%s), max(properties->>%s) FROM layers_feature WHERE layer_id = %s",
            [layer.time_field, layer.time_field, layer.pk],
        )
        low, high = cursor.fetchone()
    kind = (layer.field(layer.time_field) or {}).get("type")
    extent = [_rfc3339_bound(low, kind), _rfc3339_bound(high, kind)]
    cache.set(key, extent, EXTENT_CACHE_S)
    return extent


def _rfc3339_bound(value: str | None, kind: str | None) -> str | None:
    if value is None:
        return None
    if kind == "date" and DATE_RE.match(value):
        local = dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), tzinfo=timezone.get_default_timezone())
        return local.isoformat()
    return value


def _collection_document(request, layer: Layer, *, html: bool, self_name: str = "ogc-collection") -> dict:
    slug = layer.slug
    links = [
        _link(_url(request, "ogc-items", slug, f="json"), "items", MEDIA_GEOJSON, "Các đối tượng / Items"),
        _link(_url(request, "ogc-items", slug, f="html"), "items", MEDIA_HTML, "Các đối tượng (HTML) / Items"),
    ]
    if self_name == "ogc-collection":
        links = [*_self_and_alternate(request, "ogc-collection", slug, html=html), *links]
    else:
        links.append(_link(_url(request, "ogc-collection", slug, f="json"), "collection", MEDIA_JSON, layer.title))
    # Relation types compare case-insensitively (RFC 8288); GDAL 3.6 matches
    # only this spelling, and reads field names and types from the schema.
    links.append(_link(_url(request, "ogc-schema", slug), "describedBy", MEDIA_JSON_SCHEMA, "Lược đồ / Feature schema"))
    if layer.license:
        links.append({"href": _license_url(layer.license), "rel": "license", "title": layer.license})
    document: dict[str, Any] = {
        "id": slug,
        "title": layer.title,
        "description": layer.description,
        "attribution": layer.attribution,
        "itemType": "feature",
        "crs": [CRS84],
        "links": links,
    }
    extent: dict[str, Any] = {}
    if layer.extent is not None:
        min_x, min_y, max_x, max_y = layer.extent.extent
        extent["spatial"] = {"bbox": [[min_x, min_y, max_x, max_y]], "crs": CRS84}
    temporal = _temporal_extent(layer)
    if temporal:
        extent["temporal"] = {"interval": [temporal], "trs": GREGORIAN}
    if extent:
        document["extent"] = extent
    return document


def _license_url(license_id: str) -> str:
    known = {"ODbL-1.0": "https://opendatacommons.org/licenses/odbl/1-0/"}
    return known.get(license_id, f"https://spdx.org/licenses/{license_id}.html")


class CollectionsView(OgcApiView):
    def get(self, request):
        params = QueryParams(request.GET)
        html = _wants_html(request, params)
        params.raise_if_invalid()
        layers = layers_visible_to(actor_for(request.user)).order_by("slug")
        document = {
            "links": _self_and_alternate(request, "ogc-collections", html=html),
            "collections": [_collection_document(request, layer, html=html, self_name="") for layer in layers],
        }
        if html:
            return _html_response(request, "ogc/collections.html", {"doc": document})
        return _json_response(document)


def _visible_layer(request, collection_id: str) -> Layer:
    try:
        return layer_read_for_user(actor=actor_for(request.user), slug=collection_id)
    except Http404 as exc:  # missing and hidden look the same
        raise NotFound(message("Không có lớp dữ liệu này.", "No such collection.")) from exc


class CollectionView(OgcApiView):
    def get(self, request, collection_id: str):
        params = QueryParams(request.GET)
        html = _wants_html(request, params)
        params.raise_if_invalid()
        layer = _visible_layer(request, collection_id)
        document = _collection_document(request, layer, html=html)
        if html:
            return _html_response(request, "ogc/collection.html", {"doc": document, "layer": layer})
        return _json_response(document)


JSON_SCHEMA_TYPES = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "datetime": {"type": "string", "format": "date-time"},
}


def _feature_schema(request, layer: Layer) -> dict:
    """JSON Schema of the layer's GeoJSON features. Clients that infer fields
    from the first page (GDAL reads 10-20 features) would otherwise drop the
    properties that only later features carry."""
    properties = {}
    for f in layer.schema:
        if not f.get("name"):
            continue
        properties[f["name"]] = {**JSON_SCHEMA_TYPES.get(f.get("type"), {"type": "string"})}
        if f.get("title"):
            properties[f["name"]]["title"] = f["title"]
    return {
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": _url(request, "ogc-schema", layer.slug),
        "title": layer.title,
        "type": "object",
        "required": ["type", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"type": "integer"},
            "geometry": {"type": "object", "description": f"GeoJSON {layer.geometry_type}, CRS84"},
            "properties": {"type": "object", "properties": properties},
        },
    }


class CollectionSchemaView(OgcApiView):
    def get(self, request, collection_id: str):
        layer = _visible_layer(request, collection_id)
        return _json_response(_feature_schema(request, layer), content_type=MEDIA_JSON_SCHEMA)


# --- items: parsing -------------------------------------------------------------

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class TimeFilter:
    """Bounds already shaped for the layer's time field: ISO dates for a date
    field, aware datetimes for a datetime field; None is an open end."""

    kind: str  # "date" or "datetime"
    start: Any = None
    end: Any = None


@dataclass
class ItemsQuery:
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    envelopes: list[tuple[float, float, float, float]] = field(default_factory=list)
    equals: dict[str, Any] = field(default_factory=dict)
    datetime_equals: dict[str, dt.datetime] = field(default_factory=dict)
    time: TimeFilter | None = None
    nothing: bool = False  # a datetime on a layer without time: no feature can match

    @property
    def filtered(self) -> bool:
        return bool(self.envelopes or self.equals or self.datetime_equals or self.time or self.nothing)


def _parse_limit(params: QueryParams) -> int:
    raw = params.raw("limit")
    if raw is None:
        return DEFAULT_LIMIT
    try:
        value = int(raw)
    except ValueError:
        params.fail("limit", "Phải là số nguyên từ 1.", "Must be an integer of at least 1.")
        return DEFAULT_LIMIT
    if value < 1:
        params.fail("limit", "Phải từ 1 trở lên.", "Must be at least 1.")
        return DEFAULT_LIMIT
    return min(value, MAX_LIMIT)  # capped, not refused (OGC API Features /req/core/fc-limit-response-1)


def _parse_bbox(params: QueryParams) -> list[tuple[float, float, float, float]]:
    raw = params.raw("bbox")
    if raw is None:
        return []
    parts = raw.split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) in (4, 6) and all(math.isfinite(v) for v in values):
        if len(values) == 6:  # minx,miny,minz,maxx,maxy,maxz: heights are not stored, z is ignored
            values = [values[0], values[1], values[3], values[4]]
        min_x, min_y, max_x, max_y = values
        if -180 <= min_x <= 180 and -180 <= max_x <= 180 and -90 <= min_y <= max_y <= 90:
            if min_x <= max_x:
                return [(min_x, min_y, max_x, max_y)]
            # west > east: the box crosses the antimeridian (the standard's reading)
            return [(min_x, min_y, 180.0, max_y), (-180.0, min_y, max_x, max_y)]
    params.fail(
        "bbox",
        "Phải là minLon,minLat,maxLon,maxLat (hoặc 6 số có độ cao), kinh độ trong [-180, 180], vĩ độ trong [-90, 90], "
        "minLat ≤ maxLat.",
        "Must be minLon,minLat,maxLon,maxLat (or 6 numbers with heights), lon within [-180, 180], lat within "
        "[-90, 90], minLat ≤ maxLat.",
    )
    return []


def _parse_crs(params: QueryParams, name: str) -> None:
    raw = params.raw(name)
    if raw is not None and raw not in (CRS84, CRS84H):
        params.fail(name, f"Chỉ hỗ trợ {CRS84}.", f"Only {CRS84} is supported.")


def _parse_instant(raw: str) -> dt.date | dt.datetime | None:
    if DATE_RE.match(raw):
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            return None
    try:
        value = parse_datetime(raw.upper())
    except ValueError:
        return None
    if value is None:
        return None
    if timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_default_timezone())
    return value


def _day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    zone = timezone.get_default_timezone()
    start = dt.datetime.combine(day, dt.time(), tzinfo=zone)
    return start, start + dt.timedelta(days=1) - dt.timedelta(microseconds=1)


def _local_date(value: dt.date | dt.datetime) -> dt.date:
    if isinstance(value, dt.datetime):
        return timezone.localtime(value, timezone.get_default_timezone()).date()
    return value


def _parse_datetime_param(params: QueryParams, layer: Layer, query: ItemsQuery) -> None:
    raw = params.raw("datetime")
    if raw is None:
        return
    bad = (
        "Phải là một thời điểm RFC 3339 hoặc khoảng 'đầu/cuối' ('..' là không giới hạn).",
        "Must be an RFC 3339 instant or an interval 'start/end' ('..' for an open end).",
    )
    if "/" in raw:
        start_raw, _, end_raw = raw.partition("/")
        ends = []
        for part in (start_raw.strip(), end_raw.strip()):
            if part in ("", ".."):
                ends.append(None)
                continue
            value = _parse_instant(part)
            if value is None:
                params.fail("datetime", *bad)
                return
            ends.append(value)
        start, end = ends
        if start is not None and end is not None and _as_start(start) > _as_end(end):
            params.fail("datetime", "Đầu khoảng sau cuối khoảng.", "The interval starts after it ends.")
            return
        is_instant = False
    else:
        value = _parse_instant(raw)
        if value is None:
            params.fail("datetime", *bad)
            return
        start = end = value
        is_instant = True
    kind = (layer.field(layer.time_field) or {}).get("type") if layer.time_field else None
    if not layer.time_field:
        query.nothing = True
        return
    if start is None and end is None:
        query.time = TimeFilter(kind="date" if kind == "date" else "datetime")  # '../..': any time, but present
        return
    if kind == "date":
        query.time = TimeFilter(
            kind="date",
            start=_local_date(start).isoformat() if start is not None else None,
            end=_local_date(end).isoformat() if end is not None else None,
        )
        return
    if is_instant and not isinstance(start, dt.datetime):
        start, end = _day_bounds(start)
    query.time = TimeFilter(
        kind="datetime",
        start=_as_start(start) if start is not None else None,
        end=_as_end(end) if end is not None else None,
    )


def _as_start(value: dt.date | dt.datetime) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else _day_bounds(value)[0]


def _as_end(value: dt.date | dt.datetime) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else _day_bounds(value)[1]


def _parse_property_filters(params: QueryParams, layer: Layer, query: ItemsQuery) -> None:
    fields = {f["name"]: f for f in layer.schema if f.get("name")}
    for name in params.query:
        if name in STANDARD_ITEM_PARAMETERS:
            continue
        if name not in fields:
            known = ", ".join(sorted(STANDARD_ITEM_PARAMETERS | fields.keys()))
            params.fail(name, f"Tham số không được hỗ trợ; dùng: {known}.", f"Unknown parameter; use: {known}.")
            continue
        raw = params.query.get(name, "")
        kind = fields[name].get("type")
        if "\x00" in raw:  # PostgreSQL text and jsonb cannot hold NUL
            params.fail(name, "Có ký tự NUL.", "Contains a NUL character.")
            continue
        if kind == "datetime":
            value = _parse_instant(raw.strip())
            if not isinstance(value, dt.datetime):
                params.fail(name, "Phải là thời điểm RFC 3339.", "Must be an RFC 3339 date-time.")
                continue
            query.datetime_equals[name] = value
            continue
        if kind == "date" and not _is_iso_date(raw.strip()):
            params.fail(name, "Ngày không hợp lệ, dùng YYYY-MM-DD.", "Invalid date; use YYYY-MM-DD.")
            continue
        try:
            value = typed_value(layer, name, raw.strip() if kind != "string" else raw)
        except ValueError:
            params.fail(name, f"Phải là giá trị kiểu {kind}.", f"Must be a value of type {kind}.")
            continue
        if isinstance(value, float) and not math.isfinite(value):
            params.fail(name, "Phải là số hữu hạn.", "Must be a finite number.")
            continue
        query.equals[name] = value


def _is_iso_date(raw: str) -> bool:
    if not DATE_RE.match(raw):
        return False
    try:
        dt.date.fromisoformat(raw)
    except ValueError:
        return False
    return True


def items_query_parse(request, layer: Layer) -> tuple[ItemsQuery, bool]:
    """The items request as a query, and whether HTML was asked for; every bad
    parameter is collected and reported in one 400."""
    params = QueryParams(request.GET)
    html = _wants_html(request, params)
    query = ItemsQuery(
        limit=_parse_limit(params),
        offset=params.integer("offset", default=0, low=0, high=MAX_OFFSET),
        envelopes=_parse_bbox(params),
    )
    _parse_crs(params, "bbox-crs")
    _parse_crs(params, "crs")
    try:
        _parse_datetime_param(params, layer, query)
    except (OverflowError, ValueError):  # instants at the ends of the calendar
        params.fail("datetime", "Thời điểm ngoài phạm vi.", "Date-time out of range.")
    _parse_property_filters(params, layer, query)
    params.raise_if_invalid()
    return query, html


# --- items: the SQL ---------------------------------------------------------------

FEATURE_JSON_SQL = (
    '\'{"type":"Feature","id":\' || f.id || \',"geometry":\' || ST_AsGeoJSON(f.geom, '
    + str(GEOJSON_DECIMALS)
    + ") || ',\"properties\":' || f.properties::text || '}'"
)


# A feature in a bbox, exactly as ST_Intersects with the envelope decides: the
# GiST index finds the candidates (`&&`, on float boxes rounded outward), and a
# point is then in the closed box when its coordinates are, a comparison of
# doubles. ST_Intersects, for the other shapes only, cost a page of 1,000 of
# 1,200 points 0.3-0.4 ms more (4.44 against 4.18 ms; bench/README.md, 7
# December 2026); `&&` alone would take points up to a float's step outside
# (1-4 of 1,200 just outside the edges of some bboxes).
_IN_ENVELOPE = (
    "(f.geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326) AND CASE WHEN GeometryType(f.geom) = 'POINT' "
    "THEN ST_X(f.geom) BETWEEN SYMMETRIC %s AND %s AND ST_Y(f.geom) BETWEEN SYMMETRIC %s AND %s "
    "ELSE ST_Intersects(f.geom, ST_MakeEnvelope(%s, %s, %s, %s, 4326)) END)"
)


def _where(layer: Layer, query: ItemsQuery) -> tuple[str, list]:
    clauses, values = ["f.layer_id = %s::bigint"], [layer.pk]
    if query.nothing:
        clauses.append("false")
    if query.envelopes:
        clauses.append(f"({' OR '.join(_IN_ENVELOPE for _ in query.envelopes)})")
        for x0, y0, x1, y1 in query.envelopes:
            values.extend([x0, y0, x1, y1, x0, x1, y0, y1, x0, y0, x1, y1])
    if query.equals:
        sql, equal_values = properties_equal_sql(layer, query.equals, column="f.properties")
        clauses.append(sql)
        values.extend(equal_values)
    for name, value in query.datetime_equals.items():
        clauses.append("(f.properties->>%s)::timestamptz = %s")
        values.extend([name, value])
    if query.time is not None:
        field_sql = "(f.properties->>%s)"
        if query.time.kind == "datetime":
            field_sql += "::timestamptz"
        clauses.append(f"{field_sql} IS NOT NULL")
        values.append(layer.time_field)
        if query.time.start is not None:
            clauses.append(f"{field_sql} >= %s")
            values.extend([layer.time_field, query.time.start])
        if query.time.end is not None:
            clauses.append(f"{field_sql} <= %s")
            values.extend([layer.time_field, query.time.end])
    return " AND ".join(clauses), values


@dataclass
class FeaturesPage:
    """One items page: its features as GeoJSON ("f1,f2,..."), written and
    joined by PostgreSQL and kept as the UTF-8 bytes it sent (`_page_cursor`),
    how many, and numberMatched (None: left out)."""

    features: bytes
    returned: int
    matched: int | None


def _page_sql(source: str) -> str:
    # The page is chosen in the inner query and only its rows are turned into
    # JSON (projected at the top, ST_AsGeoJSON would also run for every row
    # that OFFSET skips); PostgreSQL joins them into one text, so one row
    # comes back, not a row per feature.
    return (
        f"SELECT count(*), coalesce(string_agg({FEATURE_JSON_SQL}, ',' ORDER BY f.id), '') "
        f"FROM (SELECT f.id, f.geom, f.properties FROM {source} ORDER BY f.id LIMIT %s OFFSET %s) f"
    )


class _OverCap:
    """Queries found to match more than COUNT_CAP features, per layer version,
    remembered by this process (the most recent OVER_CAP_REMEMBERED): their
    next pages skip the count. In memory, not the shared cache: a miss costs
    one count in one process, a shared look-up would cost a round trip on
    every page."""

    def __init__(self) -> None:
        self._keys: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def __contains__(self, key: str) -> bool:
        with self._lock:
            if key in self._keys:
                self._keys.move_to_end(key)
                return True
            return False

    def add(self, key: str) -> None:
        with self._lock:
            self._keys[key] = None
            while len(self._keys) > OVER_CAP_REMEMBERED:
                self._keys.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._keys.clear()


over_cap = _OverCap()


def features_page(*, layer: Layer, query: ItemsQuery) -> FeaturesPage:
    """One page of features and numberMatched by the module's rules, in one
    statement: a filtered page whose count is not cached yet reads its
    matches once (at most COUNT_CAP + 1 of them), counts them and takes the
    page from the same rows."""
    where, values = _where(layer, query)
    page_values = [*values, query.limit, query.offset]
    if not query.filtered:
        returned, text = _fetch(_page_sql(f"layers_feature f WHERE {where}"), page_values)
        return FeaturesPage(text, returned, layer.feature_count)
    key = repr((layer.pk, layer.version, where, values))
    if key not in over_cap:
        # The page is taken from the matches only when they are all there
        # (the one-time filter n <= COUNT_CAP); else it is read again below.
        sql = (
            "WITH m AS MATERIALIZED ("
            f"SELECT f.id, f.geom, f.properties FROM layers_feature f WHERE {where} LIMIT %s), "
            "n AS (SELECT count(*) AS n FROM m) "
            "SELECT n.n, p.* FROM n, LATERAL (" + _page_sql("m f WHERE n.n <= %s") + ") p"
        )
        with _page_cursor() as cursor:
            cursor.execute(sql, [*values, COUNT_CAP + 1, COUNT_CAP, query.limit, query.offset])
            n, returned, text = cursor.fetchone()
        if n <= COUNT_CAP:
            return FeaturesPage(text, returned, n)
        over_cap.add(key)
    returned, text = _fetch(_page_sql(f"layers_feature f WHERE {where}"), page_values)
    if returned < query.limit and (returned > 0 or query.offset == 0):
        return FeaturesPage(text, returned, query.offset + returned)
    return FeaturesPage(text, returned, None)


def _fetch(sql: str, values: list) -> tuple[int, bytes]:
    with _page_cursor() as cursor:
        cursor.execute(sql, values)
        returned, text = cursor.fetchone()
    return returned, text


class _Utf8Bytes(Loader):
    """A text column as the bytes PostgreSQL sent (UTF-8, the connection's encoding)."""

    def load(self, data) -> bytes:
        return bytes(data)


def _page_cursor():
    """A cursor whose text columns come back as bytes: a page's GeoJSON goes
    into the answer as PostgreSQL wrote it. Decoded to a str and encoded
    again, a page of 1,000 features cost 0.8 ms more (bench/README.md)."""
    cursor = read_connection().cursor()
    cursor.cursor.adapters.register_loader("text", _Utf8Bytes)
    return cursor


def feature_json(*, layer: Layer, feature_id: int) -> str | None:
    with read_connection().cursor() as cursor:
        cursor.execute(
            f"SELECT {FEATURE_JSON_SQL} FROM layers_feature f WHERE f.layer_id = %s AND f.id = %s",
            [layer.pk, feature_id],
        )
        row = cursor.fetchone()
    return row[0] if row else None


# --- items: the views ---------------------------------------------------------------


def _page_url(request, *, offset: int, limit: int, f: str) -> str:
    query = request.GET.copy()
    query["offset"] = str(offset)
    query["limit"] = str(limit)
    query["f"] = f
    return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")


def _timestamp() -> str:
    return timezone.now().astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class ItemsView(OgcApiView):
    def get(self, request, collection_id: str):
        layer = _visible_layer(request, collection_id)
        query, html = items_query_parse(request, layer)
        page = features_page(layer=layer, query=query)
        envelope = _items_envelope(request, layer=layer, query=query, page=page, html=html)
        if html:
            features = json.loads(b"[%b]" % page.features)
            return _html_response(
                request,
                "ogc/items.html",
                {
                    "layer": layer,
                    "doc": envelope,
                    "features": features,
                    "fields": [f["name"] for f in layer.schema if f.get("name")][:8],
                    "geojson": {"type": "FeatureCollection", "features": features},
                },
            )
        return _items_geojson_response(envelope, page)


def _items_envelope(request, *, layer: Layer, query: ItemsQuery, page: FeaturesPage, html: bool) -> dict[str, Any]:
    """The FeatureCollection of an items page without its features:
    numberMatched (when known), numberReturned, timeStamp and the links."""
    matched = page.matched
    has_next = page.returned == query.limit and (matched is None or query.offset + page.returned < matched)
    media = "html" if html else "json"
    links = [
        _link(
            _page_url(request, offset=query.offset, limit=query.limit, f=media),
            "self",
            MEDIA_HTML if html else MEDIA_GEOJSON,
            "Trang này / This document",
        ),
        _link(
            _page_url(request, offset=query.offset, limit=query.limit, f="json" if html else "html"),
            "alternate",
            MEDIA_GEOJSON if html else MEDIA_HTML,
            "Dạng khác / Other encoding",
        ),
        _link(_url(request, "ogc-collection", layer.slug, f="json"), "collection", MEDIA_JSON, layer.title),
    ]
    page_media = MEDIA_HTML if html else MEDIA_GEOJSON
    if has_next:
        links.append(
            _link(
                _page_url(request, offset=query.offset + query.limit, limit=query.limit, f=media),
                "next",
                page_media,
                "Trang sau / Next page",
            )
        )
    if query.offset > 0:
        links.append(
            _link(
                _page_url(request, offset=max(query.offset - query.limit, 0), limit=query.limit, f=media),
                "prev",
                page_media,
                "Trang trước / Previous page",
            )
        )
    envelope: dict[str, Any] = {"type": "FeatureCollection"}
    if matched is not None:
        envelope["numberMatched"] = matched
    envelope.update({"numberReturned": page.returned, "timeStamp": _timestamp(), "links": links})
    return envelope


def _items_geojson_response(envelope: dict, page: FeaturesPage) -> HttpResponse:
    head = json.dumps(envelope, ensure_ascii=False)[:-1].encode()  # reopen the object to add the features
    response = HttpResponse(b"".join((head, b',"features":[', page.features, b"]}")), content_type=MEDIA_GEOJSON)
    response["Vary"] = "Accept"
    return response


# --- items on the lean path (gisportal/fastpath.py) -----------------------------------


def items_accept(query) -> bool:
    """The parameters are parsed against the layer's schema by `items_answer`."""
    return True


def items_answer(request, accepted: bool, view) -> HttpResponse:
    """What ItemsView answers an anonymous caller (gisportal/fastpath.py takes
    no other) for a GeoJSON page of a layer it may see, without DRF's
    dispatch: the same layer read, visibility rule, parameter parsing, rate
    limit, page statement, envelope and headers (DRF's Allow). The layer and
    parameters are checked before the rate limit counts the request, so that
    anything else (a missing or hidden layer, a bad parameter, HTML) is left
    to the view, which counts it once and answers its own 404, 400 or page; a
    client over its rate gets the view's 429 from the count already made
    (`request.window_counted`).

    The layer is read by `layer_read_lean` (the columns a page reads, a
    prepared statement), and the rate limit's count is sent to Redis before
    the page's read and its reply read after it (`answer_within_rate`), as the
    nearest look-up does: a client over its rate costs one page read before
    its 429."""
    kwargs = request.resolver_match.kwargs
    actor = actor_for(request.user)  # the anonymous user, read from the empty session as on Django's path
    layer = reconnecting(lambda: layer_read_lean(kwargs["collection_id"]))
    if layer is None or not layer_visible_to(
        actor, layer_id=layer.pk, visibility=layer.visibility, owner_id=layer.owner_id
    ):
        return view(request, **kwargs)
    try:
        query, html = items_query_parse(request, layer)
    except APIException:
        return view(request, **kwargs)
    if html:
        return view(request, **kwargs)

    def answer() -> HttpResponse:
        page = features_page(layer=layer, query=query)
        return _items_geojson_response(_items_envelope(request, layer=layer, query=query, page=page, html=False), page)

    return answer_within_rate(request, view, answer)


class ItemView(OgcApiView):
    def get(self, request, collection_id: str, feature_id: str):
        params = QueryParams(request.GET)
        html = _wants_html(request, params)
        params.raise_if_invalid()
        layer = _visible_layer(request, collection_id)
        text = feature_json(layer=layer, feature_id=int(feature_id)) if _is_bigint(feature_id) else None
        if text is None:
            raise NotFound(message("Không có đối tượng này trong lớp.", "No such feature in this collection."))
        feature = json.loads(text)
        feature["links"] = [
            *_self_and_alternate(request, "ogc-item", layer.slug, feature_id, html=html, json_media=MEDIA_GEOJSON),
            _link(_url(request, "ogc-collection", layer.slug, f="json"), "collection", MEDIA_JSON, layer.title),
        ]
        if html:
            return _html_response(
                request, "ogc/item.html", {"layer": layer, "feature": feature, "geojson": feature, "doc": feature}
            )
        return _json_response(feature, content_type=MEDIA_GEOJSON)


def _is_bigint(value: str) -> bool:
    return value.isdecimal() and len(value) <= 18
