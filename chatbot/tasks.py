"""Celery tasks of the Zalo channel: thin; the work is in services."""

from celery import shared_task

from .services import outbound_send, zalo_event_process


@shared_task(acks_late=True, ignore_result=True)
def zalo_event_task(event_id: int) -> None:
    # A duplicate or late message finds nothing to claim (gisportal.outbox).
    zalo_event_process(event_id=event_id)


@shared_task(acks_late=True, ignore_result=True)
def outbound_send_task(message_id: int) -> None:
    outbound_send(message_id=message_id)
