"""Search and order of the officials' worklist, over the caller's already
scoped queryset (`selectors.worklist`): these narrow what the caller may
see, they never widen it.

- `text`: a dossier code (any part of it, case-insensitive) or the
  applicant's name, compared unaccented and lower-cased on both sides
  (`f_unaccent(lower(...))`, as the catalogue search), so "nguyen van a"
  finds "Nguyễn Văn A";
- `id_number`: the citizen ID, the whole 12 digits only (no fishing by
  prefix).
The page never puts either in a URL (see `views.worklist_page`)."""

from django.db.models import Case, CharField, F, Func, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import Lower

from .catalogue import fold
from .models import LIFE_CYCLE

# Sort keys of the page: column -> (ascending order, descending order).
SORTS = {
    # Not yet received (null) sorts as the newest.
    "received": (F("received_at").asc(nulls_last=True), F("received_at").desc(nulls_first=True)),
    "due": ("due_at", "-due_at"),
    "status": ("status_rank", "-status_rank"),
}


def _folded(field: str) -> Func:
    return Func(Lower(field), function="f_unaccent", output_field=CharField())


def worklist_search(dossiers: QuerySet, *, text: str = "", id_number: str = "") -> QuerySet:
    text = " ".join(text.split())
    if text:
        dossiers = dossiers.annotate(applicant_folded=_folded("applicant_name")).filter(
            Q(code__icontains=text) | Q(applicant_folded__contains=fold(text))
        )
    if id_number:
        dossiers = dossiers.filter(applicant_id_number=id_number)
    return dossiers


def worklist_order(dossiers: QuerySet, *, sort: str) -> QuerySet:
    """`sort` is a key of SORTS, "-" in front for descending; statuses go in
    the order of the life cycle (Status), not of their names."""
    key = sort.removeprefix("-")
    ascending, descending = SORTS[key]
    if key == "status":
        rank = Case(
            *(When(status=value, then=Value(i)) for i, value in enumerate(LIFE_CYCLE)),
            output_field=IntegerField(),
        )
        dossiers = dossiers.annotate(status_rank=rank)
    order = descending if sort.startswith("-") else ascending
    # Ties in the order of arrival, so that pages do not shuffle.
    return dossiers.order_by(order, F("received_at").desc(nulls_first=True), "-submitted_at", "id")
