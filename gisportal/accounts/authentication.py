"""How API callers prove who they are: `Authorization: Token <token>`, a
django-rest-knox token (hashed at rest, with an expiry, revoked on logout).

DRF imports this module while `rest_framework.views` loads (it is named in
DEFAULT_AUTHENTICATION_CLASSES), so it must not import `gisportal.api` at
module level."""

import re

from knox.auth import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

# What knox issues: hex digits after an optional prefix of word characters.
# Anything else (non-UTF-8 bytes, NUL) would crash knox's decoding or the
# database query, so it is refused before either.
_TOKEN_SHAPE = re.compile(rb"[A-Za-z0-9_\-]{1,200}")


class ApiTokenAuthentication(TokenAuthentication):
    """knox's token check with one bilingual refusal (401) for a token that
    is malformed, unknown, revoked or expired: which of these it was is no
    business of the caller."""

    def authenticate(self, request):
        try:
            return super().authenticate(request)
        except AuthenticationFailed as exc:
            raise self._refused() from exc

    def authenticate_credentials(self, token: bytes):
        if not _TOKEN_SHAPE.fullmatch(token):
            raise self._refused()
        return super().authenticate_credentials(token)

    @staticmethod
    def _refused() -> AuthenticationFailed:
        from gisportal.api import message

        return AuthenticationFailed(
            message(
                "Mã truy cập (token) không hợp lệ, đã bị thu hồi hoặc đã hết hạn.",
                "Invalid, revoked or expired token.",
            )
        )
