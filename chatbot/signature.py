"""Zalo's webhook signature: `X-ZEvent-Signature: mac=<hex>`, where hex is the
SHA-256 of app_id + raw body + timestamp + OA secret key. One function, for
the portal's webhook (which checks it) and the sandbox OA (which signs)."""

import hashlib

HEADER = "X-ZEvent-Signature"


def zalo_mac(*, app_id: str, body: bytes, timestamp: str, secret: str) -> str:
    return hashlib.sha256(app_id.encode() + body + timestamp.encode() + secret.encode()).hexdigest()


def zalo_signature_header(*, app_id: str, body: bytes, timestamp: str, secret: str) -> str:
    return "mac=" + zalo_mac(app_id=app_id, body=body, timestamp=timestamp, secret=secret)
