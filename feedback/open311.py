"""Open311 GeoReport v2 under /open311/v2/, in JSON and XML (the format is
the URL's extension): feedback categories are its services, reports its
service requests.

- `GET discovery.{fmt}`: the service discovery document;
- `GET services.{fmt}`, `GET services/{service_code}.{fmt}`: the active
  categories (type realtime, no extra attributes) and one's definition;
- `GET requests.{fmt}`: filters `service_request_id` (comma-separated,
  overrides the others), `service_code` (comma-separated), `start_date`,
  `end_date` (W3C datetimes; at most 90 days apart), `status` (open, closed);
  by default the last 90 days, newest first, at most 1,000 requests;
- `POST requests.{fmt}` with `api_key` (issued by an administrator):
  `service_code`, `lat` and `long` or `address_string`, `description`
  (at most 4,000 characters), optional `media_url`, `email`, `phone`,
  `first_name`, `last_name`; answers the `service_request_id` and a `token`;
- `GET requests/{service_request_id}.{fmt}`, `GET tokens/{token}.{fmt}`.

`jurisdiction_id` is optional and must be OPEN311_JURISDICTION_ID when given.
Statuses: received, needs_info and in_progress are `open`; the others
`closed`, with `status_notes` saying which (the refusal's reason, the
question asked, the published answer). Errors are Open311's list of
{code, description} with the HTTP status of the code. GET answers carry no
personal data: no names, phones, e-mails or typed addresses; `address` is the
commune; `description`, `media_url` and the exact `lat`/`long` are given
once the answer is published (until then a position about 100 m off).

The holder of a key agreed to collect each reporter's consent to the
processing of the location before posting; each request records it with the
key's name and terms version (`LocationConsent.given_via`)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import xml.etree.ElementTree as ET
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import APIException, MethodNotAllowed, NotFound, Throttled
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from gisportal.api import message
from gisportal.renderers import JSONRenderer, json_body
from gisportal.throttling import PublicLookupThrottle
from gisportal.unstorable import MultiPartParser

from . import consent
from .errors import FeedbackInputError
from .models import OPEN_STATUSES, ApiKey, Category, Feedback
from .models import Status as S
from .selectors import categories_active, public_position
from .services import feedback_create, feedback_prepare

FORMATS = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
DEFAULT_DAYS = 90
MAX_RANGE = dt.timedelta(days=90)
MAX_REQUESTS = 1000
# Field names of the feedback services, as Open311 names them.
_FIELDS = {
    "category": "service_code",
    "text": "description",
    "lon": "long",
    "lat": "lat",
    "location": "lat",
    "address": "address_string",
    "email": "email",
    "phone": "phone",
    "media_url": "media_url",
}


class Open311Error(APIException):
    """One or more Open311 errors, answered with `status_code`."""

    def __init__(self, status_code: int, descriptions: list[str]):
        super().__init__()
        self.status_code = status_code
        self.descriptions = descriptions

    @classmethod
    def one(cls, status_code: int, vi: str, en: str) -> Open311Error:
        return cls(status_code, [message(vi, en)])


# --- rendering -------------------------------------------------------------------------------


def _xml_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _xml_fill(parent: ET.Element, item: dict) -> None:
    for key, value in item.items():
        child = ET.SubElement(parent, key)
        if isinstance(value, list):
            singular = key[:-1]
            for entry in value:
                _xml_fill(ET.SubElement(child, singular), entry)
        else:
            child.text = _xml_text(value)


def render(fmt: str, data: Any, *, root: str, item: str | None = None, status: int = 200) -> HttpResponse:
    """`data` (a list of `item`s, or one object named `root`) in JSON or XML."""
    if fmt == "json":
        body = json_body(data)
    else:
        element = ET.Element(root)
        if item is None:
            _xml_fill(element, data)
        else:
            for entry in data:
                _xml_fill(ET.SubElement(element, item), entry)
        body = b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(
            element, encoding="utf-8", xml_declaration=False
        )
    return HttpResponse(body, status=status, content_type=FORMATS[fmt])


def render_errors(fmt: str, status: int, descriptions: list[str]) -> HttpResponse:
    errors = [{"code": status, "description": d} for d in descriptions]
    return render(fmt if fmt in FORMATS else "json", errors, root="errors", item="error", status=status)


def w3c(value: dt.datetime | None) -> str | None:
    return timezone.localtime(value).replace(microsecond=0).isoformat() if value else None


# --- the shapes ---------------------------------------------------------------------------------


def service_view(category: Category) -> dict:
    return {
        "service_code": category.code,
        "service_name": category.name,
        "description": category.description or category.name_en,
        "metadata": False,
        "type": "realtime",
        "keywords": category.keywords,
        "group": category.group,
    }


def _status_notes(report: Feedback) -> str:
    if report.status in (S.REFUSED, S.NEEDS_INFO) and report.status_note:
        return f"{S(report.status).label}: {report.status_note}"
    if report.is_public and report.answer:
        return report.answer
    return str(S(report.status).label)


def request_view(report: Feedback, request) -> dict:
    """A service request as anyone may read it (no personal data)."""
    published = report.is_public
    lon, lat = public_position(report.location.x, report.location.y, exact=published)
    photos = list(report.photos.all()) if published else []
    if photos:
        media = request.build_absolute_uri(reverse("feedback-photo-public", args=[report.public_id, photos[0].pk]))
    else:
        media = report.media_url if published else ""
    return {
        "service_request_id": report.public_id,
        "status": "open" if report.status in OPEN_STATUSES else "closed",
        "status_notes": _status_notes(report),
        "service_name": report.category.name,
        "service_code": report.category.code,
        "description": report.public_text if published else "",
        "agency_responsible": report.agency.name,
        "service_notice": "",
        "requested_datetime": w3c(report.received_at),
        "updated_datetime": w3c(report.updated_at),
        "expected_datetime": w3c(report.due_at if report.status != S.NEEDS_INFO else report.answer_due_at),
        "address": report.commune.full_name,
        "address_id": "",
        "zipcode": "",
        "lat": lat,
        "long": lon,
        "media_url": media,
    }


# --- keys -----------------------------------------------------------------------------------


def api_key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_issue(*, name: str, consent_terms_version: str, contact_email: str = "", rate: str = "60/min",
                  created_by=None) -> tuple[ApiKey, str]:  # fmt: skip
    """A new key: (the row, the key itself, which is shown once and never stored)."""
    prefix = secrets.token_hex(4)
    key = f"o311_{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey.objects.create(
        name=name,
        contact_email=contact_email,
        prefix=prefix,
        key_hash=api_key_hash(key),
        consent_terms_version=consent_terms_version,
        rate=rate,
        created_at=timezone.now(),
        created_by=created_by,
    )
    return row, key


def api_key_find(key: str) -> ApiKey | None:
    """The live key row for `key`, or None (unknown, or revoked)."""
    if not key or len(key) > 100:
        return None
    return ApiKey.objects.filter(key_hash=api_key_hash(key), revoked_at__isnull=True).first()


def _key_text(request) -> str:
    value = request.data.get("api_key") if hasattr(request.data, "get") else None
    value = value or request.query_params.get("api_key") or ""
    return value if isinstance(value, str) else ""


class ApiKeyThrottle(SimpleRateThrottle):
    """POST requests per API key, at the key's own rate (`ApiKey.rate`)."""

    scope = "open311_key"

    def allow_request(self, request, view) -> bool:
        if request.method != "POST":
            return True
        key = view.api_key(request)
        if key is None:
            return True  # refused with 403 by the view
        self.rate = key.rate
        self.num_requests, self.duration = self.parse_rate(self.rate)
        self.key = f"throttle_open311_key_{key.pk}"
        self.history = self.cache.get(self.key, [])
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()
        if len(self.history) >= self.num_requests:
            return self.throttle_failure()
        return self.throttle_success()

    def get_rate(self):
        return "1/s"  # replaced per key in allow_request


# --- views -----------------------------------------------------------------------------------


class Open311View(APIView):
    """Anonymous (the POST carries an API key), throttled per client for
    reads and per key for writes, answering in the URL's format."""

    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes = [PublicLookupThrottle, ApiKeyThrottle]
    parser_classes = [FormParser, MultiPartParser, JSONParser]
    renderer_classes = [JSONRenderer]
    schema = None  # Open311 is its own contract, not part of /api/schema/

    def api_key(self, request) -> ApiKey | None:
        if not hasattr(request, "_open311_key"):
            request._open311_key = api_key_find(_key_text(request))
        return request._open311_key

    def perform_content_negotiation(self, request, force=False):
        renderer = JSONRenderer()
        return renderer, renderer.media_type

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if kwargs.get("fmt") not in FORMATS:
            raise Open311Error.one(
                404, "Định dạng không hỗ trợ: dùng .json hoặc .xml.", "Format not supported: use .json or .xml."
            )
        jurisdiction = request.query_params.get("jurisdiction_id")
        if jurisdiction is None and hasattr(request.data, "get") and request.method == "POST":
            jurisdiction = request.data.get("jurisdiction_id")
        if jurisdiction and jurisdiction != settings.OPEN311_JURISDICTION_ID:
            raise Open311Error.one(404, "Không có jurisdiction_id này.", "jurisdiction_id not found.")

    def handle_exception(self, exc):
        fmt = self.kwargs.get("fmt", "json")
        if isinstance(exc, Open311Error):
            return render_errors(fmt, exc.status_code, exc.descriptions)
        if isinstance(exc, FeedbackInputError):
            descriptions = [
                f"{_FIELDS.get(field, field)}: {text}" for field, texts in exc.errors.items() for text in texts
            ]
            return render_errors(fmt, 400, descriptions)
        if isinstance(exc, Throttled):
            response = render_errors(fmt, 429, [message("Quá nhiều yêu cầu.", "Too many requests.")])
            if exc.wait is not None:
                response["Retry-After"] = str(max(int(exc.wait), 1))
            return response
        if isinstance(exc, MethodNotAllowed):
            return render_errors(fmt, 405, [message("Phương thức không hỗ trợ.", "Method not allowed.")])
        if isinstance(exc, NotFound):
            return render_errors(fmt, 404, [message("Không tìm thấy.", "Not found.")])
        if isinstance(exc, APIException):
            return render_errors(fmt, exc.status_code, [str(exc.detail)])
        return super().handle_exception(exc)


def _base(request) -> str:
    return request.build_absolute_uri(reverse("open311-services", args=["json"])).rsplit("/", 1)[0]


class DiscoveryView(Open311View):
    def get(self, request, fmt: str):
        data = {
            "changeset": "2025-12-01T00:00:00+07:00",
            "contact": "Cổng dịch vụ công tỉnh Bắc Ninh / Bắc Ninh public service portal",
            "key_service": "Khoá API do quản trị viên cấp / API keys are issued by the portal's administrators",
            "endpoints": [
                {
                    "specification": "http://wiki.open311.org/GeoReport_v2",
                    "url": _base(request),
                    "changeset": "2025-12-01T00:00:00+07:00",
                    "type": "production",
                    "formats": ["application/json", "text/xml"],
                }
            ],
        }
        if fmt == "xml":
            element = ET.Element("discovery")
            for key in ("changeset", "contact", "key_service"):
                ET.SubElement(element, key).text = data[key]
            endpoints = ET.SubElement(element, "endpoints")
            endpoint = ET.SubElement(endpoints, "endpoint")
            for key in ("specification", "url", "changeset", "type"):
                ET.SubElement(endpoint, key).text = data["endpoints"][0][key]
            formats = ET.SubElement(endpoint, "formats")
            for media in data["endpoints"][0]["formats"]:
                ET.SubElement(formats, "format").text = media
            body = b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(element, encoding="utf-8")
            return HttpResponse(body, content_type=FORMATS["xml"])
        return render(fmt, data, root="discovery")


class ServiceListView(Open311View):
    def get(self, request, fmt: str):
        return render(fmt, [service_view(c) for c in categories_active()], root="services", item="service")


class ServiceDefinitionView(Open311View):
    def get(self, request, service_code: str, fmt: str):
        category = categories_active().filter(code=service_code).first()
        if category is None:
            raise Open311Error.one(404, "Không có service_code này.", "service_code not found.")
        return render(fmt, {"service_code": category.code, "attributes": []}, root="service_definition")


def _when(request, name: str) -> dt.datetime | None:
    raw = (request.query_params.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = parse_datetime(raw.replace(" ", "+"))  # a "+" the client did not encode arrives as a space
    except ValueError:
        value = None
    if value is None:
        raise Open311Error.one(
            400,
            f"{name}: ngày giờ theo W3C, ví dụ 2025-12-01T00:00:00+07:00.",
            f"{name}: a W3C datetime, e.g. 2025-12-01T00:00:00+07:00.",
        )
    return value if timezone.is_aware(value) else timezone.make_aware(value)


def _listed(request, name: str) -> list[str]:
    raw = request.query_params.get(name) or ""
    return [part.strip() for part in raw.split(",") if part.strip()][:100]


def _reports():
    return Feedback.objects.select_related("category", "agency", "commune").prefetch_related("photos")


class RequestListView(Open311View):
    def get(self, request, fmt: str):
        ids = _listed(request, "service_request_id")
        if ids:
            reports = _reports().filter(public_id__in=ids).order_by("-received_at", "-id")
        else:
            reports = self._filtered(request)
        return render(
            fmt, [request_view(r, request) for r in reports[:MAX_REQUESTS]], root="service_requests", item="request"
        )

    def _filtered(self, request):
        start, end = _when(request, "start_date"), _when(request, "end_date")
        if start and end and start > end:
            raise Open311Error.one(400, "start_date sau end_date.", "start_date is after end_date.")
        if start and end and end - start > MAX_RANGE:
            raise Open311Error.one(400, "Khoảng ngày tối đa 90 ngày.", "The date range may not exceed 90 days.")
        if start is None and end is None:
            end = timezone.now()
        if start is None:
            start = end - dt.timedelta(days=DEFAULT_DAYS)
        if end is None:
            end = start + MAX_RANGE
        reports = _reports().filter(received_at__gte=start, received_at__lte=end)
        codes = _listed(request, "service_code")
        if codes:
            reports = reports.filter(category__code__in=codes)
        states = {s.lower() for s in _listed(request, "status")}
        if states - {"open", "closed"}:
            raise Open311Error.one(400, "status: open hoặc closed.", "status: open or closed.")
        if states == {"open"}:
            reports = reports.filter(status__in=OPEN_STATUSES)
        elif states == {"closed"}:
            reports = reports.exclude(status__in=OPEN_STATUSES)
        return reports.order_by("-received_at", "-id")

    def post(self, request, fmt: str):
        key = self.api_key(request)
        if key is None:
            raise Open311Error.one(403, "api_key không hợp lệ.", "Invalid api_key.")
        data = request.data if hasattr(request.data, "get") else {}
        text = _field(data, "description", 4000)
        lat, lon = _coordinate(data, "lat", 90), _coordinate(data, "long", 180)
        name = " ".join(p for p in (_field(data, "first_name", 75), _field(data, "last_name", 75)) if p)
        draft = feedback_prepare(
            category_code=_field(data, "service_code", 40),
            text=text,
            lon=lon,
            lat=lat,
            photos=[],
            address_text=_field(data, "address_string", 300),
            reporter_phone=_field(data, "phone", 20),
            reporter_name=name,
            reporter_email=_field(data, "email", 254),
            media_url=_field(data, "media_url", 500),
            channel="open311",
            external_id=_field(data, "device_id", 100) or _field(data, "account_id", 100),
            consent_location=True,
            consent_version=consent.CURRENT_VERSION,
            consent_via=f"Open311: {key.name} ({key.prefix}; terms {key.consent_terms_version})",
            api_key=key,
        )
        report = feedback_create(draft)
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
        answer = {
            "service_request_id": report.public_id,
            "token": report.token,
            "service_notice": message(
                f"Hạn trả lời: {timezone.localtime(report.answer_due_at):%d/%m/%Y}.",
                f"Answer due by {timezone.localtime(report.answer_due_at):%Y-%m-%d}.",
            ),
            "account_id": None,
        }
        return render(fmt, [answer], root="service_requests", item="request", status=201)


def _field(data, name: str, max_length: int) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > max_length:
        raise Open311Error.one(
            400, f"{name}: chuỗi tối đa {max_length} ký tự.", f"{name}: a string of at most {max_length} characters."
        )
    return value.strip()


def _coordinate(data, name: str, bound: float) -> float | None:
    raw = _field(data, name, 40)
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not -bound <= value <= bound:
        raise Open311Error.one(
            400, f"{name}: số độ trong [-{bound:g}, {bound:g}].", f"{name}: degrees within [-{bound:g}, {bound:g}]."
        )
    return value


class RequestDetailView(Open311View):
    def get(self, request, service_request_id: str, fmt: str):
        report = _reports().filter(public_id=service_request_id).first()
        if report is None:
            raise Open311Error.one(404, "Không có service_request_id này.", "service_request_id not found.")
        return render(fmt, [request_view(report, request)], root="service_requests", item="request")


class TokenView(Open311View):
    def get(self, request, token: str, fmt: str):
        report = (
            Feedback.objects.filter(Q(token=token)).only("public_id", "token").first() if len(token) <= 32 else None
        )
        if report is None:
            raise Open311Error.one(404, "Không có token này.", "token not found.")
        answer = [{"service_request_id": report.public_id, "token": report.token}]
        return render(fmt, answer, root="service_requests", item="request")
