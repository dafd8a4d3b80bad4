"""Model instances read by plain SQL, made to answer as the ORM's would."""

from collections.abc import Iterable

from django.db.models import Model


def rows_known(instance: Model, **rows: Iterable[Model]) -> None:
    """Tells `instance` all the rows it has under each reverse relation
    named, as `prefetch_related` leaves it: `instance.<name>.all()` then
    answers from them without a query. For rows just written (a
    submission's attachments) or read by a plain statement (the public
    look-up's events and shipments)."""
    known = instance.__dict__.setdefault("_prefetched_objects_cache", {})
    for name, values in rows.items():
        queryset = getattr(instance, name).get_queryset()
        queryset._result_cache = list(values)
        queryset._prefetch_done = True
        known[name] = queryset
