"""A client of Zalo's OA API: the consultation message (`POST
/v3.0/oa/message/cs`, header `access_token`), the recent conversation with a
user (`GET /v2.0/oa/conversation`) and the OAuth token refresh (`POST
/v4/oa/access_token`, header `secret_key`); each header is also sent
dash-spelled (`zalo_headers`). The base URLs are settings: the
sandbox OA by default, openapi.zalo.me and oauth.zaloapp.com for the real one.

Zalo answers HTTP 200 with `{"error": <code>, "message": ...}`; a code other
than 0 raises `ZaloApiError`. An unreachable, slow (ZALO_HTTP_TIMEOUT_S) or
failing (HTTP 5xx) API raises `ZaloUnavailable`."""

from __future__ import annotations

import json
from typing import Any

import requests
from django.conf import settings

# Zalo's error codes the portal acts on.
TOKEN_INVALID = -216  # access_token is invalid
TOKEN_EXPIRED = -220  # access_token is expired or removed
NOT_FOLLOWER = -213  # the user does not follow the OA
OUTSIDE_WINDOW = -230  # the user has not interacted with the OA in the reply window (7 days)
TOKEN_ERRORS = frozenset({TOKEN_INVALID, TOKEN_EXPIRED})


class ZaloUnavailable(Exception):
    """The API could not be reached or did not answer in time."""


class ZaloApiError(Exception):
    def __init__(self, code: int, text: str):
        super().__init__(f"Zalo {code}: {text}")
        self.code = code
        self.text = text


def _answer(response: requests.Response) -> dict[str, Any]:
    if response.status_code >= 500:
        raise ZaloUnavailable(f"HTTP {response.status_code} from {response.url}")
    try:
        data = response.json()
    except ValueError as error:
        raise ZaloUnavailable(f"HTTP {response.status_code}, not JSON, from {response.url}") from error
    code = data.get("error", 0) if isinstance(data, dict) else None
    if not isinstance(code, int):
        raise ZaloUnavailable(f"an answer without an error code from {response.url}")
    if code != 0:
        raise ZaloApiError(code, str(data.get("message") or data.get("error_name") or ""))
    return data


def zalo_headers(name: str, value: str) -> dict[str, str]:
    """Zalo's header (`access_token`, `secret_key`) and its dash-spelled twin.
    Web servers drop header names with underscores (Django's runserver,
    nginx by default, against header spoofing), so the sandbox OA,
    served by Django, reads the twin; Zalo reads its own and ignores the other."""
    return {name: value, name.replace("_", "-").title(): value}


def _request(method: str, url: str, **kwargs) -> dict[str, Any]:
    try:
        response = requests.request(method, url, timeout=settings.ZALO_HTTP_TIMEOUT_S, **kwargs)
    except requests.RequestException as error:
        raise ZaloUnavailable(f"{type(error).__name__}: {error}") from error
    return _answer(response)


class ZaloClient:
    def __init__(self, *, access_token: str, base_url: str | None = None):
        self.access_token = access_token
        self.base_url = (base_url or settings.ZALO_API_BASE_URL).rstrip("/")

    def _call(self, method: str, path: str, **kwargs) -> dict[str, Any]:
        headers = zalo_headers("access_token", self.access_token)
        return _request(method, f"{self.base_url}{path}", headers=headers, **kwargs)

    def send(self, *, user_id: str, message: dict[str, Any]) -> str:
        """Sends a consultation message; Zalo's message_id."""
        data = self._call("POST", "/v3.0/oa/message/cs", json={"recipient": {"user_id": user_id}, "message": message})
        return str((data.get("data") or {}).get("message_id", ""))

    def conversation(self, *, user_id: str, count: int = 10) -> list[dict[str, Any]]:
        """The latest `count` messages between the OA and the user, newest
        first: `src` 0 (from the OA) or 1 (from the user), `time` (ms),
        `type`, `message`, `message_id`."""
        query = {"data": json.dumps({"user_id": user_id, "offset": 0, "count": count})}
        return list(self._call("GET", "/v2.0/oa/conversation", params=query).get("data") or [])


def zalo_oauth_refresh(refresh_token: str) -> dict[str, Any]:
    """A new token pair: {"access_token", "refresh_token", "expires_in"}."""
    url = f"{settings.ZALO_OAUTH_BASE_URL.rstrip('/')}/v4/oa/access_token"
    form = {"refresh_token": refresh_token, "app_id": settings.ZALO_APP_ID, "grant_type": "refresh_token"}
    data = _request("POST", url, headers=zalo_headers("secret_key", settings.ZALO_APP_SECRET_KEY), data=form)
    if not data.get("access_token") or not data.get("refresh_token"):
        raise ZaloApiError(-1, "the token answer has no access_token or refresh_token")
    return data
