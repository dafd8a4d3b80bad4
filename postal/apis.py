"""Postal API: shipments (list, one, the desk's hand-overs, the hand-over
slip) and the carrier's signed status callbacks. Views parse, call one
service or selector, and shape; the rules are in services and selectors."""

import dataclasses
import functools
import logging
from collections.abc import Mapping

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from dossiers.apis import IDEMPOTENCY_KEY, SUBMIT_RESPONSES, DossierApiView, submission_response
from gisportal.accounts.authentication import ApiTokenAuthentication
from gisportal.accounts.selectors import actor_for
from gisportal.api import QueryParams, integer_parameter, message, page_links
from gisportal.downloads import download_response
from gisportal.unstorable import MultiPartParser
from layers.models import ServicePoint, ServicePointKind

from .models import Leg, Shipment, ShipmentStatus
from .selectors import SHIPMENT_ACTIONS, shipment_get_for_user, shipment_list
from .serializers import shipment_detail
from .services import (
    CallbackRefused,
    CounterFeeRefused,
    PostalActionRefused,
    PostalInputError,
    carrier_callback_receive,
    counter_fee_checked,
    counter_submit,
    shipment_act,
)
from .signing import SIGNATURE_HEADER, TIMESTAMP_HEADER
from .slips import handover_slip_pdf
from .vnpost import CARRIER_STATUSES

audit = logging.getLogger("gisportal.audit")
MAX_PAGE = 500
MAX_OFFSET = 10_000_000


class PostalApiView(APIView):
    """Signed-in callers; the domain errors of the services as HTTP answers."""

    authentication_classes = [ApiTokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes: list = []

    def handle_exception(self, exc):
        if isinstance(exc, PostalInputError):
            return Response(exc.errors, status=status.HTTP_400_BAD_REQUEST)
        if isinstance(exc, PostalActionRefused):
            return Response({"detail": str(exc), "allowed_actions": exc.allowed}, status=status.HTTP_409_CONFLICT)
        if isinstance(exc, Shipment.DoesNotExist):
            return Response(
                {"detail": message("Không tìm thấy bưu gửi.", "Shipment not found.")}, status=status.HTTP_404_NOT_FOUND
            )
        return super().handle_exception(exc)


class ShipmentListApi(PostalApiView):
    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=ShipmentStatus.values),
            OpenApiParameter("leg", str, enum=Leg.values),
            OpenApiParameter("dossier", {"type": "string", "maxLength": 40}, description="A dossier code."),
            OpenApiParameter(
                "to_act", str, enum=["true", "false"], description="Only parcels waiting for a hand-over at the desk."
            ),
            integer_parameter("limit", low=1, high=MAX_PAGE, default=50),
            integer_parameter("offset", low=0, high=MAX_OFFSET, default=0),
        ],
        responses={200: OpenApiTypes.OBJECT},
        summary="The caller's shipments (a citizen's own; an office's), with their tracking history",
        operation_id="postal_shipments_list",
    )
    def get(self, request):
        params = QueryParams(request.query_params)
        status_filter = params.choice("status", ShipmentStatus.values)
        leg = params.choice("leg", Leg.values)
        dossier = params.raw("dossier")
        if dossier is not None and len(dossier) > 40:
            params.fail("dossier", "Tối đa 40 ký tự.", "At most 40 characters.")
        to_act = params.choice("to_act", ["true", "false"], default="false") == "true"
        limit = params.integer("limit", default=50, low=1, high=MAX_PAGE)
        offset = params.integer("offset", default=0, low=0, high=MAX_OFFSET)
        params.raise_if_invalid()
        shipments = shipment_list(
            user=request.user, status=status_filter, leg=leg, dossier_code=dossier and dossier.upper(), to_act=to_act
        )
        total = shipments.count()
        page = list(shipments[offset : offset + limit])
        actor = actor_for(request.user)
        return Response(
            {
                "count": total,
                **page_links(request, offset=offset, limit=limit, returned=len(page), total=total),
                "results": [shipment_detail(s, actor=actor) for s in page],
            }
        )


class ShipmentDetailApi(PostalApiView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT}, summary="One shipment", operation_id="postal_shipments_detail")
    def get(self, request, order_code: str):
        shipment = shipment_get_for_user(user=request.user, order_code=order_code)
        audit.info("shipment viewed order=%s user=%s", shipment.order_code, request.user.pk)
        return Response(shipment_detail(shipment, actor=actor_for(request.user)))


class ShipmentActionApi(PostalApiView):
    """POST {"action": receive_at_desk | hand_to_post | refresh | retry,
    "postal_worker": "name of the postal worker" (optional)}."""

    parser_classes = [JSONParser, FormParser]

    @extend_schema(
        request={
            "application/json": {
                "type": "object",
                "properties": {
                    "action": {"type": "string", "enum": list(SHIPMENT_ACTIONS)},
                    "postal_worker": {"type": "string", "maxLength": 150},
                },
                "required": ["action"],
            }
        },
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT, 409: OpenApiTypes.OBJECT},
        summary="Record a hand-over with the postal worker, or ask the carrier again (desk officers)",
        operation_id="postal_shipments_action",
    )
    def post(self, request, order_code: str):
        data = request.data
        if not isinstance(data, dict):
            raise PostalInputError.one(
                "body", "Nội dung phải là một đối tượng JSON.", "The body must be a JSON object."
            )
        action, worker = data.get("action"), data.get("postal_worker") or ""
        if not isinstance(action, str) or not action:
            raise PostalInputError.one("action", "Cần tên thao tác.", "The action is required.")
        if not isinstance(worker, str):
            raise PostalInputError.one("postal_worker", "Phải là chuỗi ký tự.", "Must be a string.")
        shipment = shipment_act(order_code=order_code, action=action, acting_user=request.user, postal_worker=worker)
        shipment = shipment_get_for_user(user=request.user, order_code=shipment.order_code)
        return Response(shipment_detail(shipment, actor=actor_for(request.user)))


class ShipmentSlipApi(PostalApiView):
    def perform_content_negotiation(self, request, force=False):
        renderer = JSONRenderer()  # a PDF on success; every error is JSON
        return renderer, renderer.media_type

    @extend_schema(
        responses={(200, "application/pdf"): OpenApiTypes.BINARY},
        summary="The hand-over slip (biên bản giao nhận) of a shipment, with a QR code of its tracking number",
        operation_id="postal_shipments_slip",
    )
    def get(self, request, order_code: str):
        shipment = shipment_get_for_user(user=request.user, order_code=order_code)
        pdf = handover_slip_pdf(shipment=shipment)
        audit.info("handover slip printed order=%s user=%s", shipment.order_code, request.user.pk)
        return download_response(
            pdf,
            filename=f"{shipment.order_code}-bien-ban-giao-nhan.pdf",
            content_type="application/pdf",
            inline=True,
            private=True,
        )


_CALLBACK_BODY = {
    "type": "object",
    "properties": {
        "EventId": {"type": "string", "minLength": 1, "maxLength": 64},
        "ItemCode": {"type": "string", "maxLength": 20},
        "OrderCode": {"type": "string", "maxLength": 60},
        "Status": {"type": "string", "enum": list(CARRIER_STATUSES)},
        "OccurredAt": {"type": "string", "format": "date-time"},
        "PostOfficeCode": {"type": "string", "maxLength": 40},
        "Note": {"type": "string", "maxLength": 500},
    },
    "required": ["EventId", "Status", "OccurredAt"],
}


class CarrierCallbackApi(APIView):
    """POST /api/v1/postal/callbacks/vnpost/: the carrier's status report,
    signed (postal/signing.py). No session, no token, no rate limit: the
    signature is the credential, and a carrier sends bursts."""

    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []
    renderer_classes = [JSONRenderer]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                TIMESTAMP_HEADER,
                {"type": "string", "pattern": "^[0-9]{1,12}$"},
                OpenApiParameter.HEADER,
                required=True,
                description="Unix time (seconds) the request was signed; within VNPOST_CALLBACK_MAX_SKEW_S of ours.",
            ),
            OpenApiParameter(
                SIGNATURE_HEADER,
                {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"},
                OpenApiParameter.HEADER,
                required=True,
                description="hex HMAC-SHA256(secret, customer code + LF + timestamp + LF + raw body).",
            ),
        ],
        request={"application/json": _CALLBACK_BODY},
        responses={
            200: OpenApiTypes.OBJECT,
            401: OpenApiTypes.OBJECT,
            404: OpenApiTypes.OBJECT,
            409: OpenApiTypes.OBJECT,
        },
        summary="The carrier's signed status callback (Vietnam Post protocol)",
        operation_id="postal_carrier_callback",
    )
    def post(self, request):
        try:
            result = carrier_callback_receive(
                body=request.body,
                timestamp=request.headers.get(TIMESTAMP_HEADER),
                signature=request.headers.get(SIGNATURE_HEADER),
            )
        except CallbackRefused as refused:
            logging.getLogger(__name__).warning("carrier callback refused (%s): %s", refused.status, refused)
            body = {refused.field: [str(refused)]} if refused.status == 400 else {"detail": str(refused)}
            return Response(body, status=refused.status)
        if result.outcome == "unknown":
            return Response(
                {"detail": message("Không có bưu gửi này.", "No such parcel."), "outcome": result.outcome}, status=404
            )
        return Response({"outcome": result.outcome, "order_code": result.order_code, "status": result.status})


class CounterSubmissionApi(DossierApiView):
    """POST /api/v1/postal/counter-submissions/: a post-office clerk receives
    a dossier over the counter (channel 3) and records the fee collected, in
    one transaction. The body of POST /api/v1/dossiers/ (JSON or multipart),
    plus `fee_method` (cash | pos), `fee_amount_vnd` (the procedure's fee) and
    `fee_reference` (a POS slip number) when the procedure charges a fee."""

    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def handle_exception(self, exc):
        if isinstance(exc, PostalInputError):
            return Response(exc.errors, status=status.HTTP_400_BAD_REQUEST)
        if isinstance(exc, CounterFeeRefused):
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return super().handle_exception(exc)

    @extend_schema(
        parameters=[IDEMPOTENCY_KEY],
        request=OpenApiTypes.OBJECT,
        responses={**SUBMIT_RESPONSES, 409: OpenApiTypes.OBJECT},
        summary="A post-office clerk receives a dossier over the counter and records the fee collected",
        operation_id="postal_counter_submit",
    )
    def post(self, request):
        actor = actor_for(request.user)
        if not (actor.role == "desk_officer" and actor.service_point_id and _at_post_office(actor.service_point_id)):
            raise PermissionDenied(
                message(
                    "Chỉ nhân viên bưu điện (cán bộ một cửa tại bưu cục) tiếp nhận hồ sơ tại quầy bưu điện.",
                    "Only post-office clerks (desk officers at a post office) receive dossiers at the post counter.",
                )
            )
        data = request.data if isinstance(request.data, Mapping) else {}
        fee = counter_fee_checked(
            procedure_code=str(data.get("procedure") or ""),
            method=data.get("fee_method"),
            amount_vnd=_whole(data.get("fee_amount_vnd")),
            reference=data.get("fee_reference"),
        )
        response = submission_response(request, submit=functools.partial(counter_submit, fee=fee))
        response.data["fee"] = None if fee is None else {**dataclasses.asdict(fee), "recorded": True}
        return response


def _whole(value):
    """A whole number from JSON or a form field (a form sends text)."""
    if isinstance(value, str) and value.strip().isdecimal():
        return int(value.strip())
    return value


def _at_post_office(point_id: int) -> bool:
    return ServicePoint.objects.filter(pk=point_id, kind=ServicePointKind.POST_OFFICE).exists()
