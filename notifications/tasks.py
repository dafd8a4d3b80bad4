"""Celery tasks of notifications: thin; the work is in services."""

from celery import shared_task

from .services import notification_send


@shared_task(acks_late=True, ignore_result=True)
def notification_send_task(notification_id: int) -> None:
    # A duplicate or late message finds nothing to claim (gisportal.outbox).
    notification_send(notification_id=notification_id)
