"""Proving that someone holds a phone: a six-digit code sent by SMS.

Used wherever a person without an account must show a phone is theirs: an
anonymous citizen's feedback report (web), linking a Zalo follower to a
dossier (chat). Every app asks these two functions:

- `phone_code_send(*, phone, purpose, client="")` sends a new code for
  (phone, purpose) by SMS through the outbox (`accounts.sms`). Refused with
  `PhoneInvalid` for a number that is not a Vietnamese mobile, and with
  `PhoneCodeThrottled` (which carries `retry_after` seconds) when the phone
  asked less than PHONE_CODE_RESEND_AFTER_S ago for this purpose, or has had
  PHONE_CODE_PER_PHONE_PER_HOUR codes in the last hour (any purpose), or
  `client` (the caller's address, a chat id: whoever asks) has asked for
  PHONE_CODE_PER_CLIENT_PER_HOUR codes in the last hour, for any phone.
- `phone_code_verify(*, phone, purpose, code) -> bool`: True once for the
  newest code of that phone and purpose, within PHONE_CODE_TTL_S (10 min) of
  sending, if fewer than PHONE_CODE_MAX_ATTEMPTS (5) wrong codes were tried
  against it; the code is then used up. A wrong code counts against the
  limit. Call it outside any transaction that may roll back (views, tasks):
  the count of wrong tries must stay even when the request fails.

Numbers are normalised to E.164 (`+84912345678`): spaces, dots, dashes and
brackets are ignored, `0…`, `84…` and `+84…` are the same number, and the
eleven-digit mobile numbers renumbered in 2018 (`0168…` → `038…`) are
converted. Codes are stored as an HMAC keyed by SECRET_KEY, never in clear;
the SMS row holds the code only until it is sent (`accounts.sms`).
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
import secrets

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from gisportal.messages import message

from .models import PhoneCode
from .sms import sms_queue

_SEPARATORS = re.compile(r"[\s.()\-]")
_MOBILE = re.compile(r"0[35789][0-9]{8}")
_PURPOSE = re.compile(r"[a-z][a-z0-9_]{1,39}")
_CODE = re.compile(r"[0-9]{6}")
# Eleven-digit mobile prefixes renumbered to ten digits in 2018 (Ministry of
# Information and Communications, Circular 22/2014 as amended): old -> new.
_RENUMBERED_2018 = {
    "0162": "032", "0163": "033", "0164": "034", "0165": "035", "0166": "036", "0167": "037", "0168": "038",
    "0169": "039", "0120": "070", "0121": "079", "0122": "077", "0126": "076", "0128": "078", "0123": "083",
    "0124": "084", "0125": "085", "0127": "081", "0129": "082", "0186": "056", "0188": "058", "0199": "059",
}  # fmt: skip
# Plain letters: one 160-character SMS segment instead of a 70-character one.
CODE_TEXT = "BAC NINH DVC: ma xac thuc cua ban la {code}, hieu luc {minutes} phut. Khong cung cap ma nay cho bat ky ai."


class PhoneError(ValueError):
    """A refusal with a bilingual message, about the field `phone`."""

    field = "phone"

    def __init__(self, vi: str, en: str, *, retry_after: int | None = None):
        self.vi, self.en, self.retry_after = vi, en, retry_after
        super().__init__(message(vi, en))


class PhoneInvalid(PhoneError):
    """Not a Vietnamese mobile number."""


class PhoneCodeThrottled(PhoneError):
    """Too many codes asked for; `retry_after` says in how many seconds to ask again."""


def phone_normalize(raw: str) -> str:
    """`+84` and the nine digits of a Vietnamese mobile number; PhoneInvalid otherwise."""
    digits = _SEPARATORS.sub("", raw or "")
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    elif digits.startswith("84") and len(digits) in (11, 12):
        digits = "0" + digits[2:]
    if len(digits) == 11 and digits[:4] in _RENUMBERED_2018:
        digits = _RENUMBERED_2018[digits[:4]] + digits[4:]
    if not _MOBILE.fullmatch(digits):
        raise PhoneInvalid(
            "Số điện thoại di động không hợp lệ (ví dụ 0912 345 678).",
            "Not a valid Vietnamese mobile number (e.g. 0912 345 678).",
        )
    return "+84" + digits[1:]


def phone_mask(phone: str) -> str:
    """`+84912345678` → `091****678`: enough for its owner to recognise."""
    local = "0" + phone[3:] if phone.startswith("+84") else phone
    return local[:3] + "*" * max(len(local) - 6, 0) + local[-3:]


def _hash(*parts: str) -> str:
    return salted_hmac("gisportal.accounts.phone", "|".join(parts), algorithm="sha256").hexdigest()


def _lock(key: str) -> None:
    """Serialises the count-then-insert of concurrent sends for one key."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ["phone-code:" + key])


def _wait_until(oldest: dt.datetime, window_s: int, now: dt.datetime) -> int:
    return max(int((oldest + dt.timedelta(seconds=window_s) - now).total_seconds()) + 1, 1)


def _throttled(retry_after: int) -> PhoneCodeThrottled:
    return PhoneCodeThrottled(
        f"Đã gửi quá nhiều mã; hãy thử lại sau {retry_after} giây.",
        f"Too many codes sent; try again in {retry_after} s.",
        retry_after=retry_after,
    )


def phone_code_send(*, phone: str, purpose: str, client: str = "") -> None:
    """Sends a new code to `phone` for `purpose` (see the module docstring)."""
    if not _PURPOSE.fullmatch(purpose):
        raise ValueError(f"not a purpose name: {purpose!r}")
    phone = phone_normalize(phone)
    now = timezone.now()
    hour_ago = now - dt.timedelta(hours=1)
    client_hash = _hash("client", client) if client else ""
    with transaction.atomic():
        _lock(phone)
        recent = list(
            PhoneCode.objects.filter(phone=phone, created_at__gte=hour_ago)
            .order_by("created_at")
            .values_list("purpose", "created_at")
        )
        same = [at for p, at in recent if p == purpose]
        if same and (now - same[-1]).total_seconds() < settings.PHONE_CODE_RESEND_AFTER_S:
            raise _throttled(_wait_until(same[-1], settings.PHONE_CODE_RESEND_AFTER_S, now))
        if len(recent) >= settings.PHONE_CODE_PER_PHONE_PER_HOUR:
            raise _throttled(_wait_until(recent[-settings.PHONE_CODE_PER_PHONE_PER_HOUR][1], 3600, now))
        if client_hash:
            _lock(client_hash)
            asked = list(
                PhoneCode.objects.filter(client_hash=client_hash, created_at__gte=hour_ago)
                .order_by("created_at")
                .values_list("created_at", flat=True)
            )
            if len(asked) >= settings.PHONE_CODE_PER_CLIENT_PER_HOUR:
                raise _throttled(_wait_until(asked[-settings.PHONE_CODE_PER_CLIENT_PER_HOUR], 3600, now))
        code = f"{secrets.randbelow(1_000_000):06d}"
        expires_at = now + dt.timedelta(seconds=settings.PHONE_CODE_TTL_S)
        minutes = max(settings.PHONE_CODE_TTL_S // 60, 1)
        sms = sms_queue(
            phone=phone,
            body=CODE_TEXT.format(code="{code}", minutes=minutes),
            secret=code,
            kind=purpose,
            expires_at=expires_at,
        )
        PhoneCode.objects.create(
            phone=phone,
            purpose=purpose,
            code_hash=_hash(phone, purpose, code),
            client_hash=client_hash,
            created_at=now,
            expires_at=expires_at,
            sms=sms,
        )


def phone_code_verify(*, phone: str, purpose: str, code: str) -> bool:
    """Whether `code` is the live code of (phone, purpose); uses it up if so."""
    try:
        phone = phone_normalize(phone)
    except PhoneInvalid:
        return False
    code = (code or "").strip()
    now = timezone.now()
    with transaction.atomic():
        row = (
            PhoneCode.objects.select_for_update()
            .filter(phone=phone, purpose=purpose)
            .order_by("-created_at", "-id")
            .first()
        )
        if row is None or row.verified_at or row.expires_at <= now:
            return False
        if row.attempts >= settings.PHONE_CODE_MAX_ATTEMPTS:
            return False
        if _CODE.fullmatch(code) and hmac.compare_digest(row.code_hash, _hash(phone, purpose, code)):
            row.verified_at = now
            row.save(update_fields=["verified_at"])
            return True
        row.attempts += 1
        row.save(update_fields=["attempts"])
        return False
