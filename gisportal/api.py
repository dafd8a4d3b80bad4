"""Pieces every API of the portal shares: query-parameter parsing that names
each bad parameter, the error format, and paging links."""

import datetime as dt
import gzip
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.contrib.gis.gdal import GDALException
from django.contrib.gis.geos import GEOSException
from django.core.cache import cache
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection
from django.http import HttpResponse
from django.middleware.gzip import re_accepts_gzip
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import APIException, NotAuthenticated, PermissionDenied, Throttled
from rest_framework.permissions import BasePermission
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework_gis.fields import GeometryField

from gisportal.accounts.authentication import ApiTokenAuthentication
from gisportal.accounts.selectors import actor_for
from gisportal.cache import RecentValues
from gisportal.messages import message  # the bilingual format; the apps import it from here
from gisportal.renderers import JSONRenderer, json_body


class BadParameters(APIException):
    """400 whose body maps each offending parameter to its messages."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(detail=errors)


def exception_handler(exc, context):
    if isinstance(exc, Throttled):
        wait = f" {int(exc.wait)} s" if exc.wait is not None else ""
        exc.detail = message(
            f"Quá nhiều yêu cầu, vui lòng thử lại sau{wait}.", f"Too many requests; try again in{wait or ' a while'}."
        )
    if isinstance(exc, NotAuthenticated):
        exc.detail = message("Cần đăng nhập.", "Authentication credentials were not provided.")
    elif isinstance(exc, PermissionDenied) and str(exc.detail) == str(PermissionDenied.default_detail):
        exc.detail = message("Bạn không có quyền thực hiện thao tác này.", "You do not have permission to do this.")
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"detail": response.data["detail"]}
    return response


# --- parameters as the schema declares them ------------------------------------------
# The same bounds as the QueryParams call that reads each one, so that the
# schema and the server agree (a value outside them is a 400).


# --- numbers and places in a request body -----------------------------------------------


def body_number(data, errors: dict, name: str, *, low: float, high: float, integer: bool = False):
    """The number in body field `name` (JSON number, or its text in a form)
    within [low, high]; None when absent; a bilingual message under `name`
    in `errors` when it is not one."""
    value = data.get(name)
    if value is None or value == "":
        return None
    try:
        number = int(value) if integer else float(value)
    except (TypeError, ValueError):
        number = None
    if isinstance(value, bool) or number is None or not math.isfinite(number) or not low <= number <= high:
        errors.setdefault(name, []).append(
            message(f"Phải là số trong [{low:g}, {high:g}].", f"Must be a number within [{low:g}, {high:g}].")
        )
        return None
    return number


# The JSON Schema of a place given as GeoJSON, for the OpenAPI bodies.
GEOJSON_POINT_SCHEMA = {
    "type": "object",
    "description": 'A GeoJSON Point in WGS84 (EPSG:4326): {"type": "Point", "coordinates": [lon, lat]}.',
    "properties": {
        "type": {"type": "string", "enum": ["Point"]},
        "coordinates": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 3},
    },
    "required": ["type", "coordinates"],
}
_POINT_TEXT_MAX = 1000  # a Point's GeoJSON text in a form; anything longer is not one


def _point_refused(errors: dict, name: str) -> tuple[None, None]:
    errors.setdefault(name, []).append(
        message(
            'Phải là một điểm GeoJSON WGS84: {"type": "Point", "coordinates": [kinh độ, vĩ độ]}.',
            'Must be a WGS84 GeoJSON Point: {"type": "Point", "coordinates": [lon, lat]}.',
        )
    )
    return None, None


def body_point(data, errors: dict, *, name: str, lon: str, lat: str) -> tuple[float | None, float | None]:
    """A place sent either as two numbers (`lon`, `lat`) or as a GeoJSON Point
    in `name` (an object; in a multipart form, its JSON text), parsed by
    djangorestframework-gis's GeometryField. (lon, lat), or (None, None) when
    neither is sent; a bilingual message naming the field otherwise, and
    naming `name` when both ways are used at once."""
    x = body_number(data, errors, lon, low=-180, high=180)
    y = body_number(data, errors, lat, low=-90, high=90)
    raw = data.get(name)
    if raw is None or raw == "":
        return x, y
    if any(data.get(n) not in (None, "") for n in (lon, lat)):
        errors.setdefault(name, []).append(
            message(f"Gửi {name} hoặc {lon}, {lat}, không gửi cả hai.", f"Send {name} or {lon}, {lat}, not both.")
        )
        return None, None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if len(raw) <= _POINT_TEXT_MAX else None
        except ValueError:
            raw = None
    # Only GeoJSON: GEOSGeometry would also read WKT and hex WKB from a string.
    if not isinstance(raw, dict) or raw.get("type") != "Point" or not isinstance(raw.get("coordinates"), list):
        return _point_refused(errors, name)
    try:
        point = GeometryField().to_internal_value(raw)
    except (DjangoValidationError, GEOSException, GDALException, ValueError, TypeError):
        return _point_refused(errors, name)
    if point.empty or point.srid not in (None, 4326):
        return _point_refused(errors, name)
    x, y = point.x, point.y
    if not (math.isfinite(x) and math.isfinite(y) and -180 <= x <= 180 and -90 <= y <= 90):
        return _point_refused(errors, name)
    return x, y


def integer_parameter(
    name: str, *, low: int, high: int, default: int | None = None, description: str = ""
) -> OpenApiParameter:
    schema: dict[str, Any] = {"type": "integer", "minimum": low, "maximum": high}
    if default is not None:
        schema["default"] = default
    return OpenApiParameter(name, schema, description=description or f"{low}-{high}")


def number_parameter(
    name: str, *, low: float, high: float, required: bool = False, description: str = ""
) -> OpenApiParameter:
    schema = {"type": "number", "minimum": low, "maximum": high}
    return OpenApiParameter(name, schema, required=required, description=description)


def date_parameter(name: str, *, description: str = "") -> OpenApiParameter:
    """YYYY-MM-DD (a calendar date; years 0001-9999)."""
    return OpenApiParameter(name, OpenApiTypes.DATE, description=description)


# A decimal number as comma-separated parameters (bbox, LON,LAT) write it:
# QueryParams reads exactly this, and the schema declares it as a pattern.
DECIMAL = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_DECIMAL_PART = re.compile(rf" *{DECIMAL} *")


def numbers_pattern(count: int) -> str:
    """`count` decimals separated by commas, spaces allowed around them."""
    return rf"^ *{DECIMAL} *(?:, *{DECIMAL} *){{{count - 1}}}$"


def bbox_parameter(name: str = "bbox") -> OpenApiParameter:
    # Whether min <= max is a rule between the numbers that a pattern cannot say.
    return OpenApiParameter(
        name,
        {"type": "string", "pattern": numbers_pattern(4)},
        description="minLon,minLat,maxLon,maxLat (WGS84 degrees, min <= max)",
    )


class QueryParams:
    """Reads query parameters, collecting every problem before failing once."""

    def __init__(self, query: Any):
        self.query = query
        self.errors: dict[str, list[str]] = {}

    def raw(self, name: str) -> str | None:
        """The parameter stripped, or None when absent or empty (`?to=` is
        "not sent", as the schema's allowEmptyValue says). Only white space
        is no value at all: a 400 naming it."""
        value = self.query.get(name)
        if value is None:
            return None
        stripped = value.strip()
        if value and not stripped and name not in self.errors:
            self.fail(name, "Chỉ có khoảng trắng.", "Only white space: leave it out or give a value.")
        return stripped or None

    def fail(self, name: str, vi: str, en: str) -> None:
        self.errors.setdefault(name, []).append(message(vi, en))

    def number(self, name: str, *, low: float, high: float, required: bool = False) -> float | None:
        raw = self.raw(name)
        if raw is None:
            if required:
                self.fail(name, "Thiếu tham số bắt buộc.", "This parameter is required.")
            return None
        try:
            value = float(raw)
        except ValueError:
            self.fail(name, "Phải là một số.", "Must be a number.")
            return None
        if not math.isfinite(value) or not low <= value <= high:
            self.fail(name, f"Phải nằm trong khoảng [{low:g}, {high:g}].", f"Must be within [{low:g}, {high:g}].")
            return None
        return value

    def integer(self, name: str, *, default: int, low: int, high: int) -> int:
        raw = self.raw(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            self.fail(name, "Phải là số nguyên.", "Must be an integer.")
            return default
        if not low <= value <= high:
            self.fail(name, f"Phải nằm trong khoảng [{low}, {high}].", f"Must be within [{low}, {high}].")
            return default
        return value

    def choice(self, name: str, choices: Iterable[str], *, default: str | None = None) -> str | None:
        raw = self.raw(name)
        if raw is None:
            return default
        allowed = list(choices)
        if raw not in allowed:
            listed = ", ".join(allowed)
            self.fail(name, f"Giá trị không hợp lệ; chọn một trong: {listed}.", f"Unknown value; use one of: {listed}.")
            return default
        return raw

    def date(self, name: str, *, default: dt.date | None = None) -> dt.date | None:
        raw = self.raw(name)
        if raw is None:
            return default
        try:
            value = parse_date(raw)
        except ValueError:
            value = None
        if value is None:
            self.fail(name, "Ngày không hợp lệ, dùng YYYY-MM-DD.", "Invalid date; use YYYY-MM-DD.")
            return default
        return value

    def moment(self, name: str, *, low: dt.datetime, high: dt.datetime) -> dt.datetime | None:
        """An ISO 8601 date and time (`2026-02-17T09:30`, `...+07:00`, `...Z`);
        without an offset it is local time (TIME_ZONE). Aware, or None when absent."""
        raw = self.raw(name)
        if raw is None:
            return None
        try:
            value = parse_datetime(raw)
        except ValueError:
            value = None
        if value is not None and timezone.is_naive(value):
            try:
                value = timezone.make_aware(value)
            except (ValueError, OverflowError):
                value = None
        if value is None:
            self.fail(
                name,
                "Thời điểm không hợp lệ, dùng YYYY-MM-DDTHH:MM (giờ Việt Nam) hoặc kèm múi giờ.",
                "Invalid date and time; use YYYY-MM-DDTHH:MM (Vietnam time) or give an offset.",
            )
            return None
        try:
            inside = low <= value <= high
        except OverflowError:  # year 1 with a positive offset is before 0001-01-01 UTC
            inside = False
        if not inside:
            first, last = low.date().isoformat(), high.date().isoformat()
            self.fail(name, f"Phải nằm trong khoảng {first} đến {last}.", f"Must be between {first} and {last}.")
            return None
        return value

    def _numbers(self, name: str, count: int) -> list[float] | None:
        raw = self.raw(name)
        if raw is None:
            return None
        parts = raw.split(",")
        if not all(_DECIMAL_PART.fullmatch(p) for p in parts):
            return []
        try:
            values = [float(p) for p in parts]
        except ValueError:
            values = []
        if len(parts) != count or len(values) != count or not all(math.isfinite(v) for v in values):
            return []
        return values

    def bbox(self, name: str = "bbox") -> tuple[float, float, float, float] | None:
        values = self._numbers(name, 4)
        if values is None:
            return None
        if values:
            min_lon, min_lat, max_lon, max_lat = values
            if -180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90:
                return min_lon, min_lat, max_lon, max_lat
        self.fail(
            name,
            "Phải là minLon,minLat,maxLon,maxLat với min ≤ max, kinh độ trong [-180, 180], vĩ độ trong [-90, 90].",
            "Must be minLon,minLat,maxLon,maxLat with min ≤ max, lon within [-180, 180], lat within [-90, 90].",
        )
        return None

    def lon_lat(self, name: str) -> tuple[float, float] | None:
        values = self._numbers(name, 2)
        if values is None:
            return None
        if values and -180 <= values[0] <= 180 and -90 <= values[1] <= 90:
            return values[0], values[1]
        self.fail(
            name,
            "Phải là LON,LAT với kinh độ trong [-180, 180], vĩ độ trong [-90, 90].",
            "Must be LON,LAT with lon within [-180, 180] and lat within [-90, 90].",
        )
        return None

    def raise_if_invalid(self) -> None:
        if self.errors:
            raise BadParameters(self.errors)


def page_links(request, *, offset: int, limit: int, returned: int, total: int | None) -> dict[str, str | None]:
    """`next`/`previous` URLs that keep every other parameter of the request."""

    def with_offset(new_offset: int) -> str:
        query = request.GET.copy()
        query["offset"] = str(new_offset)
        query["limit"] = str(limit)
        return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")

    has_more = returned == limit if total is None else offset + returned < total
    return {
        "next": with_offset(offset + limit) if has_more else None,
        "previous": with_offset(max(offset - limit, 0)) if offset > 0 else None,
    }


def paged(request, queryset, *, offset: int, limit: int, serialize) -> dict:
    """`{"count", "next", "previous", "results"}` of one page of `queryset`,
    each row through `serialize`."""
    total = queryset.count()
    page = list(queryset[offset : offset + limit])
    return {
        "count": total,
        **page_links(request, offset=offset, limit=limit, returned=len(page), total=total),
        "results": [serialize(row) for row in page],
    }


# A day: the key holds the data's version, so a change is seen at once anyway.
PUBLIC_ANSWER_SECONDS = 24 * 3600


def json_response(data, *, status: int = 200) -> HttpResponse:
    """`data` answered as DRF's JSONRenderer answers it (`json_body`), for a lean answer."""
    return HttpResponse(json_body(data), status=status, content_type=JSONRenderer.media_type)


class RecentAnswers(RecentValues[tuple[bytes, bytes]]):
    """The public answers (plain and gzip) this process gave last
    (`RecentValues`): the communes' answer with its gzip form is 350 KB,
    which every request fetched from Redis and unpickled. The key holds the
    data's version (a sequence: never handed out twice)."""

    def __init__(self) -> None:
        super().__init__(size=lambda answer: len(answer[0]) + len(answer[1]), largest_share=4)


recent_answers = RecentAnswers()


def public_answer(request, *, key: str, version: int | None, make: Callable[[], bytes]) -> HttpResponse:
    """A JSON answer that is the same for every visitor (no session, no
    token read), made by `make()` once per `version` of the data it shows
    and kept, with its gzip form, in the shared cache under `key` (which
    must hold everything the answer depends on besides the data: the full
    URL, the day for "in force today"), and in this process's memory
    (`RecentAnswers`, `PUBLIC_ANSWER_MEMORY_BYTES`). `version` None: made
    every time.

    The gzip form is sent as it is to a client that accepts gzip and sent
    no token (gisportal.compression's rule; the answer holds no secret):
    compressing the communes' 282 KB took 9 ms of each request."""
    if version is None:
        return HttpResponse(make(), content_type=JSONRenderer.media_type)
    database = connection.settings_dict["NAME"]
    cache_key = "public-answer:" + hashlib.sha256(f"{database}:{version}:{key}".encode()).hexdigest()
    budget = settings.PUBLIC_ANSWER_MEMORY_BYTES
    stored = recent_answers.get(cache_key) if budget else None
    if stored is None:
        stored = cache.get(cache_key)
        if stored is None:
            body = make()
            stored = (body, gzip.compress(body, compresslevel=6, mtime=0))
            cache.set(cache_key, stored, PUBLIC_ANSWER_SECONDS)
        if budget:
            recent_answers.put(cache_key, stored, budget=budget)
    body, packed = stored
    compressed = re_accepts_gzip.search(request.META.get("HTTP_ACCEPT_ENCODING", "")) and not request.META.get(
        "HTTP_AUTHORIZATION"
    )
    response = HttpResponse(packed if compressed else body, content_type=JSONRenderer.media_type)
    if compressed:
        response["Content-Encoding"] = "gzip"  # GZipMiddleware leaves an encoded answer alone
    patch_vary_headers(response, ("Accept-Encoding",))
    return response


class PublicApiView(APIView):
    """A read-only look-up anyone may make: no session or token is read (so
    no per-request session query), JSON only; rate-limited per client."""

    authentication_classes: list = []
    permission_classes: list = []
    renderer_classes = [JSONRenderer]

    def perform_content_negotiation(self, request, force=False):
        # JSON is the only answer; skipping Accept parsing is a measurable
        # share of a sub-millisecond look-up (bench/nearest.py).
        renderer = JSONRenderer()
        return renderer, renderer.media_type


class IsOfficial(BasePermission):
    """Officials of any role (desk, processing, leader, administrator); an
    anonymous caller gets 401 from the authenticators, a citizen 403."""

    message = message("Chỉ cán bộ, công chức xem được số liệu này.", "Only officials may see these figures.")

    def has_permission(self, request, view) -> bool:
        return actor_for(request.user).is_official


class OfficialApiView(APIView):
    """Figures for officials only (`IsOfficial`), JSON only; not throttled.
    The token is read first, so an anonymous caller gets 401 with
    WWW-Authenticate. Other formats (?format=csv|xlsx, tiles) are built as
    plain HttpResponses by the views themselves."""

    authentication_classes = [ApiTokenAuthentication, SessionAuthentication]
    permission_classes = [IsOfficial]
    renderer_classes = [JSONRenderer]
    throttle_classes: list = []

    def perform_content_negotiation(self, request, force=False):
        renderer = JSONRenderer()
        return renderer, renderer.media_type


def month_start(day: dt.date, months_back: int = 0) -> dt.date:
    """The 1st of the month `months_back` months before the month of `day`
    (a negative number counts forward). ValueError before year 1."""
    index = day.year * 12 + day.month - 1 - months_back
    return dt.date(index // 12, index % 12 + 1, 1)


def default_period(today: dt.date) -> tuple[dt.date, dt.date]:
    """The last 12 months: from the 1st of the month eleven months back to today."""
    try:
        return month_start(today, 11), today
    except ValueError:
        return dt.date.min, today
