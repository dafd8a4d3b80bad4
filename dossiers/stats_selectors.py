"""Dossier indicators read from the incremental counts (`DailyStat`) only:
one SUM ... GROUP BY over day × key rows, so the cost follows the length of
the period and the number of groups, never the number of dossiers.

Counting rules (those of `dossiers.stats`): `received` and `online` count
dossiers received in the period; `finished`, `early`, `on_time`, `late` and
the processing days count dossiers finished (result ready, or refused) in
the period, whenever they were received."""

import datetime as dt

from gisportal.accounts.models import Agency
from gisportal.api import message
from gisportal.dbrouting import read_connection
from layers.models import AdministrativeUnit, ServicePoint

from .models import Channel, DailyStat, Procedure

GROUP_BY = ("none", "agency", "service_point", "procedure", "commune", "channel", "month")
COUNTS = ("received", "online", "finished", "early", "on_time", "late")
MEASURES = (
    *COUNTS,
    "online_share",
    "early_rate",
    "on_time_rate",
    "late_rate",
    "avg_processing_days",
)
UNKNOWN = message("Không rõ", "Unknown")
WHOLE_PROVINCE = message("Toàn tỉnh", "Whole province")

_SUMS = ", ".join(f"sum({m})" for m in (*COUNTS, "processing_days_sum"))


def _ratio(part: int, whole: int, digits: int = 4) -> float | None:
    return round(part / whole, digits) if whole else None


def _measures(sums: tuple[int, ...]) -> dict:
    received, online, finished, early, on_time, late, days = (int(v or 0) for v in sums)
    return {
        "received": received,
        "online": online,
        "online_share": _ratio(online, received),
        "finished": finished,
        "early": early,
        "on_time": on_time,
        "late": late,
        "early_rate": _ratio(early, finished),
        # The national progress indicator: done early or on time, of all done.
        "on_time_rate": _ratio(early + on_time, finished),
        "late_rate": _ratio(late, finished),
        "avg_processing_days": _ratio(days, finished, 2),
    }


def _sums(date_from: dt.date, date_to: dt.date, group_by: str) -> list[tuple]:
    """(key, sums...) per group; the key is the DailyStat key, or "YYYY-MM"."""
    if group_by == "month":
        sql = (
            f"SELECT to_char(day, 'YYYY-MM'), {_SUMS} FROM dossiers_dailystat "
            "WHERE dimension = %s AND day BETWEEN %s AND %s GROUP BY 1"
        )
        dimension = DailyStat.Dimension.ALL
    else:
        sql = f"SELECT key, {_SUMS} FROM dossiers_dailystat WHERE dimension = %s AND day BETWEEN %s AND %s GROUP BY key"
        dimension = DailyStat.Dimension.ALL if group_by == "none" else group_by
    with read_connection().cursor() as cursor:
        cursor.execute(sql, [dimension, date_from, date_to])
        return cursor.fetchall()


def _months(date_from: dt.date, date_to: dt.date) -> list[str]:
    months, year, month = [], date_from.year, date_from.month
    while (year, month) <= (date_to.year, date_to.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _labels(group_by: str, keys: list[int]) -> dict[int, tuple[str, str]]:
    """key -> (public key, label), one query for the whole group."""
    if group_by == "agency":
        rows = Agency.objects.filter(pk__in=keys).values_list("pk", "code", "name")
        return {pk: (code, name) for pk, code, name in rows}
    if group_by == "service_point":
        rows = ServicePoint.objects.filter(pk__in=keys).values_list("pk", "code", "name")
        return {pk: (code, name) for pk, code, name in rows}
    if group_by == "procedure":
        rows = Procedure.objects.filter(pk__in=keys).values_list("pk", "code", "name")
        return {pk: (code, f"{code} {name}") for pk, code, name in rows}
    if group_by == "commune":
        rows = AdministrativeUnit.objects.filter(pk__in=keys).values_list("pk", "code", "full_name")
        return {pk: (code, name) for pk, code, name in rows}
    if group_by == "channel":
        return {value: (str(value), label) for value, label in Channel.choices}
    return {}


def dossier_indicators(*, group_by: str, date_from: dt.date, date_to: dt.date) -> dict:
    """Indicators per group over [date_from, date_to] and their totals.

    Rows are ordered by month for `month`, by channel number for `channel`,
    and by the number received (most first) otherwise. For `month` every
    month of the period is listed, empty ones with zeros."""
    if group_by not in GROUP_BY:
        raise ValueError(f"group_by must be one of {GROUP_BY}")
    sums = _sums(date_from, date_to, group_by)
    totals = _measures(tuple(sum(row[i] or 0 for row in sums) for i in range(1, 8)))
    if group_by == "none":
        rows = [{"key": "all", "label": WHOLE_PROVINCE, **totals}]
    elif group_by == "month":
        by_month = {row[0]: row[1:] for row in sums}
        rows = [
            {"key": month, "label": month, **_measures(by_month.get(month, (0,) * 7))}
            for month in _months(date_from, date_to)
        ]
    else:
        labels = _labels(group_by, [row[0] for row in sums])
        rows = []
        for key, *values in sums:
            public_key, label = labels.get(key, (str(key) if key else "", UNKNOWN))
            rows.append({"key": public_key, "label": label, **_measures(tuple(values))})
        if group_by == "channel":
            rows.sort(key=lambda row: row["key"])
        else:
            rows.sort(key=lambda row: (-row["received"], -row["finished"], row["label"]))
    return {
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "group_by": group_by,
        "rows": rows,
        "totals": totals,
    }
