"""Celery tasks of the sandbox carrier: thin; the work is in services."""

from celery import shared_task
from django.conf import settings

from .services import callback_send_run, sandbox_tick


@shared_task(ignore_result=True)
def sandbox_tick_task() -> int:
    """Sent by Celery beat every VNPOST_SANDBOX_TICK_S: parcels move on."""
    if not settings.VNPOST_SANDBOX_ENABLED:
        return 0
    return sandbox_tick()


@shared_task(acks_late=True, ignore_result=True)
def sandbox_callback_task(callback_id: int) -> None:
    callback_send_run(callback_id=callback_id)
