"""Celery tasks of payments: thin; the work is in services and sandbox."""

from celery import shared_task


@shared_task(acks_late=True, ignore_result=True)
def refund_run_task(refund_id: int) -> None:
    from .services import refund_run

    refund_run(refund_id=refund_id)


@shared_task(acks_late=True, ignore_result=True)
def sandbox_ipn_deliver_task(delivery_id: int) -> None:
    from .sandbox import sandbox_ipn_deliver

    sandbox_ipn_deliver(delivery_id=delivery_id)


@shared_task(ignore_result=True)
def payment_requests_expire_task() -> int:
    """Sent by Celery beat every PAYMENT_EXPIRE_EVERY_S."""
    from .services import payment_requests_expire

    return payment_requests_expire()
