"""Celery tasks of the dossier core: thin, idempotent, calling services."""

from celery import shared_task

from .density_counts import density_quarters_close
from .drafts import drafts_expire


@shared_task(ignore_result=True)
def drafts_expire_task() -> int:
    """Deletes expired drafts (beat: `dossier-drafts-expire`, hourly)."""
    return drafts_expire()


@shared_task(ignore_result=True)
def density_quarters_close_task() -> int:
    """Sums the density month rows of every quarter that has ended
    (beat: `dossier-density-quarters`, daily; nothing to do on most days)."""
    return density_quarters_close()
