"""Notification API for signed-in citizens: their own inbox, marking it read,
and their preferences. Nobody reads anyone else's notifications: every query
starts from the caller (`selectors.inbox_of`)."""

from collections.abc import Mapping

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from gisportal.accounts.authentication import ApiTokenAuthentication
from gisportal.api import BadParameters, QueryParams, integer_parameter, message, page_links
from gisportal.renderers import JSONRenderer

from .models import Language, Notification, NotificationPreference
from .selectors import inbox_of, notification_preferences_of
from .services import notification_preferences_update, notifications_mark_read

MAX_PAGE = 100
MAX_OFFSET = 1_000_000
MAX_IDS = 500
PREFERENCE_FLAGS = ("inbox", "email", "zalo")

_NOTIFICATION_FIELDS = {
    "id": serializers.IntegerField(),
    "dossier": serializers.CharField(),
    "action": serializers.CharField(),
    "subject": serializers.CharField(),
    "body": serializers.CharField(),
    "link": serializers.CharField(),
    "created_at": serializers.DateTimeField(),
    "read": serializers.BooleanField(),
}
_INBOX = inline_serializer(
    "Inbox",
    {
        "count": serializers.IntegerField(),
        "unread": serializers.IntegerField(),
        "next": serializers.CharField(allow_null=True),
        "previous": serializers.CharField(allow_null=True),
        "results": inline_serializer("Notification", _NOTIFICATION_FIELDS, many=True),
    },
)
_PREFERENCES = inline_serializer(
    "NotificationPreferences",
    {
        "inbox": serializers.BooleanField(),
        "email": serializers.BooleanField(),
        "zalo": serializers.BooleanField(),
        "language": serializers.ChoiceField(choices=Language.values),
        "email_address": serializers.CharField(allow_blank=True),
    },
)
# Plain schemas: the server refuses unknown fields (400 naming them), which an
# inline serializer cannot declare (additionalProperties: false).
_PREFERENCES_CHANGE = {
    "type": "object",
    "properties": {
        "inbox": {"type": "boolean"},
        "email": {"type": "boolean"},
        "zalo": {"type": "boolean"},
        "language": {"type": "string", "enum": list(Language.values)},
    },
    "additionalProperties": False,
}
_MARK_READ = {
    "type": "object",
    "properties": {
        "ids": {
            "type": "array",
            "items": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
            "maxItems": MAX_IDS,
        }
    },
    "additionalProperties": False,
}
_MARKED = inline_serializer("NotificationsMarked", {"marked": serializers.IntegerField()})


class NotificationApiView(APIView):
    authentication_classes = [ApiTokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser]
    throttle_classes: list = []


def _unknown_fields(data: Mapping, known: set[str]) -> dict[str, list[str]]:
    return {name: [message("Trường không được hỗ trợ.", "Unknown field.")] for name in sorted(set(data) - known)}


def _object(request) -> Mapping:
    try:
        data = request.data
    except ParseError as error:
        raise BadParameters({"body": [message("Nội dung không phải JSON.", "The body is not JSON.")]}) from error
    if not isinstance(data, Mapping):
        raise BadParameters(
            {"body": [message("Nội dung phải là một đối tượng JSON.", "The body must be a JSON object.")]}
        )
    return data


def notification_view(row: Notification) -> dict:
    return {
        "id": row.pk,
        "dossier": row.dossier.code,
        "action": row.action,
        "subject": row.subject,
        "body": row.body,
        "link": row.link,
        "created_at": row.created_at.isoformat(),
        "read": row.read_at is not None,
    }


def preferences_view(preference: NotificationPreference, user) -> dict:
    return {
        "inbox": preference.inbox,
        "email": preference.email,
        "zalo": preference.zalo,
        "language": preference.language,
        "email_address": user.email,
    }


class InboxApi(NotificationApiView):
    """GET /api/v1/notifications/?unread=true&limit=&offset="""

    @extend_schema(
        parameters=[
            OpenApiParameter("unread", bool, description="Only the unread ones."),
            integer_parameter("limit", low=1, high=MAX_PAGE, default=20),
            integer_parameter("offset", low=0, high=MAX_OFFSET, default=0),
        ],
        responses={200: _INBOX},
        summary="Your notifications (portal inbox), newest first",
        operation_id="notifications_list",
    )
    def get(self, request):
        params = QueryParams(request.query_params)
        unread_only = params.choice("unread", ["true", "false"], default="false") == "true"
        limit = params.integer("limit", default=20, low=1, high=MAX_PAGE)
        offset = params.integer("offset", default=0, low=0, high=MAX_OFFSET)
        params.raise_if_invalid()
        rows = inbox_of(request.user)
        unread = rows.filter(read_at__isnull=True).count()
        if unread_only:
            rows = rows.filter(read_at__isnull=True)
        total = unread if unread_only else rows.count()
        page = list(rows.select_related("dossier")[offset : offset + limit])
        return Response(
            {
                "count": total,
                "unread": unread,
                **page_links(request, offset=offset, limit=limit, returned=len(page), total=total),
                "results": [notification_view(row) for row in page],
            }
        )


class InboxReadApi(NotificationApiView):
    """POST /api/v1/notifications/read/ {"ids": [...]} (or {} for all)."""

    @extend_schema(
        request={"application/json": _MARK_READ},
        responses={200: _MARKED},
        summary="Mark your notifications read (those of `ids`, or all)",
        operation_id="notifications_mark_read",
    )
    def post(self, request):
        data = _object(request)
        errors = _unknown_fields(data, {"ids"})
        ids = data.get("ids")
        valid = "ids" not in data or (
            isinstance(ids, list)
            and len(ids) <= MAX_IDS
            and all(isinstance(i, int) and not isinstance(i, bool) and 1 <= i < 2**63 for i in ids)
        )
        if not valid:
            errors["ids"] = [
                message(
                    f"Danh sách tối đa {MAX_IDS} số nguyên dương.", f"A list of at most {MAX_IDS} positive integers."
                )
            ]
        if errors:
            raise BadParameters(errors)
        return Response({"marked": notifications_mark_read(user=request.user, ids=ids)})


class PreferencesApi(NotificationApiView):
    """GET, PATCH /api/v1/notifications/preferences/"""

    @extend_schema(
        responses={200: _PREFERENCES}, summary="Your notification preferences", operation_id="notifications_preferences"
    )
    def get(self, request):
        return Response(preferences_view(notification_preferences_of(request.user), request.user))

    @extend_schema(
        request={"application/json": _PREFERENCES_CHANGE},
        responses={200: _PREFERENCES},
        summary="Change your notification preferences (the fields given)",
        operation_id="notifications_preferences_update",
    )
    def patch(self, request):
        data = _object(request)
        errors = _unknown_fields(data, {*PREFERENCE_FLAGS, "language"})
        changes = {}
        for name in PREFERENCE_FLAGS:
            if name in data:
                if isinstance(data[name], bool):
                    changes[name] = data[name]
                else:
                    errors[name] = [message("Phải là true hoặc false.", "Must be true or false.")]
        if "language" in data:
            if data["language"] in Language.values:
                changes["language"] = data["language"]
            else:
                errors["language"] = [message("Chọn vi hoặc en.", "Use vi or en.")]
        if errors:
            raise BadParameters(errors)
        preference = notification_preferences_update(user=request.user, **changes)
        return Response(preferences_view(preference, request.user))
