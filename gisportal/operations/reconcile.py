"""What must hold after a fault (Redis down, a worker killed, PostgreSQL
restarted), checked against the database: the fault drills
(`bench/drills.py`) call these once the traffic they drove has stopped.

- every dossier the server accepted exists exactly once, with one `receive`
  event and its attachment files;
- every import job has ended (`succeeded` or `failed`), none is left queued
  or running, and a layer holds exactly the rows its succeeded jobs imported;
- the pre-computed counters (indicators, density) equal a rebuild from the
  dossiers.

A drill marks each submission with a note `<prefix><idempotency key>`, so
dossiers are found by what the client sent, not through the idempotency
table whose working is under test."""

from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.db.models import Count, Q, Sum

from dossiers import density_counts, stats
from dossiers.attachments import attachment_exists
from dossiers.models import (
    Attachment,
    DailyStat,
    DensityCount,
    DensityDayCount,
    DensityQuarterCount,
    DensityQuarterSummed,
    Dossier,
)
from layers.models import Feature, ImportJob

ENDED_JOB_STATES = (ImportJob.Status.SUCCEEDED, ImportJob.Status.FAILED)
# counter table -> (model, the columns that identify a row); the others are counts
_COUNTERS = {
    "dailystat": (DailyStat, ("day", "dimension", "key")),
    "densitycount": (DensityCount, ("month", "area", "cell", "dimension", "key")),
    "densitydaycount": (DensityDayCount, ("day", "area", "cell", "dimension", "key")),
    "densityquartercount": (DensityQuarterCount, ("quarter", "area", "cell", "dimension", "key")),
}


def dossiers_reconcile(*, accepted: dict[str, str], note_prefix: str, key_prefix: str = "") -> dict:
    """`accepted`: idempotency key -> the dossier code the server answered.
    Counts what is missing, duplicated or incomplete among the dossiers whose
    note is `note_prefix` + a key starting with `key_prefix`."""
    marked = (
        Dossier.objects.filter(note__startswith=note_prefix + key_prefix)
        # The event that created the dossier: "receive" at a desk, "submit"
        # online (it then waits for receipt).
        .annotate(receive_events=Count("events", filter=Q(events__from_status="")))
        .values_list("pk", "code", "note", "receive_events")
    )
    by_key: dict[str, list[tuple[int, str, int]]] = {}
    for pk, code, note, receive_events in marked:
        by_key.setdefault(note[len(note_prefix) :], []).append((pk, code, receive_events))
    found = [key for key in accepted if key in by_key]
    return {
        "accepted": len(accepted),
        "found": len(found),
        "missing": sorted(set(accepted) - set(found)),
        # A dossier whose code is not the one the client was given for its key.
        "code_mismatch": sum(1 for key in found if accepted[key] not in {code for _, code, _ in by_key[key]}),
        "duplicates": sum(len(rows) - 1 for rows in by_key.values()),
        # Created, but the client never saw it accepted (it gave up retrying).
        "unacknowledged": len(set(by_key) - set(accepted)),
        "receive_event_not_one": sum(1 for rows in by_key.values() for _, _, events in rows if events != 1),
        "attachment_files_missing": _attachment_files_missing([pk for rows in by_key.values() for pk, _, _ in rows]),
    }


def _attachment_files_missing(dossier_ids: list[int]) -> int:
    names = Attachment.objects.filter(dossier_id__in=dossier_ids).values_list("stored_name", flat=True)
    missing = 0
    for name in names:
        missing += not attachment_exists(name)
    return missing


def import_jobs_reconcile(
    *, layer_slug: str, created_from: datetime | None = None, job_ids: Iterable[int] = ()
) -> dict:
    """Final states of the layer's jobs (those created from `created_from`,
    or all), those still queued or running, and whether the layer holds
    exactly the rows its succeeded jobs imported (append mode)."""
    jobs = ImportJob.objects.filter(layer__slug=layer_slug)
    if created_from is not None:
        jobs = jobs.filter(created_at__gte=created_from)
    by_status = dict(Counter(jobs.values_list("status", flat=True)))
    known = set(jobs.values_list("pk", flat=True))
    all_jobs = ImportJob.objects.filter(layer__slug=layer_slug)
    imported = all_jobs.filter(status=ImportJob.Status.SUCCEEDED).aggregate(rows=Sum("rows_imported"))["rows"] or 0
    features = Feature.objects.filter(layer__slug=layer_slug).count()
    return {
        "by_status": by_status,
        "stuck": sum(n for status, n in by_status.items() if status not in ENDED_JOB_STATES),
        # Jobs the server answered 202 for that are not in the database.
        "accepted_missing": sorted(set(job_ids) - known),
        "features_minus_imported": features - imported,
    }


def counters_reconcile() -> dict[str, int]:
    """Rows of each counter table that differ from a rebuild from the dossiers
    (present on one side only, or with other counts), by table. The rebuild runs in a
    transaction that is rolled back: nothing changes."""
    current = {name: _rows(model, keys) for name, (model, keys) in _COUNTERS.items()}
    summed = set(DensityQuarterSummed.objects.values_list("quarter", flat=True))
    with transaction.atomic():
        stats.stats_rebuild()
        density_counts.density_rebuild()
        rebuilt = {name: _rows(model, keys) for name, (model, keys) in _COUNTERS.items()}
        transaction.set_rollback(True)
    # The rebuild sums every ended quarter; one the daily task has not summed yet is no drift.
    quarters = rebuilt["densityquartercount"]
    rebuilt["densityquartercount"] = {key: counts for key, counts in quarters.items() if key[0] in summed}
    return {
        name: sum(
            1 for key in current[name].keys() | rebuilt[name].keys() if current[name].get(key) != rebuilt[name].get(key)
        )
        for name in _COUNTERS
    }


def _rows(model, keys: tuple[str, ...]) -> dict[tuple, tuple]:
    """{row key: its counts}, rows of zeros left out: a row a status change
    brought down to zero says the same as no row."""
    counts = [f.name for f in model._meta.concrete_fields if not f.primary_key and f.name not in keys]
    nonzero = Q()
    for name in counts:
        nonzero |= ~Q(**{name: 0})
    return {row[: len(keys)]: row[len(keys) :] for row in model.objects.filter(nonzero).values_list(*keys, *counts)}
