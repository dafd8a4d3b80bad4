"""GET /api/v1/analytics/indicators/ and /planning/indicators/: indicator
values equal direct counts over the dossier rows and the catalogue, the
thresholds decide met / not met, CSV and XLSX hold the same rows, bad
parameters 400 naming them, access matrix."""

import csv
import datetime as dt
import io
from collections import Counter, defaultdict

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from dossiers.demo_history import dossier_history_generate
from dossiers.demo_setup import commune_committees_ensure
from dossiers.models import Dossier, Procedure
from gisportal.accounts.models import Agency
from layers.models import AdministrativeUnit, ServicePoint
from maps.indicators766 import INDICATORS

URL = "/api/v1/analytics/indicators/"
THRESHOLDS = {spec["key"]: spec["threshold"] for spec in INDICATORS}


@pytest.fixture
def history(db):
    commune_committees_ensure()
    dossier_history_generate(count=3000, years=2, seed=47)


@pytest.fixture
def official(make_user):
    return make_user("p3-ind-leader", role="leader", agency="so-tp")


def _period() -> tuple[dt.date, dt.date]:
    today = timezone.localdate()
    return today - dt.timedelta(days=300), today - dt.timedelta(days=10)


def _direct(group_by: str, date_from: dt.date, date_to: dt.date) -> dict[str, Counter]:
    """Counts straight from the dossier rows, keyed as the API keys its groups."""
    counts: dict[str, Counter] = defaultdict(Counter)
    rows = Dossier.objects.values_list(
        "receiving_agency__code",
        "agency__code",
        "receiving_point__code",
        "applicant_commune__code",
        "received_at",
        "finished_at",
        "channel",
        "timeliness",
        "processing_working_days",
    )
    for r_agency, agency, point, commune, received_at, finished_at, channel, timeliness, days in rows:
        keys = {
            "province": ("all", "all"),
            "agency": (r_agency or agency, agency),
            "service_point": (point, point),
            "commune": (commune or "", commune or ""),
        }[group_by]
        if date_from <= timezone.localtime(received_at).date() <= date_to:
            counts[keys[0]]["received"] += 1
            counts[keys[0]]["online"] += channel == 2
        if finished_at and date_from <= timezone.localtime(finished_at).date() <= date_to:
            counts[keys[1]]["finished"] += 1
            counts[keys[1]][timeliness] += 1
            counts[keys[1]]["days"] += days or 0
    return counts


def _direct_fees(group_by: str, date_from: dt.date, date_to: dt.date) -> dict[str, Counter]:
    """Fees paid and paid online (VNPay or bank transfer) straight from the
    payment rows, on the day of payment, by the dossier's receiving keys."""
    from payments.models import Payment

    counts: dict[str, Counter] = defaultdict(Counter)
    rows = Payment.objects.values_list(
        "request__dossier__receiving_agency__code",
        "request__dossier__agency__code",
        "request__dossier__receiving_point__code",
        "request__dossier__applicant_commune__code",
        "paid_at",
        "method",
    )
    for r_agency, agency, point, commune, paid_at, method in rows:
        key = {"province": "all", "agency": r_agency or agency, "service_point": point, "commune": commune or ""}
        if date_from <= timezone.localtime(paid_at).date() <= date_to:
            counts[key[group_by]]["paid"] += 1
            counts[key[group_by]]["online"] += method in ("vnpay", "bank_transfer")
    return counts


def _direct_ratings(group_by: str, date_from: dt.date, date_to: dt.date) -> dict[str, Counter]:
    """Ratings and ratings of 4 or 5 straight from the rating rows, on the day
    they were given, by the keys each rating carries."""
    from feedback.models import Rating

    counts: dict[str, Counter] = defaultdict(Counter)
    rows = Rating.objects.filter(day__range=(date_from, date_to)).values_list(
        "agency__code", "service_point__code", "commune__code", "score"
    )
    for agency, point, commune, score in rows:
        key = {"province": "all", "agency": agency, "service_point": point, "commune": commune or ""}[group_by]
        counts[key]["ratings"] += 1
        counts[key]["satisfied"] += score >= 4
    return counts


def _share(part, whole):
    return round(part / whole, 4) if whole else None


@pytest.mark.parametrize("group_by", ["province", "agency", "service_point", "commune"])
def test_indicators_equal_direct_counts(history, official, client_as, group_by):
    date_from, date_to = _period()
    response = client_as(official).get(URL, {"group_by": group_by, "from": date_from, "to": date_to})
    assert response.status_code == 200, response.content
    body = response.json()
    expected = _direct(group_by, date_from, date_to)
    fees = _direct_fees(group_by, date_from, date_to)
    ratings = _direct_ratings(group_by, date_from, date_to)
    assert sum(f["paid"] for f in fees.values()) > 100  # the demo history pays fees
    got = {row["key"]: row for row in body["rows"]}
    assert set(expected) <= set(got)
    if group_by == "service_point":
        assert set(got) >= set(ServicePoint.objects.filter(is_active=True).values_list("code", flat=True))
    if group_by == "commune":
        assert set(got) >= set(
            AdministrativeUnit.objects.filter(era="2025", level="commune").values_list("code", flat=True)
        )
    assert sum(c["received"] for c in expected.values()) > 1000
    for key, row in got.items():
        c = expected.get(key, Counter())
        assert (row["received"], row["online"], row["finished"]) == (c["received"], c["online"], c["finished"]), key
        assert (row["early"], row["on_time"], row["late"]) == (c["early"], c["on_time"], c["late"]), key
        ind = row["indicators"]
        assert ind["online_submission"]["value"] == _share(c["online"], c["received"])
        on_time = _share(c["early"] + c["on_time"], c["finished"])
        assert ind["on_time"]["value"] == on_time
        assert ind["on_time"]["met"] == (None if on_time is None else on_time >= THRESHOLDS["on_time"])
        online = ind["online_submission"]["value"]
        assert ind["online_submission"]["met"] == (None if online is None else online >= 0.5)
        assert ind["avg_processing_days"]["value"] == (round(c["days"] / c["finished"], 2) if c["finished"] else None)
        assert ind["avg_processing_days"]["met"] is None
        f = fees.get(key, Counter())
        assert (row["fees_paid"], row["fees_paid_online"]) == (f["paid"], f["online"]), key
        assert ind["online_payment"]["value"] == _share(f["online"], f["paid"])
        assert bool(ind["online_payment"]["note"]) == (f["paid"] == 0)
        r = ratings.get(key, Counter())
        assert (row["ratings"], row["ratings_satisfied"]) == (r["ratings"], r["satisfied"]), key
        satisfaction = _share(r["satisfied"], r["ratings"])
        assert ind["satisfaction"] == {
            "value": satisfaction,
            "threshold": 0.9,
            "met": None if satisfaction is None else satisfaction >= 0.9,
            "note": None,
        }
    received = [row["received"] for row in body["rows"]]
    assert received == sorted(received, reverse=True)


def test_online_procedures_share(official, client_as):
    body = client_as(official).get(URL, {"group_by": "agency"}).json()
    active = Procedure.objects.filter(is_active=True)
    for row in body["rows"]:
        mine = active.filter(agency__code=row["key"])
        total, full = mine.count(), mine.filter(online_level="full").count()
        value = row["indicators"]["online_procedures"]
        assert value["value"] == (round(full / total, 4) if total else None), row["key"]
        assert value["met"] == (None if not total else full / total >= 0.8)
    assert len(body["rows"]) == Agency.objects.count()
    province = client_as(official).get(URL).json()["rows"][0]
    assert province["key"] == "all"
    total, full = active.count(), active.filter(online_level="full").count()
    assert total > 0
    assert province["indicators"]["online_procedures"]["value"] == round(full / total, 4)
    assert province["procedures_active"] == total and province["procedures_full_online"] == full


@pytest.mark.parametrize("group_by", ["province", "agency", "service_point", "commune"])
def test_satisfaction_is_the_share_of_ratings_of_four_or_five_in_the_period(db, official, client_as, group_by):
    """Ratings of dossiers and of feedback answers, by the day they were given."""
    from feedback.models import Rating

    agencies = list(Agency.objects.order_by("code")[:3])
    points = list(ServicePoint.objects.order_by("code")[:3])
    communes = list(AdministrativeUnit.objects.filter(era="2025", level="commune").order_by("code")[:3])
    date_from, date_to = dt.date(2025, 3, 1), dt.date(2025, 3, 31)
    scores = [5, 4, 3, 5, 1, 4, 5, 2, 5, 4]
    days = [dt.date(2025, 3, 1), dt.date(2025, 3, 15), dt.date(2025, 3, 31), dt.date(2025, 2, 28), dt.date(2025, 4, 1)]
    expected: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for i, score in enumerate(scores * 3):
        day = days[i % len(days)]
        agency, point, commune = agencies[i % 3], points[(i // 3) % 3], communes[(i // 2) % 3]
        # Dossier ratings here (the feedback tests rate answers); the indicator counts both alike.
        Rating.objects.create(
            subject="dossier",
            dossier_id=900_000_000 + i,
            score=score,
            rated_at=timezone.now(),
            day=day,
            agency=agency,
            service_point=point,
            commune=commune,
        )
        if date_from <= day <= date_to:
            key = {"province": "all", "agency": agency.code, "service_point": point.code, "commune": commune.code}
            expected[key[group_by]][0] += 1
            expected[key[group_by]][1] += score >= 4
    body = client_as(official).get(URL, {"group_by": group_by, "from": date_from, "to": date_to}).json()
    got = {row["key"]: row for row in body["rows"]}
    assert sum(total for total, _ in expected.values()) > 5
    for key, (total, satisfied) in expected.items():
        row = got[key]
        assert (row["ratings"], row["ratings_satisfied"]) == (total, satisfied), key
        value = row["indicators"]["satisfaction"]
        assert value["value"] == round(satisfied / total, 4) and value["met"] == (satisfied / total >= 0.9)
    for key, row in got.items():
        if key not in expected:
            assert row["ratings"] == 0 and row["indicators"]["satisfaction"]["value"] is None


def test_thresholds_table():
    keys = [spec["key"] for spec in INDICATORS]
    assert keys == [
        "online_procedures",
        "online_submission",
        "on_time",
        "avg_processing_days",
        "online_payment",
        "satisfaction",
    ]
    assert THRESHOLDS["online_procedures"] == 0.8 and THRESHOLDS["online_submission"] == 0.5
    assert THRESHOLDS["satisfaction"] == 0.9


def test_csv_and_xlsx_exports(history, official, client_as):
    date_from, date_to = _period()
    client = client_as(official)
    params = {"group_by": "service_point", "from": date_from, "to": date_to}
    rows = client.get(URL, params).json()["rows"]

    xlsx = client.get(URL, {**params, "format": "xlsx"})
    assert xlsx.status_code == 200
    assert xlsx["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    table = list(sheet.iter_rows(values_only=True))
    assert table[0][:5] == ("Mã", "Tên", "Hồ sơ tiếp nhận", "Hồ sơ trực tuyến", "Hồ sơ đã giải quyết")
    assert len(table) == len(rows) + 1
    by_code = {line[0]: line for line in table[1:]}
    for row in rows:
        line = by_code[row["key"]]
        assert line[2] == row["received"] and line[4] == row["finished"]
        on_time_col = table[0].index("Tỷ lệ hồ sơ giải quyết trước và đúng hạn (%)")
        value = row["indicators"]["on_time"]["value"]
        assert line[on_time_col] == (None if value is None else round(value * 100, 2))
        met = row["indicators"]["on_time"]["met"]
        assert line[on_time_col + 1] == (None if met is None else ("Đạt" if met else "Chưa đạt"))

    response = client.get(URL, {**params, "format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert lines[0] == list(table[0])
    assert len(lines) == len(rows) + 1
    assert {line[0]: int(line[2]) for line in lines[1:]} == {row["key"]: row["received"] for row in rows}


HOSTILE_NAMES = ['=HYPERLINK("http://x","y")', "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]


@pytest.mark.django_db
def test_exports_neutralise_formulas_in_names(official, client_as):
    """Agencies named like formulas (every agency is a row of group_by=agency,
    dossiers or not) come out as text in CSV and XLSX; Vietnamese names too."""
    for i, name in enumerate(HOSTILE_NAMES):
        Agency.objects.create(code=f"h10-formula-{i}", name=name, kind=Agency.Kind.DEPARTMENT)
    client = client_as(official)
    params = {"group_by": "agency", "from": "2025-01-01", "to": "2025-06-30"}
    expected = {f"h10-formula-{i}": "'" + name for i, name in enumerate(HOSTILE_NAMES)}
    expected["so-tp"] = Agency.objects.get(code="so-tp").name  # Vietnamese, unchanged

    response = client.get(URL, {**params, "format": "csv"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response.content.startswith("\ufeff".encode())
    lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
    labels = {line[0]: line[1] for line in lines[1:]}
    assert {code: labels[code] for code in expected} == expected
    assert not [cell for line in lines for cell in line if cell.startswith(("=", "+", "@", "\t", "\r"))]

    xlsx = client.get(URL, {**params, "format": "xlsx"})
    assert xlsx["X-Content-Type-Options"] == "nosniff"
    cells = {row[0].value: row[1] for row in load_workbook(io.BytesIO(xlsx.content)).active.iter_rows(min_row=2)}
    assert {code: cells[code].value for code in expected} == expected
    assert {cells[code].data_type for code in expected} == {"s"}  # text, not a formula
    received = cells["so-tp"].offset(column=1)
    assert received.data_type == "n" and received.value == 0  # numbers stay numbers


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"group_by": "district"}, {"group_by"}),
        ({"format": "pdf", "from": "2025-1-1x"}, {"format", "from"}),
        ({"from": "2025-06-01", "to": "2025-05-01"}, {"to"}),
    ],
)
def test_bad_parameters_named(official, client_as, params, names):
    response = client_as(official).get(URL, params)
    assert response.status_code == 400
    assert set(response.json()) == names


def test_access_matrix(make_user, client_as, client):
    assert client_as(None).get(URL).status_code == 401
    assert client_as(None).get(URL, {"format": "xlsx"}).status_code == 401
    assert client_as(make_user("p3-ind-citizen")).get(URL).status_code == 403
    for role in ("desk_officer", "processing_officer", "leader", "administrator"):
        assert client_as(make_user(f"p3-ind-{role}", role=role, agency="so-tp")).get(URL).status_code == 200

    assert client.get("/planning/indicators/").status_code == 302
    client.force_login(make_user("p3-ind-citizen-2"))
    assert client.get("/planning/indicators/").status_code == 403


def test_indicators_page(history, make_user, client):
    client.force_login(make_user("p3-ind-page", role="leader", agency="so-tp"))
    date_from, date_to = _period()
    response = client.get("/planning/indicators/", {"group_by": "agency", "from": date_from, "to": date_to})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="indicators-chart"' in html and 'id="indicators-map"' in html
    assert "format=xlsx" in html and "format=csv" in html
    assert "badge met" in html or "badge not-met" in html
    assert html.count('<tr data-key="') == Agency.objects.count()
    assert client.get("/planning/indicators/", {"group_by": "x"}).status_code == 400
