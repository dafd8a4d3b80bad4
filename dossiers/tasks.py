"""Celery tasks of the dossier core: thin, idempotent, calling services."""

from celery import shared_task

from .drafts import drafts_expire


@shared_task(ignore_result=True)
def drafts_expire_task() -> int:
    """Deletes expired drafts (beat: `dossier-drafts-expire`, hourly)."""
    return drafts_expire()
