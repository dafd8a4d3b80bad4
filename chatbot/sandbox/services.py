"""The sandbox OA's behaviour: Zalo's rules as the portal meets them.

- Access tokens live `token_ttl_s` (Zalo: 25 h); an unknown one is error
  -216, an expired one -220. Refresh tokens (3 months) work once; the
  refresh answers a new pair. The first refresh token is the one configured
  for the portal (ZALO_REFRESH_TOKEN), as an OA administrator would hand it
  over.
- A consultation message may go to a follower only within `reply_window_s`
  of their last message (Zalo: 7 days): error -230 after; -213 for someone
  who does not follow the OA.
- `latency_s` records a message, then waits before answering (the message
  got through, the answer is late); `outage` answers 503 to everything.
- Acting as a follower builds Zalo's event, signs it like Zalo and posts it
  to the portal's webhook.
Error codes are Zalo's where known (-201, -213, -216, -220, -230); the OAuth
ones (-14002, -14014) follow Zalo's OAuth error shape (check)."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
import uuid
from typing import Any

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chatbot.signature import HEADER, zalo_signature_header

from .models import SandboxFollower, SandboxMessage, SandboxSettings, SandboxToken

PARAMETERS_INVALID = (-201, "Parameters are invalid")
NOT_FOLLOWER = (-213, "User has not followed the OA")
TOKEN_INVALID = (-216, "Access token is invalid")
TOKEN_EXPIRED = (-220, "Access token has expired")
OUTSIDE_WINDOW = (-230, "User has not interacted with the OA in the allowed period")
APP_SECRET_INVALID = (-14002, "Invalid app_id or secret_key")
REFRESH_TOKEN_INVALID = (-14014, "Invalid refresh_token")
REFRESH_TOKEN_TTL = dt.timedelta(days=90)


def error(code_and_text: tuple[int, str]) -> dict[str, Any]:
    code, text = code_and_text
    return {"error": code, "message": text}


def _oauth_error(code_and_text: tuple[int, str]) -> dict[str, Any]:
    code, text = code_and_text
    return {"error": code, "error_name": text, "error_reason": text, "error_description": text}


# --- tokens -------------------------------------------------------------------------


def sandbox_token_pair(now: dt.datetime | None = None) -> dict[str, Any]:
    """A new access and refresh token, as Zalo's OAuth answers them."""
    now = now or timezone.now()
    ttl_s = SandboxSettings.current().token_ttl_s
    access = SandboxToken.objects.create(
        kind=SandboxToken.Kind.ACCESS,
        value="sbx-at-" + secrets.token_urlsafe(24),
        expires_at=now + dt.timedelta(seconds=ttl_s),
    )
    refresh = SandboxToken.objects.create(
        kind=SandboxToken.Kind.REFRESH,
        value="sbx-rt-" + secrets.token_urlsafe(24),
        expires_at=now + REFRESH_TOKEN_TTL,
    )
    return {"access_token": access.value, "refresh_token": refresh.value, "expires_in": str(int(ttl_s))}


def sandbox_refresh(*, secret_key: str, app_id: str, grant_type: str, refresh_token: str) -> dict[str, Any]:
    if secret_key != settings.ZALO_APP_SECRET_KEY or app_id != settings.ZALO_APP_ID:
        return _oauth_error(APP_SECRET_INVALID)
    if grant_type != "refresh_token":
        return _oauth_error(PARAMETERS_INVALID)
    now = timezone.now()
    with transaction.atomic():
        row = (
            SandboxToken.objects.select_for_update().filter(kind=SandboxToken.Kind.REFRESH, value=refresh_token).first()
        )
        if row is None and refresh_token and refresh_token == settings.ZALO_REFRESH_TOKEN:
            # The refresh token the OA administrator configured: good once.
            row = SandboxToken.objects.create(
                kind=SandboxToken.Kind.REFRESH, value=refresh_token, expires_at=now + REFRESH_TOKEN_TTL
            )
        if row is None or row.used_at is not None or row.expires_at <= now:
            return _oauth_error(REFRESH_TOKEN_INVALID)
        row.used_at = now
        row.save(update_fields=["used_at"])
        return sandbox_token_pair(now)


def _token_problem(value: str | None) -> dict[str, Any] | None:
    token = SandboxToken.objects.filter(kind=SandboxToken.Kind.ACCESS, value=value or "").first()
    if token is None:
        return error(TOKEN_INVALID)
    if token.expires_at <= timezone.now():
        return error(TOKEN_EXPIRED)
    return None


# --- the OA's API -------------------------------------------------------------------


def _message_text(message: dict[str, Any]) -> tuple[str, str]:
    """(kind, what the conversation shows) of a message the OA sends."""
    if isinstance(message.get("text"), str) and message["text"].strip():
        return "text", message["text"]
    attachment = message.get("attachment")
    payload = attachment.get("payload") if isinstance(attachment, dict) else None
    if isinstance(payload, dict):
        elements = payload.get("elements") or [{}]
        first = elements[0] if isinstance(elements[0], dict) else {}
        text = payload.get("text") or first.get("title")
        if isinstance(text, str) and text:
            return "template", text
    return "", ""


def sandbox_send(*, access_token: str | None, body: Any) -> dict[str, Any]:
    """POST /v3.0/oa/message/cs: records the message, or Zalo's error."""
    problem = _token_problem(access_token)
    if problem is not None:
        return problem
    recipient = body.get("recipient") if isinstance(body, dict) else None
    message = body.get("message") if isinstance(body, dict) else None
    user_id = recipient.get("user_id") if isinstance(recipient, dict) else None
    if not isinstance(user_id, str) or not isinstance(message, dict):
        return error(PARAMETERS_INVALID)
    kind, text = _message_text(message)
    if not kind:
        return error(PARAMETERS_INVALID)
    now = timezone.now()
    follower = SandboxFollower.objects.filter(user_id=user_id, followed=True).first()
    if follower is None:
        return error(NOT_FOLLOWER)
    window = dt.timedelta(seconds=SandboxSettings.current().reply_window_s)
    if follower.last_interaction_at is None or follower.last_interaction_at + window < now:
        return error(OUTSIDE_WINDOW)
    sent = SandboxMessage.objects.create(
        follower=follower,
        direction=SandboxMessage.Direction.FROM_OA,
        kind=kind,
        text=text,
        payload=message,
        message_id=uuid.uuid4().hex,
        at=now,
    )
    return {"error": 0, "message": "Success", "data": {"message_id": sent.message_id, "user_id": user_id}}


def sandbox_conversation(*, access_token: str | None, query: str | None) -> dict[str, Any]:
    """GET /v2.0/oa/conversation?data={"user_id", "offset", "count"}."""
    problem = _token_problem(access_token)
    if problem is not None:
        return problem
    try:
        data = json.loads(query or "")
        user_id, offset, count = str(data["user_id"]), int(data.get("offset", 0)), int(data.get("count", 10))
    except (ValueError, TypeError, KeyError):
        return error(PARAMETERS_INVALID)
    if not 0 <= offset <= 10_000 or not 1 <= count <= 10:
        return error(PARAMETERS_INVALID)
    rows = SandboxMessage.objects.filter(follower__user_id=user_id).order_by("-at", "-id")[offset : offset + count]
    return {
        "error": 0,
        "message": "Success",
        "data": [
            {
                "src": 0 if row.direction == SandboxMessage.Direction.FROM_OA else 1,
                "time": int(row.at.timestamp() * 1000),
                "type": row.kind,
                "message": row.text,
                "message_id": row.message_id,
                "from_id": settings.ZALO_OA_ID if row.direction == SandboxMessage.Direction.FROM_OA else user_id,
                "to_id": user_id if row.direction == SandboxMessage.Direction.FROM_OA else settings.ZALO_OA_ID,
            }
            for row in rows
        ],
    }


def sandbox_slow_down() -> None:
    """The configured latency, after the work is recorded."""
    latency = SandboxSettings.current().latency_s
    if latency > 0:
        time.sleep(latency)


# --- acting as a follower -------------------------------------------------------------

USER_EVENTS = {
    "text": "user_send_text",
    "location": "user_send_location",
    "image": "user_send_image",
    "follow": "follow",
    "unfollow": "unfollow",
}


def zalo_event(
    *,
    kind: str,
    user_id: str,
    msg_id: str,
    timestamp_ms: int,
    text: str = "",
    lat: float | None = None,
    lon: float | None = None,
    image_url: str = "",
) -> dict[str, Any]:
    """The JSON Zalo posts to an OA's webhook for what a user did."""
    event: dict[str, Any] = {
        "app_id": settings.ZALO_APP_ID,
        "event_name": USER_EVENTS[kind],
        "timestamp": str(timestamp_ms),
    }
    if kind in ("follow", "unfollow"):
        event.update(oa_id=settings.ZALO_OA_ID, follower={"id": user_id}, source="oa_profile")
        return event
    message: dict[str, Any] = {"msg_id": msg_id, "text": text}
    if kind == "location":
        coordinates = {"latitude": f"{lat:.6f}", "longitude": f"{lon:.6f}"}
        message["attachments"] = [{"type": "location", "payload": {"coordinates": coordinates}}]
    elif kind == "image":
        message["attachments"] = [{"type": "image", "payload": {"url": image_url, "thumbnail": image_url}}]
    event.update(sender={"id": user_id}, recipient={"id": settings.ZALO_OA_ID}, message=message)
    return event


def webhook_post(*, url: str, event: dict[str, Any]) -> tuple[int, str]:
    """Signs `event` as Zalo does and posts it; (HTTP status, answer)."""
    body = json.dumps(event, ensure_ascii=False).encode()
    signature = zalo_signature_header(
        app_id=event["app_id"], body=body, timestamp=event["timestamp"], secret=settings.ZALO_OA_SECRET_KEY
    )
    headers = {"Content-Type": "application/json", HEADER: signature}
    try:
        answer = requests.post(url, data=body, headers=headers, timeout=10)
    except requests.RequestException as failure:
        return 0, f"{type(failure).__name__}: {failure}"
    return answer.status_code, answer.text[:2000]


def sandbox_follower_create(*, display_name: str) -> SandboxFollower:
    return SandboxFollower.objects.create(
        user_id=str(secrets.randbelow(9 * 10**18) + 10**18), display_name=display_name
    )


def sandbox_act(
    *, follower: SandboxFollower, kind: str, webhook_url: str, text: str = "", lat=None, lon=None, image_url: str = ""
) -> SandboxMessage:
    """The follower does `kind` (text, location, image, follow, unfollow):
    recorded, and sent to the portal's webhook."""
    now = timezone.now()
    msg_id = uuid.uuid4().hex
    event = zalo_event(
        kind=kind,
        user_id=follower.user_id,
        msg_id=msg_id,
        timestamp_ms=int(now.timestamp() * 1000),
        text=text,
        lat=lat,
        lon=lon,
        image_url=image_url,
    )
    shown = {"text": text, "location": f"{lat}, {lon}", "image": image_url}.get(kind, kind)
    follower.followed = kind != "unfollow" and (follower.followed or kind == "follow")
    follower.last_interaction_at = now
    follower.save(update_fields=["followed", "last_interaction_at"])
    record = SandboxMessage.objects.create(
        follower=follower,
        direction=SandboxMessage.Direction.FROM_USER,
        event_name=event["event_name"],
        kind=kind,
        text=shown,
        payload=event,
        message_id=msg_id,
        at=now,
    )
    # After the record is committed: the portal's worker may read the
    # conversation as soon as the webhook has answered.
    transaction.on_commit(lambda: _deliver(record.pk, webhook_url, event))
    return record


def _deliver(record_id: int, url: str, event: dict[str, Any]) -> None:
    status, answer = webhook_post(url=url, event=event)
    SandboxMessage.objects.filter(pk=record_id).update(webhook_status=status, webhook_answer=answer)
