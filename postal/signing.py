"""Signatures of the carrier's status callbacks (the protocol of the Vietnam
Post partner API as this portal speaks it; README "Vietnam Post").

The carrier sends, with every callback:

    X-VNPost-Timestamp: <Unix time in seconds when the request was signed>
    X-VNPost-Signature: <hex HMAC-SHA256(secret, canonical)>

where `canonical` is the customer code, a line feed, the timestamp in
decimal, a line feed, then the raw request body, byte for byte:

    b"BNPORTAL\\n1767225600\\n" + body

The shared secret is the customer account's callback secret. Each delivery
attempt is signed afresh (a new timestamp), so a byte-identical request is a
replay."""

import hashlib
import hmac

TIMESTAMP_HEADER = "X-VNPost-Timestamp"
SIGNATURE_HEADER = "X-VNPost-Signature"


def callback_canonical(*, customer_code: str, timestamp: int, body: bytes) -> bytes:
    return f"{customer_code}\n{timestamp}\n".encode() + body


def callback_signature(*, secret: str, customer_code: str, timestamp: int, body: bytes) -> str:
    canonical = callback_canonical(customer_code=customer_code, timestamp=timestamp, body=body)
    return hmac.new(secret.encode(), canonical, hashlib.sha256).hexdigest()


def callback_signature_valid(*, secret: str, customer_code: str, timestamp: int, body: bytes, signature: str) -> bool:
    expected = callback_signature(secret=secret, customer_code=customer_code, timestamp=timestamp, body=body)
    return hmac.compare_digest(expected, signature.strip().lower())
