"""Celery tasks of the spatial foundation: thin and idempotent."""

from celery import shared_task
from django.utils import timezone

from .models import ImportJob
from .registries.importing import layer_import


@shared_task(acks_late=True, ignore_result=True)
def import_layer_task(job_id: int) -> None:
    # Claiming the job with a conditional update makes a redelivered or
    # duplicated message a no-op: only the first worker moves it off `queued`.
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.QUEUED).update(
        status=ImportJob.Status.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return
    job = ImportJob.objects.select_related("layer").get(pk=job_id)
    layer_import(job=job)
