"""Feedback API: categories, phone codes, nearby reports, address matching,
submission, worklists, one report, its moves, follows, ratings, the public
map, and ratings of finished dossiers. Each view parses its input, calls one
service or selector and shapes the answer."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping
from pathlib import PurePosixPath

from django.conf import settings
from django.http import Http404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import NotAuthenticated
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from dossiers.models import Dossier
from gisportal.accounts.authentication import ApiTokenAuthentication
from gisportal.accounts.phone import (
    PhoneCodeThrottled,
    PhoneInvalid,
    phone_code_send,
    phone_code_verify,
    phone_normalize,
)
from gisportal.accounts.selectors import actor_for
from gisportal.api import (
    GEOJSON_POINT_SCHEMA,
    PublicApiView,
    QueryParams,
    body_point,
    date_parameter,
    default_period,
    integer_parameter,
    message,
    number_parameter,
    numbers_pattern,
    paged,
)
from gisportal.clientip import client_ip
from gisportal.downloads import download_response
from gisportal.renderers import JSONRenderer
from gisportal.unstorable import MultiPartParser

from . import consent
from .errors import FeedbackInputError, FeedbackNotAllowed, RatingNotAllowed
from .models import Feedback, Photo, Status
from .photos import photo_open, photos_check
from .selectors import (
    MAX_POINTS,
    POINTS_FROM_ZOOM,
    MapFilter,
    categories_active,
    category_get,
    commune_representative_point,
    feedback_get_for_user,
    feedback_map_clusters,
    feedback_map_points,
    feedback_nearby,
    feedback_public_get,
    feedback_worklist,
    places_match,
)
from .serializers import category_view, consent_view, feedback_detail, feedback_public, feedback_summary
from .services import (
    dossier_rate,
    feedback_create,
    feedback_follow,
    feedback_prepare,
    feedback_rate,
    feedback_transition,
)

audit = logging.getLogger("gisportal.audit")

PHONE_PURPOSE = "feedback"
MAX_PAGE = 500
MAX_OFFSET = 10_000_000
_TRUE = {"true", "1", "on", "yes"}


def _handled(exc) -> Response | None:
    """The domain errors of the feedback services as HTTP answers."""
    if isinstance(exc, FeedbackInputError):
        return Response(exc.errors, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, FeedbackNotAllowed):
        return Response(
            {"detail": str(exc), "status": exc.status, "allowed_actions": exc.allowed}, status=status.HTTP_409_CONFLICT
        )
    if isinstance(exc, RatingNotAllowed):
        return Response({"detail": str(exc)}, status=exc.status_code)
    if isinstance(exc, PhoneCodeThrottled):
        response = Response({"detail": str(exc)}, status=status.HTTP_429_TOO_MANY_REQUESTS)
        response["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, PhoneInvalid):
        return Response({"phone": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Feedback.DoesNotExist):
        return Response(
            {"detail": message("Không tìm thấy phản ánh.", "Feedback report not found.")},
            status=status.HTTP_404_NOT_FOUND,
        )
    if isinstance(exc, Dossier.DoesNotExist):
        return Response(
            {"detail": message("Không tìm thấy hồ sơ.", "Dossier not found.")}, status=status.HTTP_404_NOT_FOUND
        )
    return None


class _Handles:
    def handle_exception(self, exc):
        return _handled(exc) or super().handle_exception(exc)


class FeedbackApiView(_Handles, APIView):
    """Signed in or not (the view says); session or token; JSON."""

    authentication_classes = [ApiTokenAuthentication, SessionAuthentication]
    permission_classes: list = []
    renderer_classes = [JSONRenderer]
    throttle_classes: list = []


class FeedbackPublicView(_Handles, PublicApiView):
    pass


def _object(request) -> Mapping:
    if not isinstance(request.data, Mapping):
        raise FeedbackInputError.one("body", "Nội dung phải là một đối tượng JSON.", "The body must be a JSON object.")
    return request.data


def _text(data: Mapping, errors: dict, name: str, *, max_length: int, required: bool = False) -> str:
    value = data.get(name)
    if value is None or value == "":
        if required:
            errors.setdefault(name, []).append(message("Trường này là bắt buộc.", "This field is required."))
        return ""
    if not isinstance(value, str):
        errors.setdefault(name, []).append(message("Phải là chuỗi ký tự.", "Must be a string."))
        return ""
    if len(value) > max_length:
        errors.setdefault(name, []).append(
            message(f"Tối đa {max_length:,} ký tự.", f"At most {max_length:,} characters.")
        )
        return ""
    return value


def _flag(data: Mapping, name: str) -> bool:
    value = data.get(name)
    return value is True or (isinstance(value, str) and value.strip().lower() in _TRUE)


def _integer(data: Mapping, name: str) -> int | None:
    """A whole number given as a JSON number or a form string; None otherwise."""
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    text = str(value).strip()
    return int(text) if text.lstrip("-").isdecimal() and len(text) < 10 else None


def _phone_proof(request, data: Mapping, errors: dict) -> str:
    """For an anonymous caller: the phone, once its code is checked (the
    code is used up); '' for a signed-in one. Adds to `errors` otherwise."""
    if request.user.is_authenticated:
        return ""
    phone = _text(data, errors, "phone", max_length=20, required=True)
    code = _text(data, errors, "phone_code", max_length=10, required=True)
    if errors or not phone:
        return ""
    if not phone_code_verify(phone=phone, purpose=PHONE_PURPOSE, code=code):
        errors["phone_code"] = [
            message(
                "Mã xác thực sai, đã dùng hoặc đã hết hạn; hãy yêu cầu mã mới.",
                "The code is wrong, used or expired; ask for a new one.",
            )
        ]
        return ""
    return phone_normalize(phone)


# --- public look-ups ---------------------------------------------------------------------


class CategoryListApi(FeedbackPublicView):
    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        summary="Feedback categories, and the consent text a report needs",
        operation_id="feedback_categories",
    )
    def get(self, request):
        return Response({"results": [category_view(c) for c in categories_active()], "consent": consent_view()})


PHONE_BODY = {
    "type": "object",
    "properties": {"phone": {"type": "string", "maxLength": 20, "example": "0912 345 678"}},
    "required": ["phone"],
}


class PhoneCodeApi(FeedbackPublicView):
    """POST {"phone"}: a code by SMS, to report, follow or rate without an account."""

    parser_classes = [JSONParser, FormParser]

    @extend_schema(
        request={"application/json": PHONE_BODY},
        responses={202: OpenApiTypes.OBJECT, 429: OpenApiTypes.OBJECT},
        summary="Send a verification code to a phone (anonymous reports, follows, ratings)",
        operation_id="feedback_phone_code",
    )
    def post(self, request):
        data = _object(request)
        errors: dict[str, list[str]] = {}
        phone = _text(data, errors, "phone", max_length=20, required=True)
        if errors:
            raise FeedbackInputError(errors)
        phone_code_send(phone=phone, purpose=PHONE_PURPOSE, client=client_ip(request) or "")
        return Response(
            {
                "detail": message("Đã gửi mã xác thực qua SMS.", "A code was sent by SMS."),
                "expires_in_s": settings.PHONE_CODE_TTL_S,
                "resend_after_s": settings.PHONE_CODE_RESEND_AFTER_S,
            },
            status=status.HTTP_202_ACCEPTED,
        )


CATEGORY_CODE = re.compile(r"[-a-zA-Z0-9_]{1,40}")
CATEGORY_PARAMETER = OpenApiParameter(
    "category", {"type": "string", "pattern": f"^{CATEGORY_CODE.pattern}$"}, description="A category code."
)


class NearbyApi(FeedbackPublicView):
    @extend_schema(
        parameters=[
            CATEGORY_PARAMETER,
            number_parameter("lon", low=-180, high=180, required=True),
            number_parameter("lat", low=-90, high=90, required=True),
        ],
        responses={200: OpenApiTypes.OBJECT},
        summary="Reports of a category within 50 m and 30 days of a point (to follow instead of repeating)",
        operation_id="feedback_nearby",
    )
    def get(self, request):
        params = QueryParams(request.query_params)
        code = params.raw("category")
        lon = params.number("lon", low=-180, high=180, required=True)
        lat = params.number("lat", low=-90, high=90, required=True)
        category = category_get(code=code or "")
        if category is None and "category" not in params.errors:
            params.fail("category", "Không có lĩnh vực phản ánh này.", "No such feedback category.")
        params.raise_if_invalid()
        found = feedback_nearby(category=category, lon=lon, lat=lat)
        return Response(
            {
                "radius_m": settings.FEEDBACK_NEARBY_M,
                "days": settings.FEEDBACK_NEARBY_DAYS,
                # Rounded: an exact distance from points one chooses would
                # give away where a report not yet published is.
                "results": [{**feedback_public(n.report), "distance_m": round(n.distance_m, -1)} for n in found],
            }
        )


class PlaceSearchApi(FeedbackPublicView):
    @extend_schema(
        parameters=[
            OpenApiParameter("q", {"type": "string", "minLength": 1, "maxLength": 300, "pattern": "\\S"}, required=True)
        ],
        responses={200: OpenApiTypes.OBJECT},
        summary="Communes (2025 map) found in a typed address, with or without diacritics",
        operation_id="feedback_places",
    )
    def get(self, request):
        params = QueryParams(request.query_params)
        q = params.raw("q")
        if q is None:
            params.fail("q", "Cần địa chỉ.", "The address is required.")
        elif len(q) > 300:
            params.fail("q", "Tối đa 300 ký tự.", "At most 300 characters.")
        params.raise_if_invalid()
        results = []
        for place in places_match(q=q):
            lon, lat = commune_representative_point(place.commune)
            results.append(
                {
                    "code": place.commune.code,
                    "name": place.commune.name,
                    "full_name": place.commune.full_name,
                    "matched": place.matched_name,
                    "score": place.score,
                    "point": {"type": "Point", "coordinates": [lon, lat]},
                }
            )
        return Response({"results": results})


class FeedbackPublicApi(FeedbackPublicView):
    @extend_schema(
        responses={200: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT},
        summary="One report as the public sees it",
        operation_id="feedback_public",
    )
    def get(self, request, public_id: str):
        report = feedback_public_get(public_id=public_id)
        if report is None:
            raise Feedback.DoesNotExist
        return Response(feedback_public(report))


MAP_STATUSES = [*Status.values, "open", "closed"]
_STATUS_GROUPS = {
    "open": ("received", "needs_info", "in_progress"),
    "closed": ("refused", "answered", "published", "closed"),
}


class FeedbackMapApi(FeedbackPublicView):
    """GeoJSON for the public map: below zoom 14, clusters counted by the
    server (`cluster: true`, `count`); from zoom 14 on, the reports (public
    positions), which the page clusters itself."""

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "bbox",
                {"type": "string", "pattern": numbers_pattern(4)},
                required=True,
                description="minLon,minLat,maxLon,maxLat (WGS84 degrees, min <= max)",
            ),
            integer_parameter("zoom", low=0, high=22, default=10),
            CATEGORY_PARAMETER,
            OpenApiParameter("status", str, enum=MAP_STATUSES),
            date_parameter("from", description="Received on or after (default: 12 months back)."),
            date_parameter("to", description="Received on or before (default: today)."),
        ],
        responses={200: OpenApiTypes.OBJECT},
        summary="The public feedback map (GeoJSON; clusters at low zoom)",
        operation_id="feedback_map",
    )
    def get(self, request):
        params = QueryParams(request.query_params)
        bbox = params.bbox("bbox")
        if bbox is None and "bbox" not in params.errors:
            params.fail("bbox", "Thiếu tham số bắt buộc.", "This parameter is required.")
        zoom = params.integer("zoom", default=10, low=0, high=22)
        code = params.raw("category")
        chosen = params.choice("status", MAP_STATUSES)
        today = timezone.localdate()
        start_default, _ = default_period(today)
        date_from = params.date("from", default=start_default)
        date_to = params.date("to", default=today)
        category = None
        if code is not None:
            category = category_get(code=code)
            if category is None:
                params.fail("category", "Không có lĩnh vực phản ánh này.", "No such feedback category.")
        if date_from and date_to and date_from > date_to:
            params.fail("from", "Ngày bắt đầu sau ngày kết thúc.", "`from` is after `to`.")
        params.raise_if_invalid()
        tz = timezone.get_current_timezone()
        f = MapFilter(
            bbox=bbox,
            zoom=zoom,
            date_from=dt.datetime.combine(date_from, dt.time.min, tzinfo=tz),
            date_to=dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
            if date_to < dt.date.max
            else dt.datetime.max.replace(tzinfo=tz),
            category_id=category.pk if category else None,
            statuses=_STATUS_GROUPS.get(chosen, (chosen,) if chosen else ()),
        )
        return Response(feedback_map(f))


def feedback_map(f: MapFilter) -> dict:
    """The map's GeoJSON: points from POINTS_FROM_ZOOM on (clusters when more
    than MAX_POINTS are in view), clusters below."""
    if f.zoom >= POINTS_FROM_ZOOM:
        rows = feedback_map_points(f)
        if len(rows) <= MAX_POINTS:
            return {
                "type": "FeatureCollection",
                "clustered": False,
                "features": [
                    {
                        "type": "Feature",
                        "id": public_id,
                        "geometry": {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]},
                        "properties": {
                            "id": public_id,
                            "category": category,
                            "status": status_,
                            "received_at": day,
                        },
                    }
                    for public_id, category, status_, day, lon, lat in rows
                ],
            }
    clusters = feedback_map_clusters(f)
    return {
        "type": "FeatureCollection",
        "clustered": True,
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]},
                "properties": {"cluster": True, "count": count},
            }
            for lon, lat, count in clusters
        ],
    }


# --- reports ---------------------------------------------------------------------------------

SUBMIT_BODY = {
    "type": "object",
    "properties": {
        "category": {"type": "string", "maxLength": 40},
        "text": {"type": "string", "maxLength": 4000},
        "lon": {"type": "number", "minimum": -180, "maximum": 180},
        "lat": {"type": "number", "minimum": -90, "maximum": 90},
        "location": GEOJSON_POINT_SCHEMA,
        "address": {"type": "string", "maxLength": 300},
        "consent_location": {"type": "boolean"},
        "consent_version": {"type": "string", "maxLength": 40},
        "phone": {"type": "string", "maxLength": 20},
        "phone_code": {"type": "string", "maxLength": 10},
        "photos": {"type": "array", "items": {"type": "string", "format": "binary"}},
    },
    "required": ["category", "text", "consent_location"],
}


class FeedbackListApi(FeedbackApiView):
    """GET: the caller's worklist (officials: their agency's reports) or own
    reports (citizens). POST: a new report, signed in, or anonymous with a
    phone and the code sent to it (POST /api/v1/feedback/phone-code/)."""

    parser_classes = [JSONParser, MultiPartParser, FormParser]
    login_required_methods = ("GET",)

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=Status.values),
            OpenApiParameter("due", str, enum=["soon", "late"]),
            CATEGORY_PARAMETER,
            integer_parameter("limit", low=1, high=MAX_PAGE, default=50),
            integer_parameter("offset", low=0, high=MAX_OFFSET, default=0),
        ],
        responses={200: OpenApiTypes.OBJECT},
        summary="Worklist (officials) or own reports (citizens)",
        operation_id="feedback_list",
    )
    def get(self, request):
        if not request.user.is_authenticated:
            raise NotAuthenticated
        params = QueryParams(request.query_params)
        status_filter = params.choice("status", Status.values)
        due = params.choice("due", ["soon", "late"])
        category = params.raw("category")
        if category is not None and not CATEGORY_CODE.fullmatch(category):
            params.fail("category", "Mã lĩnh vực không hợp lệ.", "Not a category code.")
        limit = params.integer("limit", default=50, low=1, high=MAX_PAGE)
        offset = params.integer("offset", default=0, low=0, high=MAX_OFFSET)
        params.raise_if_invalid()
        reports = feedback_worklist(user=request.user, status=status_filter, due=due, category=category)
        return Response(paged(request, reports, offset=offset, limit=limit, serialize=feedback_summary))

    @extend_schema(
        request={"application/json": SUBMIT_BODY, "multipart/form-data": SUBMIT_BODY},
        responses={201: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT},
        summary="Report a problem or make a proposal, with a location",
        operation_id="feedback_submit",
    )
    def post(self, request):
        data = _object(request)
        errors: dict[str, list[str]] = {}
        category = _text(data, errors, "category", max_length=40, required=True)
        text = _text(data, errors, "text", max_length=4000, required=True)
        address = _text(data, errors, "address", max_length=300)
        version = _text(data, errors, "consent_version", max_length=40) or consent.CURRENT_VERSION
        lon, lat = body_point(data, errors, name="location", lon="lon", lat="lat")
        files = request.FILES.getlist("photos") if hasattr(request, "FILES") else []
        photos, problems = photos_check(files)
        if problems:
            errors["photos"] = problems
        if errors:
            raise FeedbackInputError(errors)
        signed_in = request.user.is_authenticated
        phone = "" if signed_in else data.get("phone") if isinstance(data.get("phone"), str) else ""
        draft = feedback_prepare(
            category_code=category,
            text=text,
            lon=lon,
            lat=lat,
            photos=photos,
            address_text=address,
            consent_location=_flag(data, "consent_location"),
            consent_version=version,
            reporter_user=request.user if signed_in else None,
            reporter_phone=phone[:20],
            channel="web",
        )
        # The code is checked last, once the report is known to be good: a
        # refused report does not use it up.
        verified = _phone_proof(request, data, errors)
        if errors:
            raise FeedbackInputError(errors)
        draft.reporter_phone_verified = bool(verified)
        report = feedback_create(draft)
        body = feedback_detail(report, actor=actor_for(request.user)) if signed_in else feedback_public(report)
        response = Response(body, status=status.HTTP_201_CREATED)
        response["Location"] = body["url"]
        return response


class FeedbackDetailApi(FeedbackApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: OpenApiTypes.OBJECT}, summary="One report in full", operation_id="feedback_detail")
    def get(self, request, public_id: str):
        report = feedback_get_for_user(user=request.user, public_id=public_id)
        audit.info("feedback viewed id=%s user=%s", report.public_id, request.user.pk)
        return Response(feedback_detail(report, actor=actor_for(request.user)))


TRANSITION_BODY = {
    "type": "object",
    "properties": {
        "action": {"type": "string", "maxLength": 30},
        "note": {"type": "string", "maxLength": 4000},
        "agency": {"type": "string", "maxLength": 40},
        "public_text": {"type": "string", "maxLength": 4000},
    },
    "required": ["action"],
}


class FeedbackTransitionApi(FeedbackApiView):
    """POST {"action", "note", "agency", "public_text"}: one move of the workflow."""

    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    @extend_schema(
        request={"application/json": TRANSITION_BODY},
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT, 409: OpenApiTypes.OBJECT},
        summary="Apply one move of the feedback workflow",
        operation_id="feedback_transition",
    )
    def post(self, request, public_id: str):
        data = _object(request)
        errors: dict[str, list[str]] = {}
        action = _text(data, errors, "action", max_length=30, required=True)
        note = _text(data, errors, "note", max_length=4000)
        agency = _text(data, errors, "agency", max_length=40) or None
        public_text = _text(data, errors, "public_text", max_length=4000) or None
        if errors:
            raise FeedbackInputError(errors)
        report = feedback_transition(
            public_id=public_id,
            action=action,
            acting_user=request.user,
            note=note,
            agency_code=agency,
            public_text=public_text,
        )
        return Response(feedback_detail(report, actor=actor_for(request.user)))


PROOF_BODY = {
    "type": "object",
    "properties": {
        "phone": {"type": "string", "maxLength": 20},
        "phone_code": {"type": "string", "maxLength": 10},
    },
}


class FeedbackFollowApi(FeedbackApiView):
    """POST: follow a report (signed in, or with a phone and its code)."""

    parser_classes = [JSONParser, FormParser]

    @extend_schema(
        request={"application/json": PROOF_BODY},
        responses={201: OpenApiTypes.OBJECT, 200: OpenApiTypes.OBJECT},
        summary="Follow a report instead of reporting it again",
        operation_id="feedback_follow",
    )
    def post(self, request, public_id: str):
        data = _object(request)
        if feedback_public_get(public_id=public_id) is None:
            raise Feedback.DoesNotExist
        errors: dict[str, list[str]] = {}
        phone = _phone_proof(request, data, errors)
        if errors:
            raise FeedbackInputError(errors)
        report, created = feedback_follow(public_id=public_id, user=request.user, phone=phone)
        return Response(
            {"id": report.public_id, "following": True, "followers": report.followers},
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


RATING_BODY = {
    "type": "object",
    "properties": {
        "score": {"type": "integer", "minimum": 1, "maximum": 5},
        "comment": {"type": "string", "maxLength": 1000},
        **PROOF_BODY["properties"],
    },
    "required": ["score"],
}


def _rating(data: Mapping, errors: dict) -> tuple[int | None, str]:
    score = _integer(data, "score")
    if score is None or not 1 <= score <= 5:
        errors.setdefault("score", []).append(
            message("Điểm là số nguyên từ 1 đến 5.", "The score is a whole number from 1 to 5.")
        )
    comment = _text(data, errors, "comment", max_length=1000)
    return score, comment


def _rating_body(rating) -> dict:
    return {"subject": rating.subject, "score": rating.score, "comment": rating.comment, "rated_at": rating.day}


class FeedbackRatingApi(FeedbackApiView):
    """POST {"score": 1-5, "comment"}: the reporter rates the published answer, once."""

    parser_classes = [JSONParser, FormParser]

    @extend_schema(
        request={"application/json": RATING_BODY},
        responses={201: OpenApiTypes.OBJECT, 409: OpenApiTypes.OBJECT},
        summary="Rate the answer to one's report (1-5)",
        operation_id="feedback_rating",
    )
    def post(self, request, public_id: str):
        data = _object(request)
        errors: dict[str, list[str]] = {}
        score, comment = _rating(data, errors)
        if errors:
            raise FeedbackInputError(errors)
        phone = _phone_proof(request, data, errors)
        if errors:
            raise FeedbackInputError(errors)
        rating = feedback_rate(public_id=public_id, score=score, comment=comment, acting_user=request.user, phone=phone)
        return Response(_rating_body(rating), status=status.HTTP_201_CREATED)


DOSSIER_RATING_BODY = {
    "type": "object",
    "properties": {key: RATING_BODY["properties"][key] for key in ("score", "comment")},
    "required": ["score"],
}


class DossierRatingApi(FeedbackApiView):
    """POST {"score": 1-5, "comment"}: the applicant rates a finished dossier, once."""

    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser, FormParser]

    @extend_schema(
        request={"application/json": DOSSIER_RATING_BODY},
        responses={201: OpenApiTypes.OBJECT, 403: OpenApiTypes.OBJECT, 409: OpenApiTypes.OBJECT},
        summary="Rate a finished dossier (the applicant, once)",
        operation_id="dossiers_rating",
    )
    def post(self, request, code: str):
        data = _object(request)
        errors: dict[str, list[str]] = {}
        score, comment = _rating(data, errors)
        if errors:
            raise FeedbackInputError(errors)
        rating = dossier_rate(code=code, score=score, comment=comment, acting_user=request.user)
        return Response(_rating_body(rating), status=status.HTTP_201_CREATED)


class FeedbackPhotoApi(FeedbackApiView):
    """The original photo (EXIF as sent), for those who see the report in full."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        responses={200: OpenApiTypes.BINARY}, summary="A report's original photo", operation_id="feedback_photo"
    )
    def get(self, request, public_id: str, photo_id: int):
        report = feedback_get_for_user(user=request.user, public_id=public_id)
        photo = Photo.objects.filter(feedback=report, pk=photo_id).first()
        if photo is None:
            raise Http404
        try:
            handle = photo_open("original", photo.original_stored)
        except FileNotFoundError as missing:
            raise Http404 from missing
        audit.info("feedback photo downloaded id=%s photo=%s user=%s", public_id, photo.pk, request.user.pk)
        return download_response(
            handle,
            filename=f"{report.public_id}-{photo.pk}{PurePosixPath(photo.original_stored).suffix}",
            content_type=photo.original_type,
            private=True,
        )
