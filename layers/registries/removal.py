"""Deleting a registry layer with everything that hangs on it: its features,
import jobs and change history (one cascade in one transaction), then, once
that is committed, the files of its imports (uploads still waiting, error
reports) and its cached tiles. The deletion itself is recorded in the audit
log (and, from the admin, in Django's LogEntry), since the change history it
removes can no longer tell."""

import logging
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from django.db import transaction

from gisportal.filestore import media_storage

from ..models import Feature, FeatureChange, ImportJob, Layer
from .partitions import layer_partition_drop
from .tiles import tile_cache_purge

audit = logging.getLogger("gisportal.audit")
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LayerRemoval:
    slug: str
    title: str
    features: int
    import_jobs: int
    changes: int


def layer_removal_summary(layer: Layer) -> LayerRemoval:
    """What deleting the layer takes with it (three counts)."""
    return LayerRemoval(
        slug=layer.slug,
        title=layer.title,
        features=Feature.objects.filter(layer=layer).count(),
        import_jobs=ImportJob.objects.filter(layer=layer).count(),
        changes=FeatureChange.objects.filter(layer=layer).count(),
    )


def _import_files(jobs) -> list[str]:
    """Names in the media store of the files the portal stored for these
    jobs under imports/ (never a file a management command imported from
    elsewhere)."""
    names = []
    for job in jobs:
        if not Path(job.stored_path).is_absolute():
            names.append(job.stored_path)
        if job.error_report_path:
            names.append(job.error_report_path)
    return [name for name in names if PurePosixPath(name).parent == PurePosixPath("imports")]


def _leftovers_remove(*, files: list[str], slug: str, layer_id: int) -> None:
    storage = media_storage()
    removed = 0
    for name in files:
        try:
            if storage.exists(name):  # an upload is removed once its import ends
                storage.delete(name)
                removed += 1
        except OSError as error:
            logger.warning("file of deleted layer %s left behind: %s (%s)", slug, name, error)
    tiles = tile_cache_purge(slug=slug, layer_id=layer_id)
    logger.info("deleted layer %s: %d files and %d cached tiles removed", slug, removed, tiles)


def layer_delete(*, layer: Layer, acting_user) -> LayerRemoval:
    """Deletes the layer, its features, import jobs and changes in one
    transaction; its files and cached tiles go once that is committed."""
    with transaction.atomic():
        locked = Layer.objects.select_for_update().get(pk=layer.pk)
        removal = layer_removal_summary(locked)
        files = _import_files(ImportJob.objects.filter(layer=locked))
        layer_id = locked.pk
        # The features go with the layer's partition; the cascade deletes
        # jobs and changes (and features left in the DEFAULT partition).
        layer_partition_drop(layer_id)
        locked.delete()
        transaction.on_commit(lambda: _leftovers_remove(files=files, slug=removal.slug, layer_id=layer_id))
        transaction.on_commit(
            lambda: audit.info(
                "layer deleted slug=%s id=%s features=%d import_jobs=%d changes=%d user=%s",
                removal.slug,
                layer_id,
                removal.features,
                removal.import_jobs,
                removal.changes,
                getattr(acting_user, "pk", None),
            )
        )
    return removal
