"""Celery tasks of the project core: thin; the work is in gisportal/outbox.py."""

from celery import shared_task

from .outbox import outbox_sweep


@shared_task(ignore_result=True)
def outbox_sweep_task() -> dict[str, int]:
    """Sent by Celery beat every OUTBOX_SWEEP_EVERY_S: requeue or fail the jobs
    of dead workers, publish the jobs the broker has not got."""
    return outbox_sweep()
