"""API sign-in and the caller's own tokens (django-rest-knox).

`POST /api/v1/auth/token/` keeps the contract of DRF's obtain_auth_token it
replaces: `{"username", "password"}` in, `{"token"}` out (now with `expiry`
and `id`), sent back as `Authorization: Token <token>`. A sign-in refused by
the lockout (gisportal.accounts.lockout) is answered 429 by axes' middleware
in place of this view's answer."""

from django.contrib.auth import authenticate
from django.core.validators import ProhibitNullCharactersValidator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from gisportal.api import message
from gisportal.clientip import client_ip

from .authentication import ApiTokenAuthentication
from .selectors import api_tokens_of
from .services import api_token_create, api_token_revoke, api_tokens_revoke_all

_REQUIRED = {
    "required": message("Trường này là bắt buộc.", "This field is required."),
    "blank": message("Trường này là bắt buộc.", "This field is required."),
    "null": message("Trường này là bắt buộc.", "This field is required."),
    "invalid": message("Phải là một chuỗi ký tự.", "Must be a string."),
}


class _Text(serializers.CharField):
    """A required text field whose every refusal is bilingual (DRF's own NUL
    check speaks English only)."""

    def __init__(self, *, max_length: int, **kwargs):
        limit = message(f"Tối đa {max_length} ký tự.", f"At most {max_length} characters.")
        super().__init__(max_length=max_length, error_messages={**_REQUIRED, "max_length": limit}, **kwargs)
        nul = message("Không được chứa ký tự NUL.", "Null characters are not allowed.")
        self.validators = [
            ProhibitNullCharactersValidator(nul)
            if isinstance(validator, ProhibitNullCharactersValidator)
            else validator
            for validator in self.validators
        ]


class SignInSerializer(serializers.Serializer):
    username = _Text(max_length=150)
    password = _Text(max_length=4096, trim_whitespace=False, style={"input_type": "password"})


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Token <token>`; shown only in this answer.")
    expiry = serializers.DateTimeField(allow_null=True, help_text="When the token stops working.")
    id = serializers.IntegerField(help_text="The token's id in `/api/v1/auth/tokens/`.")


class TokenListItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    created = serializers.DateTimeField()
    expiry = serializers.DateTimeField(allow_null=True)
    ip_address = serializers.IPAddressField(allow_null=True, help_text="Where the token was asked for.")
    user_agent = serializers.CharField(help_text="The program that asked for it.")
    current = serializers.BooleanField(help_text="True for the token this request was made with.")


_DETAIL = inline_serializer("Detail", {"detail": serializers.CharField()})
_UNAUTHENTICATED = OpenApiResponse(_DETAIL, description="No, an invalid, a revoked or an expired token.")


class TokenCreateApi(APIView):
    """Reads no session or token: signing in needs neither, and a stale
    `Authorization` header must not stand in the way."""

    authentication_classes: list = []
    permission_classes: list = []
    renderer_classes = [JSONRenderer]

    @extend_schema(
        summary="Sign in to the API: a token",
        description=(
            "Answers a new token, valid until `expiry`. Wrong credentials: 400. Too many failed sign-ins "
            "for the account or from the client: 429 with `Retry-After`, also for the right password."
        ),
        request=SignInSerializer,
        responses={
            200: TokenSerializer,
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="Missing field or wrong credentials."),
            429: OpenApiResponse(_DETAIL, description="Sign-in locked, or too many requests."),
        },
        auth=[],
        operation_id="auth_token_create",
        tags=["auth"],
    )
    def post(self, request):
        signin = SignInSerializer(data=request.data)
        signin.is_valid(raise_exception=True)
        # The Django request, not DRF's wrapper: axes marks a locked-out
        # attempt on it for its middleware.
        user = authenticate(request._request, **signin.validated_data)
        if user is None:
            raise ValidationError(
                {"non_field_errors": [message("Sai tên đăng nhập hoặc mật khẩu.", "Wrong user name or password.")]}
            )
        instance, token = api_token_create(
            user=user, ip_address=client_ip(request), user_agent=request.META.get("HTTP_USER_AGENT", "")
        )
        return Response(TokenSerializer({"token": token, "expiry": instance.expiry, "id": instance.pk}).data)


class OwnTokensApiView(APIView):
    """The caller's own tokens: by token, or by session from the portal's pages."""

    authentication_classes = [ApiTokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer]
    throttle_classes: list = []


class TokenListApi(OwnTokensApiView):
    @extend_schema(
        summary="My API tokens",
        description="The caller's tokens that still work, newest first. The token text itself is never shown again.",
        responses={200: TokenListItemSerializer(many=True), 401: _UNAUTHENTICATED},
        operation_id="auth_tokens_list",
        tags=["auth"],
    )
    def get(self, request):
        current = getattr(request.auth, "pk", None)
        rows = [
            {
                "id": token.pk,
                "created": token.created,
                "expiry": token.expiry,
                "ip_address": token.ip_address,
                "user_agent": token.user_agent,
                "current": token.pk == current,
            }
            for token in api_tokens_of(user=request.user)
        ]
        return Response(TokenListItemSerializer(rows, many=True).data)


class TokenDetailApi(OwnTokensApiView):
    @extend_schema(
        summary="Revoke one of my tokens",
        responses={
            204: None,
            401: _UNAUTHENTICATED,
            404: OpenApiResponse(_DETAIL, description="No token of yours has this id."),
        },
        operation_id="auth_tokens_revoke",
        tags=["auth"],
    )
    def delete(self, request, token_id: int):
        if not api_token_revoke(user=request.user, token_id=token_id):
            raise NotFound(message("Không có mã truy cập này.", "No such token."))
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutApiView(APIView):
    """Token only: a session has no token to revoke."""

    authentication_classes = [ApiTokenAuthentication]
    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer]
    throttle_classes: list = []


class LogoutApi(LogoutApiView):
    @extend_schema(
        summary="Sign out: revoke the token of this request",
        request=None,
        responses={204: None, 401: _UNAUTHENTICATED},
        operation_id="auth_logout",
        tags=["auth"],
    )
    def post(self, request):
        api_token_revoke(user=request.user, token_id=request.auth.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllApi(LogoutApiView):
    @extend_schema(
        summary="Sign out everywhere: revoke all my tokens",
        request=None,
        responses={204: None, 401: _UNAUTHENTICATED},
        operation_id="auth_logout_all",
        tags=["auth"],
    )
    def post(self, request):
        api_tokens_revoke_all(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
