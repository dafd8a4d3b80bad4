"""The Zalo webhook: what is accepted, what is refused, and what is stored.

An event is accepted only if
1. its body is a JSON object with `app_id`, `timestamp` (ms) and `event_name`;
2. `X-ZEvent-Signature` is `mac=<hex>` with hex = SHA-256 of
   app_id + raw body + timestamp + OA secret key (compared in constant time),
   and `app_id` is ours;
3. its timestamp is within ZALO_WEBHOOK_MAX_AGE_S of now (a replay window);
4. it was not accepted before: its key (Zalo's `message.msg_id`, or the
   digest of the body for events without one) is UNIQUE in `ZaloEvent`.
Anything else is refused with a 4xx and nothing is written. An accepted
event is one INSERT, and its task is published once committed: the answer
does not wait for the work (the worker does it, `services.zalo_event_process`)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from gisportal.api import message
from gisportal.outbox import outbox_publish_on_commit

from .models import ZaloEvent
from .signature import zalo_mac


class WebhookRefused(Exception):
    def __init__(self, status: int, vi: str, en: str):
        super().__init__(message(vi, en))
        self.status = status
        self.detail = message(vi, en)


def _field(payload: dict[str, Any], name: str) -> str:
    value = payload.get(name)
    if isinstance(value, bool) or not isinstance(value, (str, int)) or str(value).strip() == "":
        raise WebhookRefused(400, f"Thiếu trường {name}.", f"The field {name} is missing or not a string.")
    return str(value)


def _parse(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise WebhookRefused(400, "Nội dung không phải JSON.", "The body is not JSON.") from error
    if not isinstance(payload, dict):
        raise WebhookRefused(400, "Nội dung phải là một đối tượng JSON.", "The body must be a JSON object.")
    return payload


def _check_signature(header: str | None, *, app_id: str, body: bytes, timestamp: str) -> None:
    if not header:
        raise WebhookRefused(401, "Thiếu chữ ký X-ZEvent-Signature.", "The X-ZEvent-Signature header is missing.")
    scheme, _, given = header.strip().partition("=")
    expected = zalo_mac(app_id=app_id, body=body, timestamp=timestamp, secret=settings.ZALO_OA_SECRET_KEY)
    if scheme.strip().lower() != "mac" or not hmac.compare_digest(given.strip().lower(), expected):
        raise WebhookRefused(403, "Chữ ký không hợp lệ.", "The signature does not match.")
    if app_id != settings.ZALO_APP_ID:
        raise WebhookRefused(403, "Sự kiện của ứng dụng khác.", "The event is for another app.")


def _check_fresh(timestamp: str, now: dt.datetime) -> int:
    try:
        timestamp_ms = int(timestamp)
    except ValueError as error:
        raise WebhookRefused(400, "timestamp phải là số mili giây.", "timestamp must be milliseconds.") from error
    age_s = now.timestamp() - timestamp_ms / 1000
    if abs(age_s) > settings.ZALO_WEBHOOK_MAX_AGE_S:
        limit = int(settings.ZALO_WEBHOOK_MAX_AGE_S)
        raise WebhookRefused(
            403,
            f"Sự kiện quá cũ hoặc sai giờ (lệch {age_s:.0f} giây, tối đa {limit} giây).",
            f"The event is too old or its clock is off ({age_s:.0f} s from now, at most {limit} s).",
        )
    return timestamp_ms


def event_user_id(payload: dict[str, Any]) -> str:
    """The follower an event is about: the sender of a message, the
    follower of a (un)follow."""
    for holder in ("sender", "follower"):
        person = payload.get(holder)
        if isinstance(person, dict) and person.get("id") not in (None, ""):
            return str(person["id"])[:64]
    return ""


def event_key(payload: dict[str, Any], body: bytes) -> str:
    msg = payload.get("message")
    msg_id = msg.get("msg_id") if isinstance(msg, dict) else None
    if isinstance(msg_id, (str, int)) and str(msg_id).strip():
        return f"msg:{str(msg_id).strip()[:190]}"
    return "sha256:" + hashlib.sha256(body).hexdigest()


def zalo_webhook_accept(*, body: bytes, signature: str | None, now: dt.datetime) -> ZaloEvent:
    """Stores a verified, fresh, new event and queues its processing;
    WebhookRefused otherwise (nothing written)."""
    if not settings.ZALO_OA_SECRET_KEY:
        raise WebhookRefused(503, "Chưa cấu hình Zalo OA.", "The Zalo Official Account is not configured.")
    payload = _parse(body)
    app_id, timestamp = _field(payload, "app_id"), _field(payload, "timestamp")
    _check_signature(signature, app_id=app_id, body=body, timestamp=timestamp)
    timestamp_ms = _check_fresh(timestamp, now)
    event_name = _field(payload, "event_name")[:60]
    try:
        with transaction.atomic():
            event = ZaloEvent.objects.create(
                event_key=event_key(payload, body),
                event_name=event_name,
                user_id=event_user_id(payload),
                timestamp_ms=timestamp_ms,
                payload=payload,
            )
            outbox_publish_on_commit(event)
    except IntegrityError as error:
        raise WebhookRefused(
            409, "Sự kiện này đã được nhận trước đó.", "This event was received before (a replay)."
        ) from error
    return event
