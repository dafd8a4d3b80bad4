"""Signing webhook events in tests the way Zalo does, written out here with
hashlib rather than through the portal's `chatbot.signature`, so a mistake
there cannot hide itself."""

import hashlib
import json
import time
import uuid

APP_ID = "sandbox-app"
OA_ID = "sandbox-oa"
SECRET = "sandbox-oa-secret"


def now_ms() -> int:
    return int(time.time() * 1000)


def text_event(user_id: str, text: str, *, timestamp_ms: int | None = None, msg_id: str | None = None) -> dict:
    return {
        "app_id": APP_ID,
        "event_name": "user_send_text",
        "timestamp": str(timestamp_ms or now_ms()),
        "sender": {"id": user_id},
        "recipient": {"id": OA_ID},
        "message": {"msg_id": msg_id or uuid.uuid4().hex, "text": text},
    }


def location_event(user_id: str, *, lon: float, lat: float) -> dict:
    event = text_event(user_id, "")
    event["event_name"] = "user_send_location"
    coordinates = {"latitude": str(lat), "longitude": str(lon)}
    event["message"]["attachments"] = [{"type": "location", "payload": {"coordinates": coordinates}}]
    return event


def follow_event(user_id: str, name: str = "follow") -> dict:
    return {
        "app_id": APP_ID,
        "event_name": name,
        "timestamp": str(now_ms()),
        "oa_id": OA_ID,
        "follower": {"id": user_id},
        "source": "oa_profile",
    }


def sign(event: dict, *, secret: str = SECRET) -> tuple[bytes, str]:
    """(raw body, X-ZEvent-Signature) of `event`."""
    body = json.dumps(event, ensure_ascii=False).encode()
    digest = hashlib.sha256(event["app_id"].encode() + body + event["timestamp"].encode() + secret.encode())
    return body, "mac=" + digest.hexdigest()
