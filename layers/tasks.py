"""Celery tasks of the spatial foundation: thin and idempotent."""

from celery import shared_task

from .registries.importing import import_job_run


@shared_task(acks_late=True, ignore_result=True)
def import_layer_task(job_id: int) -> None:
    # The claim is a conditional update: a duplicate message, or one for a job
    # that has ended, changes nothing; one for a job whose worker died (no
    # heartbeat for OUTBOX_STALE_AFTER_S) starts it again.
    import_job_run(job_id=job_id)


@shared_task(acks_late=True, ignore_result=True)
def nearest_run_task(run_id: int) -> None:
    # Claimed like an import: a duplicate message, or one for a run that has
    # ended, changes nothing.
    from .batch_nearest import nearest_run_execute

    nearest_run_execute(run_id=run_id)
