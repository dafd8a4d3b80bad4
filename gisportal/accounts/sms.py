"""Text messages (SMS), sent through the outbox by the backend `SMS_BACKEND`
names, the way Django chooses its e-mail backend.

- `sms_queue(phone=, body=, secret=, kind=, expires_at=)` writes an
  `SmsMessage` row in the caller's transaction; a worker sends it after
  commit (`sms_deliver`), so a message is never lost when Redis or a worker
  dies, and never sent for a change that rolled back.
- `SandboxSmsBackend` (the default) delivers into the `SandboxSms` table: the
  admin shows it, and `/accounts/sms-sandbox/` lists the last messages of a
  phone while the sandbox is the backend. Everything runs offline.
- `HttpJsonSmsBackend` posts `{"to", "text", "sender"}` as JSON with a bearer
  token to `SMS_HTTP_URL`, the shape of the brand-name SMS gateways; another
  provider is a subclass named in `SMS_BACKEND`, i.e. configuration.

A failed send (the provider refused or did not answer) is queued again for a
later try (`gisportal.outbox.outbox_retry_later`, backing off) and tried up to
OUTBOX_MAX_ATTEMPTS times; a message past `expires_at` (a code
that would arrive dead) is failed instead of sent. The secret is blanked
when the message is sent, failed or expired."""

from __future__ import annotations

import datetime as dt
import logging

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from gisportal.messages import message
from gisportal.outbox import (
    FAILED,
    QUEUED,
    outbox_backoff_s,
    outbox_claim_when_due,
    outbox_owns,
    outbox_publish_on_commit,
    outbox_retry_later,
)

from .models import SandboxSms, SmsMessage

logger = logging.getLogger(__name__)

SANDBOX_BACKEND = "gisportal.accounts.sms.SandboxSmsBackend"


class SmsSendError(Exception):
    """The provider did not take the message; worth another try."""


class SmsBackend:
    """Sends one text; returns the provider's id for it (may be empty)."""

    def send(self, *, phone: str, text: str) -> str:
        raise NotImplementedError


class SandboxSmsBackend(SmsBackend):
    """The local sandbox: the message lands in the `SandboxSms` table."""

    def send(self, *, phone: str, text: str) -> str:
        row = SandboxSms.objects.create(phone=phone, text=text)
        return f"sandbox-{row.pk}"


class HttpJsonSmsBackend(SmsBackend):
    """A gateway that takes `POST SMS_HTTP_URL` with a JSON body
    `{"to": "+84…", "text": "…", "sender": SMS_SENDER}` and
    `Authorization: Bearer SMS_HTTP_TOKEN`, and answers 2xx with an optional
    JSON `{"id": "…"}`."""

    def send(self, *, phone: str, text: str) -> str:
        if not settings.SMS_HTTP_URL:
            raise SmsSendError("SMS_HTTP_URL is not set")
        try:
            response = requests.post(
                settings.SMS_HTTP_URL,
                json={"to": phone, "text": text, "sender": settings.SMS_SENDER},
                headers={"Authorization": f"Bearer {settings.SMS_HTTP_TOKEN}"},
                timeout=settings.SMS_HTTP_TIMEOUT_S,
            )
        except requests.RequestException as error:
            raise SmsSendError(f"no answer from the SMS gateway: {error}") from error
        if not 200 <= response.status_code < 300:
            raise SmsSendError(f"the SMS gateway answered {response.status_code}: {response.text[:200]}")
        try:
            body = response.json()
        except ValueError:
            return ""
        return str(body.get("id", "")) if isinstance(body, dict) else ""


def sms_backend() -> SmsBackend:
    return import_string(settings.SMS_BACKEND)()


def sms_sandbox_active() -> bool:
    return settings.SMS_BACKEND == SANDBOX_BACKEND


def sms_queue(
    *, phone: str, body: str, secret: str = "", kind: str = "", expires_at: dt.datetime | None = None
) -> SmsMessage:
    """Writes the message row and sends it once the caller's transaction
    commits. `phone` is already normalised (`accounts.phone.phone_normalize`);
    `body` may hold `{code}`, replaced by `secret` when sent."""
    row = SmsMessage.objects.create(phone=phone, body=body, secret=secret, kind=kind, expires_at=expires_at)
    outbox_publish_on_commit(row)
    return row


def sms_text(row: SmsMessage) -> str:
    return row.body.replace("{code}", row.secret)


def sms_deliver(pk: int) -> str | None:
    """The worker's job for message `pk`: claim it, send it, record the
    outcome. Returns the final status, or None when there was nothing to
    claim (sent already, or another worker is on it)."""
    row = outbox_claim_when_due(SmsMessage, pk)
    if row is None:
        return None
    now = timezone.now()
    if row.expires_at is not None and row.expires_at <= now:
        return _finish(
            row,
            status=FAILED,
            note=message("Hết hạn trước khi gửi được; không gửi.", "Expired before it could be sent; not sent."),
        )
    backend = settings.SMS_BACKEND
    try:
        with transaction.atomic():
            # The sandbox writes its inbox row here: with the outcome, or not at all.
            if not outbox_owns(row):
                return None
            provider_id = sms_backend().send(phone=row.phone, text=sms_text(row))
            row.status, row.sent_at, row.finished_at = SmsMessage.Status.SENT, now, timezone.now()
            row.backend, row.provider_id, row.secret, row.message = backend, provider_id[:100], "", ""
            row.save(update_fields=["status", "sent_at", "finished_at", "backend", "provider_id", "secret", "message"])
    except SmsSendError as error:
        logger.warning("sms %s to %s: %s (attempt %s)", row.pk, row.phone[:6], error, row.attempts)
        if row.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
            return _finish(row, status=FAILED, note=message(f"Gửi không được: {error}", f"Could not send: {error}"))
        return _retry(row, note=str(error))
    return SmsMessage.Status.SENT


def _finish(row: SmsMessage, *, status: str, note: str) -> str | None:
    with transaction.atomic():
        if not outbox_owns(row):
            return None
        row.status, row.finished_at, row.secret, row.message = status, timezone.now(), "", note
        row.heartbeat_at = None
        row.save(update_fields=["status", "finished_at", "secret", "message", "heartbeat_at"])
    return status


def _retry(row: SmsMessage, *, note: str) -> str | None:
    """Back to the queue for a later try (OUTBOX_RETRY_BASE_S doubled per
    failed try): the outbox sweep sends it again when it is due."""
    with transaction.atomic():
        if not outbox_owns(row):
            return None
        row.backend, row.message = settings.SMS_BACKEND, note[:500]
        outbox_retry_later(row, delay_s=outbox_backoff_s(row.attempts), fields=("backend", "message"))
    return QUEUED


def sms_secret_forget(row: SmsMessage) -> None:
    """The outbox's clean-up when it gives a message up: no code stays behind."""
    SmsMessage.objects.filter(pk=row.pk).update(secret="")
