"""Sending to a Zalo follower, for notifications and chat replies alike
(`gisportal.delivery` calls these inside the transaction holding the row).

On a second attempt the conversation is read first: if the first attempt's
message reached Zalo before its worker died, it is not sent again."""

from __future__ import annotations

import datetime as dt
from typing import Any

from gisportal.delivery import DeliveryFailed

from .client import NOT_FOLLOWER, OUTSIDE_WINDOW, TOKEN_ERRORS, ZaloApiError, ZaloClient, ZaloUnavailable
from .tokens import zalo_access_token, zalo_token_ready, zalo_token_refresh

# How far back (besides the row's own age) an earlier copy is looked for, for
# a clock of Zalo's a little behind ours.
CLOCK_SKEW_S = 60
CONVERSATION_DEPTH = 10  # the most Zalo answers at once


def message_text(message: dict[str, Any]) -> str:
    """What Zalo's conversation shows for a message we send: its text, or
    the text of its template (the first element's title)."""
    if message.get("text"):
        return str(message["text"])
    payload = (message.get("attachment") or {}).get("payload") or {}
    elements = payload.get("elements") or [{}]
    return str(payload.get("text") or elements[0].get("title") or "")


def _failure(error: Exception, token: str) -> DeliveryFailed:
    if isinstance(error, ZaloApiError) and error.code in TOKEN_ERRORS:
        return DeliveryFailed(str(error), repair=lambda: _repair_token(token))
    if isinstance(error, ZaloApiError) and error.code in (OUTSIDE_WINDOW, NOT_FOLLOWER):
        # Only the user can open the window again (by writing to the OA).
        return DeliveryFailed(str(error), permanent=True)
    return DeliveryFailed(str(error))


def _repair_token(rejected: str) -> None:
    try:
        zalo_token_refresh(rejected=rejected)
    except (ZaloApiError, ZaloUnavailable) as error:
        raise DeliveryFailed(f"the access token was refused and could not be refreshed: {error}") from error


def zalo_prepare() -> None:
    """Before the sending transaction: a token that is not about to expire."""
    try:
        zalo_token_ready()
    except (ZaloApiError, ZaloUnavailable) as error:
        raise DeliveryFailed(f"no access token: {error}") from error


def _sent_before(client: ZaloClient, *, user_id: str, message: dict[str, Any], since: dt.datetime) -> str | None:
    text = message_text(message)
    after_ms = (since.timestamp() - CLOCK_SKEW_S) * 1000
    for earlier in client.conversation(user_id=user_id, count=CONVERSATION_DEPTH):
        if earlier.get("src") == 0 and earlier.get("message") == text and int(earlier.get("time") or 0) >= after_ms:
            return str(earlier.get("message_id") or "")
    return None


def zalo_deliver(*, user_id: str, message: dict[str, Any], since: dt.datetime, first_attempt: bool) -> str:
    """Sends `message` to `user_id` unless an earlier attempt already did;
    Zalo's message_id either way. Raises DeliveryFailed."""
    token = zalo_access_token()
    client = ZaloClient(access_token=token)
    try:
        if not first_attempt:
            earlier = _sent_before(client, user_id=user_id, message=message, since=since)
            if earlier is not None:
                return earlier
        return client.send(user_id=user_id, message=message)
    except (ZaloApiError, ZaloUnavailable) as error:
        raise _failure(error, token) from error
