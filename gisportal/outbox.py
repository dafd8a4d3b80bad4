"""Background work that a database row describes: nothing lost, nothing stuck.

A row of a model that inherits `OutboxJob` (a registry import; next
notifications, payments and postal calls) is the truth about one piece of
work; the Celery message that starts it is only a wake-up call, which may
never reach the broker or may be lost with it.

- Publish (a transactional outbox): `outbox_publish_on_commit(row)` sends the
  task once the row is committed. If the broker cannot be reached the request
  carries on, the row stays queued with `published_at` empty, and the caller
  can say "queued, waiting for the worker" (`outbox_state_message`).
- Claim: a worker starts the work with `outbox_claim`, a conditional update
  that takes a queued row, or a running one whose worker stopped beating, and
  increments `attempts`. A duplicate or late message finds nothing to claim.
- Heartbeat: `with outbox_heartbeat(row):` stamps `heartbeat_at` from a
  thread while the work runs; a killed worker stops stamping.
- Fence: every write of a run is conditional on its attempt
  (`outbox_owns(row)` inside the transaction that finishes the work), so a
  run that was given up on cannot overwrite the run that replaced it.
- Sweep (Celery beat, every OUTBOX_SWEEP_EVERY_S): running rows silent for
  OUTBOX_STALE_AFTER_S go back to the queue, or are failed with a bilingual
  message once started OUTBOX_MAX_ATTEMPTS times (the model's clean-up then
  runs); queued rows that were never published, or were published long ago
  and are still waiting, are published.

A concrete model has `status` with a `Status` enum holding QUEUED, RUNNING
and FAILED ("queued", "running", "failed"; its other values are final),
`message` and `finished_at` fields, and names its Celery task (called with
the row's primary key) in `outbox_task`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import ClassVar

import kombu.exceptions
import redis.exceptions
from django.apps import apps
from django.conf import settings
from django.db import DatabaseError, connections, models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string

from gisportal.api import message
from gisportal.celery import app

logger = logging.getLogger(__name__)

QUEUED, RUNNING, FAILED = "queued", "running", "failed"
# The on-commit publish happens within milliseconds; the sweep leaves a newer
# unpublished row to it (and to a command that claims its own job at once).
PUBLISH_GRACE_S = 2.0
SWEEP_BATCH = 200
PUBLISH_FAIL_FAST = {"max_retries": 1, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.1}
BROKER_UNREACHABLE = (
    kombu.exceptions.OperationalError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    OSError,
)


class OutboxJob(models.Model):
    """Abstract: the outbox and heartbeat fields of a job row."""

    outbox_task: ClassVar[str]
    # Said after the generic "the worker stopped N times" when a job is given up.
    outbox_gave_up_note: ClassVar[tuple[str, str]] = ("", "")
    # Dotted path of a function(row) called once a given-up row is committed.
    outbox_on_give_up: ClassVar[str | None] = None

    queued_at = models.DateTimeField(default=timezone.now, help_text="When it last entered the queue.")
    published_at = models.DateTimeField(
        null=True, blank=True, help_text="When its task message last reached the broker; empty: not yet."
    )
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Times a worker started it.")
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last sign of life of the worker running it.")

    class Meta:
        abstract = True
        indexes = [
            models.Index(
                fields=["status", "queued_at"],
                name="%(app_label)s_%(class)s_outbox",
                condition=Q(status__in=[QUEUED, RUNNING]),
            )
        ]


def outbox_models() -> list[type[OutboxJob]]:
    return [model for model in apps.get_models() if issubclass(model, OutboxJob)]


# --- publish ------------------------------------------------------------------------


def outbox_publish_on_commit(row: OutboxJob) -> None:
    """Send the row's task once the current transaction commits."""
    model, pk = type(row), row.pk
    # robust: whatever happens here, the committed row stays for the sweep.
    transaction.on_commit(lambda: outbox_publish(model, pk), robust=True)


def outbox_publish(model: type[OutboxJob], pk: int) -> bool:
    """Send the task for row `pk`; False (and a warning) when the broker is
    unreachable, in which case the row waits for the sweep."""
    # Which entry in the queue this message is for: a fast worker may run the
    # job and put it back (`outbox_retry_later`, the reaper) before the send
    # returns, and that new entry must not be marked published by this one.
    entry = model.objects.filter(pk=pk).values_list("queued_at", flat=True).first()
    try:
        # A connection of its own that gives up after one quick retry: Celery's
        # pooled one retries for seconds, which a web request must not wait.
        with app.connection_for_write(transport_options=PUBLISH_FAIL_FAST) as connection:
            app.send_task(model.outbox_task, args=[pk], retry=False, connection=connection)
    except BROKER_UNREACHABLE as error:
        logger.warning(
            "outbox: the task queue is unreachable (%s); %s %s stays queued until it is back", error, model.__name__, pk
        )
        return False
    model.objects.filter(pk=pk, queued_at=entry).update(published_at=timezone.now())
    return True


# --- run ------------------------------------------------------------------------


def _stale_running(now: datetime) -> Q:
    stale_before = now - timedelta(seconds=settings.OUTBOX_STALE_AFTER_S)
    return Q(status=RUNNING) & (Q(heartbeat_at__lt=stale_before) | Q(heartbeat_at__isnull=True))


def outbox_claim(model: type[OutboxJob], pk: int) -> OutboxJob | None:
    """The row, now running for this worker (attempts + 1), or None when there
    is nothing to start: it is done, failed, or another worker is alive on it."""
    now = timezone.now()
    claimable = Q(status=QUEUED) | (_stale_running(now) & Q(attempts__lt=settings.OUTBOX_MAX_ATTEMPTS))
    with transaction.atomic():
        row = model.objects.select_for_update(skip_locked=True).filter(claimable, pk=pk).first()
        if row is None:
            return None
        row.status = RUNNING
        row.attempts += 1
        row.heartbeat_at = now
        changed = ["status", "attempts", "heartbeat_at"]
        if row.published_at is None:
            # A worker holds its message, so it reached the broker, even if the
            # publisher lost the broker's answer and could not record it.
            row.published_at = now
            changed.append("published_at")
        row.save(update_fields=changed)
    return row


def outbox_owns(row: OutboxJob) -> bool:
    """Whether this run (its attempt) still owns the running row; locks the
    row, so call it inside the transaction that finishes the work."""
    return type(row).objects.select_for_update().filter(pk=row.pk, status=RUNNING, attempts=row.attempts).exists()


@contextmanager
def outbox_heartbeat(row: OutboxJob) -> Iterator[None]:
    """Stamp `heartbeat_at` every OUTBOX_HEARTBEAT_S while the block runs."""
    stop = threading.Event()
    beat = threading.Thread(
        target=_beat, args=(type(row), row.pk, row.attempts, stop), name=f"heartbeat-{row.pk}", daemon=True
    )
    beat.start()
    try:
        yield
    finally:
        stop.set()
        beat.join()


def _beat(model: type[OutboxJob], pk: int, attempt: int, stop: threading.Event) -> None:
    try:
        while not stop.wait(settings.OUTBOX_HEARTBEAT_S):
            try:
                with transaction.atomic():
                    # A row locked by the run's own final transaction is
                    # skipped, never waited for.
                    mine = (
                        model.objects.select_for_update(skip_locked=True)
                        .filter(pk=pk, status=RUNNING, attempts=attempt)
                        .values_list("pk", flat=True)
                    )
                    model.objects.filter(pk__in=list(mine)).update(heartbeat_at=timezone.now())
            except DatabaseError as error:
                logger.warning("outbox: heartbeat of %s %s failed: %s", model.__name__, pk, error)
    finally:
        connections.close_all()  # this thread's connection


# --- sweep ----------------------------------------------------------------------


def outbox_sweep() -> dict[str, int]:
    """The periodic task's work: reap, then publish. Counts of what it did."""
    return {**outbox_reap(), "published": outbox_publish_pending()}


def outbox_reap() -> dict[str, int]:
    """Running rows whose worker stopped beating: back to the queue, or failed
    after OUTBOX_MAX_ATTEMPTS starts."""
    done = {"requeued": 0, "failed": 0}
    for model in outbox_models():
        requeued, failed = _reap(model)
        done["requeued"] += requeued
        done["failed"] += failed
    return done


def outbox_publish_pending() -> int:
    """Publish queued rows the broker never got (or lost); how many were sent."""
    return sum(_publish_pending(model) for model in outbox_models())


def _reap(model: type[OutboxJob]) -> tuple[int, int]:
    now = timezone.now()
    requeued = failed = 0
    with transaction.atomic():
        # A row whose run is finishing holds its lock: skipped, not waited for.
        stale = list(
            model.objects.select_for_update(skip_locked=True).filter(_stale_running(now)).order_by("pk")[:SWEEP_BATCH]
        )
        for row in stale:
            if row.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
                _give_up(row, now)
                failed += 1
            else:
                _requeue(row, now)
                requeued += 1
    return requeued, failed


def _requeue(row: OutboxJob, now: datetime) -> None:
    logger.warning(
        "outbox: %s %s stopped beating during attempt %s; queued again", type(row).__name__, row.pk, row.attempts
    )
    row.status, row.queued_at, row.published_at, row.heartbeat_at = QUEUED, now, None, None
    row.save(update_fields=["status", "queued_at", "published_at", "heartbeat_at"])
    outbox_publish_on_commit(row)


def _give_up(row: OutboxJob, now: datetime) -> None:
    logger.warning("outbox: %s %s stopped beating %s times; failed", type(row).__name__, row.pk, row.attempts)
    vi_note, en_note = row.outbox_gave_up_note
    limit = max(row.attempts, settings.OUTBOX_MAX_ATTEMPTS)
    row.status = FAILED
    row.message = message(
        f"Tiến trình xử lý công việc này đã dừng đột ngột (lần {row.attempts}/{limit}); công việc bị hủy. "
        f"{vi_note}".strip(),
        f"The worker running this job stopped unexpectedly (attempt {row.attempts} of {limit}); "
        f"the job was abandoned. {en_note}".strip(),
    )
    row.finished_at = now
    row.heartbeat_at = None
    row.save(update_fields=["status", "message", "finished_at", "heartbeat_at"])
    if row.outbox_on_give_up:
        clean_up = import_string(row.outbox_on_give_up)
        transaction.on_commit(lambda: clean_up(row), robust=True)


def _publish_pending(model: type[OutboxJob]) -> int:
    now = timezone.now()
    never = Q(published_at__isnull=True, queued_at__lt=now - timedelta(seconds=PUBLISH_GRACE_S))
    lost = Q(published_at__lt=now - timedelta(seconds=settings.OUTBOX_REPUBLISH_AFTER_S))
    due = model.objects.filter(never | lost, status=QUEUED).order_by("queued_at").values_list("pk", flat=True)
    published = 0
    for pk in due[:SWEEP_BATCH]:
        if not outbox_publish(model, pk):
            break  # still unreachable: the next sweep tries again
        published += 1
    return published


# --- what to tell the user --------------------------------------------------------


def outbox_state_message(row: OutboxJob) -> str:
    """A bilingual sentence for a queued or running row ('' otherwise)."""
    if row.status == QUEUED and row.published_at is None:
        return message(
            "Đang xếp hàng, chờ tiến trình xử lý: hàng đợi tác vụ tạm thời không kết nối được; "
            "công việc sẽ tự bắt đầu khi hàng đợi hoạt động trở lại.",
            "Queued, waiting for the worker: the task queue cannot be reached right now; "
            "the job starts by itself once it is back.",
        )
    if row.status == QUEUED and row.attempts:
        return message(
            f"Đang xếp hàng, chờ tiến trình xử lý: lần chạy trước bị gián đoạn, sẽ chạy lại "
            f"(lần {row.attempts + 1}/{settings.OUTBOX_MAX_ATTEMPTS}).",
            f"Queued, waiting for the worker: the last run was interrupted; it will run again "
            f"(attempt {row.attempts + 1} of {settings.OUTBOX_MAX_ATTEMPTS}).",
        )
    if row.status == QUEUED:
        return message("Đang xếp hàng, chờ tiến trình xử lý.", "Queued, waiting for the worker.")
    if row.status == RUNNING:
        return message("Đang chạy.", "Running.")
    return ""


# --- calls to the outside world that fail: try again later ---------------------------


def outbox_retry_later(row: OutboxJob, *, delay_s: float, fields: tuple[str, ...] = ()) -> None:
    """Back to the queue, to be sent again in `delay_s` seconds (a gateway or
    carrier that did not answer). The row waits with `queued_at` in the
    future and no message: the sweep publishes it once that moment is past.
    Call it from the run that owns the row (inside the transaction that
    checked `outbox_owns`); `fields` are other fields the caller changed."""
    row.status = QUEUED
    row.queued_at = timezone.now() + timedelta(seconds=max(delay_s, 0.0))
    row.published_at = None
    row.heartbeat_at = None
    row.save(update_fields=["status", "queued_at", "published_at", "heartbeat_at", *fields])


def outbox_claim_when_due(model: type[OutboxJob], pk: int) -> OutboxJob | None:
    """`outbox_claim`, unless the row waits for a later moment (a delayed
    call, a retry): then its message is forgotten (`published_at` emptied),
    so that the sweep sends it again when it is due, and None."""
    waiting = model.objects.filter(pk=pk, status=QUEUED, queued_at__gt=timezone.now())
    if waiting.update(published_at=None):
        return None
    return outbox_claim(model, pk)


def outbox_backoff_s(attempt: int) -> float:
    """Seconds before try `attempt + 1`: OUTBOX_RETRY_BASE_S doubled per
    failed try, at most OUTBOX_RETRY_MAX_S."""
    return min(settings.OUTBOX_RETRY_BASE_S * 2 ** max(attempt - 1, 0), settings.OUTBOX_RETRY_MAX_S)
