"""Service-quality indicators of Decision 766/QĐ-TTg (2022) that our data can
compute, per province, agency, service point or commune (2025 map), read from
the incremental counts (DailyStat) plus the procedure catalogue.

Definitions (stated here because the decision leaves room):
- online_procedures: share of active procedures whose online_level is 'full'
  ("toàn trình"); partial online procedures do not count. Computed for the
  province and per implementing agency; a service point or a commune offers
  the province's catalogue, so it is null there.
- online_submission: dossiers received online (channel 2) / all received.
- on_time: dossiers finished early or on time / all finished (the progress
  indicator of DOMAIN.md).
- avg_processing_days: working days from receipt to result, averaged over the
  dossiers finished in the period (no full-score threshold: reported only).
- online_payment: fees paid online / all fees paid, over the requests paid
  in the period (counted on the day of payment; a fee refunded later stays
  counted). "Online" is paid without coming to a desk: through the VNPay
  gateway or by VietQR bank transfer; cash and card at a desk (or to the
  postal worker) are not. Grouped like the receipts: the agency that
  received the dossier, its receiving service point, the applicant's 2025
  commune. Read from the pre-counted rows of `payments.counts`
  (`payments.selectors.online_payment_counts`); null, with a note, where no
  fee was paid in the period.
- satisfaction: ratings of 4 or 5 (on 1-5) / all ratings given in the period
  (by the day they were given), full score from 90 %. The ratings are those
  applicants give their finished dossiers and reporters give the published
  answers to their feedback (`feedback.Rating`, one each), counted together.
  A dossier's rating counts for the agency that handled it, the service point
  that received it and the applicant's commune (2025 map); a feedback
  answer's for the agency that answered and the commune of the report (it
  has no service point). Read with one index-only GROUP BY over the ratings
  of the period (`feedback.selectors.satisfaction_counts`)."""

import datetime as dt

from dossiers.models import DailyStat, OnlineLevel, Procedure
from feedback.selectors import satisfaction_counts
from gisportal.accounts.models import Agency
from gisportal.api import message
from gisportal.dbrouting import read_connection
from layers.models import AdministrativeUnit, ServicePoint
from payments.selectors import online_payment_counts

GROUP_BY = ("province", "agency", "service_point", "commune")

SOURCE = (
    "DOMAIN.md, 'Service-quality indicators (Decision 766/QĐ-TTg, 2022)': examples of full-score thresholds "
    "from a public implementation, to check against the decision's appendix. The on-time threshold is not "
    "given there as a number: full score is taken as 100 % done early or on time."
)

# The thresholds as data: key, titles, full-score threshold (a share, or None
# when the indicator has none), and a note when the portal cannot compute it.
INDICATORS: tuple[dict, ...] = (
    {
        "key": "online_procedures",
        "title_vi": "Tỷ lệ TTHC cung cấp dịch vụ công trực tuyến toàn trình",
        "title_en": "Procedures offered fully online",
        "threshold": 0.80,
        "note": None,
    },
    {
        "key": "online_submission",
        "title_vi": "Tỷ lệ hồ sơ nộp trực tuyến",
        "title_en": "Online submission rate",
        "threshold": 0.50,
        "note": None,
    },
    {
        "key": "on_time",
        "title_vi": "Tỷ lệ hồ sơ giải quyết trước và đúng hạn",
        "title_en": "Dossiers done early or on time",
        "threshold": 1.00,
        "note": None,
    },
    {
        "key": "avg_processing_days",
        "title_vi": "Thời gian giải quyết trung bình (ngày làm việc)",
        "title_en": "Average processing time (working days)",
        "threshold": None,
        "note": None,
    },
    {
        "key": "online_payment",
        "title_vi": "Tỷ lệ thanh toán trực tuyến",
        "title_en": "Online payment rate",
        "threshold": 0.80,
        "note": message("Chưa có khoản phí nào được nộp trong kỳ.", "No fee was paid in this period."),
    },
    {
        "key": "satisfaction",
        "title_vi": "Mức độ hài lòng",
        "title_en": "Satisfaction",
        "threshold": 0.90,
        "note": None,
    },
)

_DIMENSIONS = {
    "province": DailyStat.Dimension.ALL,
    "agency": DailyStat.Dimension.AGENCY,
    "service_point": DailyStat.Dimension.SERVICE_POINT,
    "commune": DailyStat.Dimension.COMMUNE,
}
UNKNOWN = message("Không rõ", "Unknown")


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _indicator(spec: dict, value: float | None) -> dict:
    threshold = spec["threshold"]
    met = None if value is None or threshold is None else value >= threshold
    # The note says why there is no value; a value needs none.
    return {"value": value, "threshold": threshold, "met": met, "note": spec["note"] if value is None else None}


def _procedure_shares(group_by: str) -> dict[int, tuple[int, int]]:
    """key -> (active procedures, of which fully online): per agency, or key 0 for the province."""
    column = "agency_id" if group_by == "agency" else "0"
    with read_connection().cursor() as cursor:
        cursor.execute(
            f"SELECT {column}, count(*), count(*) FILTER (WHERE online_level = %s) "
            f"FROM {Procedure._meta.db_table} WHERE is_active GROUP BY 1",
            [OnlineLevel.FULL],
        )
        return {key: (total, full) for key, total, full in cursor.fetchall()}


def _labels(group_by: str) -> dict[int, tuple[str, str]]:
    """key -> (public code, label) of every group that exists, so groups with no dossier are listed too."""
    if group_by == "province":
        return {0: ("all", message("Toàn tỉnh", "Whole province"))}
    if group_by == "agency":
        return {pk: (code, name) for pk, code, name in Agency.objects.values_list("pk", "code", "name")}
    if group_by == "service_point":
        points = ServicePoint.objects.filter(is_active=True).values_list("pk", "code", "name")
        return {pk: (code, name) for pk, code, name in points}
    communes = AdministrativeUnit.objects.filter(era="2025", level="commune").values_list("pk", "code", "full_name")
    return {pk: (code, name) for pk, code, name in communes}


def indicators_766(*, group_by: str, date_from: dt.date, date_to: dt.date) -> dict:
    """One row per group (every agency, active service point or 2025 commune,
    with or without dossiers; plus an 'unknown' row when DailyStat has key 0),
    ordered by dossiers received, most first."""
    if group_by not in GROUP_BY:
        raise ValueError(f"group_by must be one of {GROUP_BY}")
    with read_connection().cursor() as cursor:
        cursor.execute(
            "SELECT key, sum(received), sum(online), sum(finished), sum(early), sum(on_time), sum(late), "
            "sum(processing_days_sum) FROM dossiers_dailystat WHERE dimension = %s AND day BETWEEN %s AND %s "
            "GROUP BY key",
            [_DIMENSIONS[group_by], date_from, date_to],
        )
        sums = {row[0]: tuple(int(v or 0) for v in row[1:]) for row in cursor.fetchall()}
    labels = _labels(group_by)
    procedures = _procedure_shares(group_by) if group_by in ("province", "agency") else {}
    fees = online_payment_counts(group_by=group_by, date_from=date_from, date_to=date_to)
    ratings = satisfaction_counts(group_by=group_by, date_from=date_from, date_to=date_to)
    rows = []
    for key in sorted(set(labels) | set(sums) | set(fees) | set(ratings)):
        received, online, finished, early, on_time, late, days = sums.get(key, (0,) * 7)
        code, label = labels.get(key, ("" if not key else str(key), UNKNOWN))
        active, full = procedures.get(key, (0, 0))
        fees_paid, fees_online = fees.get(key, (0, 0))
        rated, satisfied = ratings.get(key, (0, 0))
        values = {
            "online_procedures": _share(full, active) if group_by in ("province", "agency") else None,
            "online_submission": _share(online, received),
            "on_time": _share(early + on_time, finished),
            "avg_processing_days": round(days / finished, 2) if finished else None,
            "online_payment": _share(fees_online, fees_paid),
            "satisfaction": _share(satisfied, rated),
        }
        rows.append(
            {
                "key": code,
                "label": label,
                "received": received,
                "online": online,
                "finished": finished,
                "early": early,
                "on_time": on_time,
                "late": late,
                "ratings": rated,
                "ratings_satisfied": satisfied,
                "procedures_active": active if procedures else None,
                "procedures_full_online": full if procedures else None,
                "fees_paid": fees_paid,
                "fees_paid_online": fees_online,
                "indicators": {spec["key"]: _indicator(spec, values[spec["key"]]) for spec in INDICATORS},
            }
        )
    rows.sort(key=lambda row: (-row["received"], -row["finished"], row["key"]))
    return {
        "group_by": group_by,
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "indicators": [dict(spec) for spec in INDICATORS],
        "source": SOURCE,
        "rows": rows,
    }


# Export columns: (key, Vietnamese title); indicator columns are added per indicator.
_BASE_COLUMNS = (
    ("key", "Mã"),
    ("label", "Tên"),
    ("received", "Hồ sơ tiếp nhận"),
    ("online", "Hồ sơ trực tuyến"),
    ("finished", "Hồ sơ đã giải quyết"),
    ("early", "Trước hạn"),
    ("on_time", "Đúng hạn"),
    ("late", "Quá hạn"),
    ("fees_paid", "Hồ sơ đã nộp phí"),
    ("fees_paid_online", "Nộp phí trực tuyến"),
    ("ratings", "Lượt đánh giá"),
    ("ratings_satisfied", "Đánh giá hài lòng (4-5)"),
)


def export_table(data: dict) -> tuple[list[str], list[list]]:
    """(header, rows) with Vietnamese column titles; shares in percent."""
    header = [title for _key, title in _BASE_COLUMNS]
    for spec in INDICATORS:
        unit = "" if spec["key"] == "avg_processing_days" else " (%)"
        header.append(f"{spec['title_vi']}{unit}")
        if spec["threshold"] is not None:
            header.append(f"Đạt ngưỡng {spec['threshold'] * 100:g} %")
    table = []
    for row in data["rows"]:
        line = [row[key] for key, _title in _BASE_COLUMNS]
        for spec in INDICATORS:
            cell = row["indicators"][spec["key"]]
            value = cell["value"]
            if value is not None and spec["key"] != "avg_processing_days":
                value = round(value * 100, 2)
            line.append(value)
            if spec["threshold"] is not None:
                line.append(None if cell["met"] is None else ("Đạt" if cell["met"] else "Chưa đạt"))
        table.append(line)
    return header, table
