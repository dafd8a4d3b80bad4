"""Celery tasks of accounts: thin; the work is in `accounts.sms`."""

from celery import shared_task

from .sms import sms_deliver


@shared_task(ignore_result=True)
def sms_send_task(pk: int) -> str | None:
    """Sends SmsMessage `pk` (published by the outbox once its row committed)."""
    return sms_deliver(pk)
