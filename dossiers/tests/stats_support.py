"""Helpers of the indicator and demo-history tests: a small generated
history on the test catalogue, and indicator counts computed straight from
the dossier rows (never from DailyStat), to compare the API with."""

import datetime as dt
from collections import defaultdict

from django.db.models.functions import TruncMonth

from dossiers.demo_history import dossier_history_generate
from dossiers.demo_setup import commune_committees_ensure
from dossiers.models import Channel, Dossier

# What each group_by groups on, as the API names its keys.
GROUP_FIELDS = {
    "none": None,
    "agency": "agency__code",
    "service_point": "receiving_point__code",
    "procedure": "procedure__code",
    "commune": "applicant_commune__code",
    "channel": "channel",
}
COUNTED = ("received", "online", "finished", "early", "on_time", "late", "days")


def history_generate(*, count: int, seed: int = 11, with_events: bool = True) -> dict:
    """`count` demo dossiers on whatever procedures the test created, with a
    people's committee per 2025 commune (as load_demo makes them)."""
    commune_committees_ensure()
    timings: dict = {}
    dossier_history_generate(count=count, years=2, seed=seed, with_events=with_events, timings=timings)
    return timings


def _key(group_by: str, value) -> str:
    if group_by == "none":
        return "all"
    if group_by == "month":
        return f"{value:%Y-%m}"
    return "" if value is None else str(value)


def direct_counts(group_by: str, date_from: dt.date, date_to: dt.date) -> dict[str, dict[str, int]]:
    """key -> counts, from the dossiers themselves: received (and online) by
    local day of receipt, finished and its timeliness by local day of
    finishing, both within [date_from, date_to]."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTED, 0))
    received = Dossier.objects.filter(received_at__date__gte=date_from, received_at__date__lte=date_to)
    finished = Dossier.objects.filter(finished_at__date__gte=date_from, finished_at__date__lte=date_to)
    if group_by == "month":
        received_groups = received.annotate(g=TruncMonth("received_at")).values_list("g", "channel")
        finished_groups = finished.annotate(g=TruncMonth("finished_at")).values_list(
            "g", "timeliness", "processing_working_days"
        )
    elif group_by == "none":
        received_groups = [(None, c) for c in received.values_list("channel", flat=True)]
        finished_groups = [(None, t, d) for t, d in finished.values_list("timeliness", "processing_working_days")]
    else:
        field = GROUP_FIELDS[group_by]
        received_groups = received.values_list(field, "channel")
        finished_groups = finished.values_list(field, "timeliness", "processing_working_days")
    for group, channel in received_groups:
        row = counts[_key(group_by, group)]
        row["received"] += 1
        row["online"] += channel == Channel.ONLINE
    for group, timeliness, days in finished_groups:
        row = counts[_key(group_by, group)]
        row["finished"] += 1
        row[timeliness] += 1
        row["days"] += days or 0
    return dict(counts)


def rate(part: int, whole: int, digits: int = 4) -> float | None:
    return round(part / whole, digits) if whole else None
