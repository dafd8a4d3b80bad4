"""Celery tasks of the postal service: thin; the work is in services."""

from celery import shared_task

from .services import carrier_request_run


@shared_task(acks_late=True, ignore_result=True)
def carrier_request_task(job_id: int) -> None:
    # The claim is a conditional update: a duplicate or late message changes
    # nothing; a job whose worker died is taken up again by the outbox sweep.
    carrier_request_run(job_id=job_id)
