"""Messages to the outside world (an e-mail, a Zalo message): one row each,
sent by a worker through the outbox (`gisportal.outbox`), retried with
backoff, never lost, and sent twice only where the channel itself can tell
the copies apart.

A run (`delivery_run`):
1. claim the row (committed: running, attempts + 1), so a worker that dies
   is counted and the reaper gives the row to another;
2. `prepare(row)` outside any transaction: work that must commit whatever
   becomes of the send (refreshing an access token, whose refresh token is
   single-use);
3. one transaction: lock the row (`outbox_owns`), `send(row)`, mark it sent.
   The row is locked for the whole send, so neither the reaper nor another
   worker takes it while this worker lives; a worker killed mid-send rolls
   the transaction back and leaves the row running, which the reaper
   returns to the queue. `send` sees `row.attempts`: a channel that can ask
   whether an earlier attempt got through checks before sending again
   (Zalo: the conversation), one that cannot sends the same identity again
   (e-mail: the Message-ID derived from the row, which receivers
   de-duplicate).

A send that fails raises `DeliveryFailed`: the row returns to the queue to be
tried again after the outbox's backoff (`outbox_retry_later`,
`outbox_backoff_s`: OUTBOX_RETRY_BASE_S doubled per failure, at most
OUTBOX_RETRY_MAX_S; a message arriving early claims nothing and the sweep
publishes the row when due); a permanent failure, or the
DELIVERY_MAX_ATTEMPTS-th start, fails it with the error kept for
administrators, who may queue it again (`delivery_retry`). A failure that
can be repaired at once (`repair`, e.g. an expired access token) is repaired
outside the transaction and sent again within the same attempt.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from django.db import models, transaction
from django.utils import timezone

from gisportal.outbox import (
    OutboxJob,
    outbox_backoff_s,
    outbox_claim_when_due,
    outbox_heartbeat,
    outbox_max_attempts,
    outbox_owns,
    outbox_publish_on_commit,
    outbox_retry_later,
)

logger = logging.getLogger(__name__)


class DeliveryJob(OutboxJob):
    """Abstract: a message to send, with its outcome."""

    outbox_max_attempts_setting = "DELIVERY_MAX_ATTEMPTS"
    outbox_gave_up_note = (
        "Chưa gửi được; quản trị viên có thể gửi lại.",
        "It was not sent; an administrator may send it again.",
    )

    class Status(models.TextChoices):
        QUEUED = "queued", "Chờ gửi / Queued"
        RUNNING = "running", "Đang gửi / Sending"
        SENT = "sent", "Đã gửi / Sent"
        FAILED = "failed", "Gửi lỗi / Failed"

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    external_id = models.CharField(
        max_length=200, blank=True, help_text="The channel's id of what was sent: e-mail Message-ID, Zalo message_id."
    )
    message = models.TextField("last error", blank=True, help_text="Why the last attempt failed.")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta(OutboxJob.Meta):
        abstract = True


class DeliveryFailed(Exception):
    """A send that did not happen. `permanent`: retrying cannot help (an
    address refused). `repair`: a callable that fixes the cause at once (a
    token refresh), after which the send is tried again in the same attempt."""

    def __init__(self, reason: str, *, permanent: bool = False, repair: Callable[[], None] | None = None):
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.repair = repair


Send = Callable[[DeliveryJob], str]


def delivery_run(
    model: type[DeliveryJob], pk: int, *, send: Send, prepare: Callable[[DeliveryJob], None] | None = None
) -> DeliveryJob | None:
    """Claim row `pk` and send it (see the module's docstring); the row as it
    ended, or None when there was nothing to run."""
    row = outbox_claim_when_due(model, pk)
    if row is None:
        return None
    with outbox_heartbeat(row):
        repaired = False
        while True:
            try:
                if prepare is not None:
                    prepare(row)
                _send_and_mark(row, send)
            except DeliveryFailed as failure:
                if failure.repair is not None and not repaired:
                    repaired = True
                    try:
                        failure.repair()
                        continue
                    except DeliveryFailed as unrepaired:
                        failure = unrepaired
                _record_failure(row, failure)
            break
    return model.objects.filter(pk=pk).first()


def _send_and_mark(row: DeliveryJob, send: Send) -> None:
    model = type(row)
    with transaction.atomic():
        if not outbox_owns(row):
            return  # given up on, or taken over, while this worker stalled
        external_id = send(row)
        now = timezone.now()
        model.objects.filter(pk=row.pk).update(
            status=DeliveryJob.Status.SENT,
            sent_at=now,
            finished_at=now,
            external_id=(external_id or "")[:200],
            message="",
            heartbeat_at=None,
        )


def _record_failure(row: DeliveryJob, failure: DeliveryFailed) -> None:
    model = type(row)
    with transaction.atomic():
        if not outbox_owns(row):
            return
        now = timezone.now()
        reason = failure.reason[:2000]
        if failure.permanent or row.attempts >= outbox_max_attempts(model):
            logger.warning(
                "delivery: %s %s failed for good (attempt %s): %s", model.__name__, row.pk, row.attempts, reason
            )
            model.objects.filter(pk=row.pk).update(
                status=DeliveryJob.Status.FAILED, message=reason, finished_at=now, heartbeat_at=None
            )
            return
        delay = outbox_backoff_s(row.attempts)
        logger.warning(
            "delivery: %s %s failed (attempt %s), again in %.1f s: %s",
            *(model.__name__, row.pk, row.attempts, delay, reason),
        )
        # Not published now: the sweep publishes it once the delay has passed.
        row.message = reason
        outbox_retry_later(row, delay_s=delay, fields=("message",))


def delivery_retry(rows: Iterable[DeliveryJob]) -> int:
    """Queue failed (or held-back) rows again at once, with a fresh count of
    attempts: an administrator's "send again". How many were queued."""
    queued = 0
    with transaction.atomic():
        for row in rows:
            model = type(row)
            now = timezone.now()
            changed = model.objects.filter(
                pk=row.pk, status__in=[DeliveryJob.Status.FAILED, DeliveryJob.Status.QUEUED]
            ).update(
                status=DeliveryJob.Status.QUEUED,
                attempts=0,
                queued_at=now,
                published_at=None,
                finished_at=None,
                heartbeat_at=None,
            )
            if changed:
                outbox_publish_on_commit(row)
                queued += 1
    return queued
