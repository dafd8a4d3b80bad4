"""GET /api/v1/stats/dossiers/: the numbers equal a direct count over the
dossier rows (after a generated history, and after live submissions and
transitions through the services), CSV, access matrix, bad parameters, and
the API reads DailyStat only."""

import csv
import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from gisportal.api import default_period

from .stats_support import direct_counts, history_generate, rate

URL = "/api/v1/stats/dossiers/"
GROUPS = ("none", "agency", "service_point", "procedure", "commune", "channel", "month")


@pytest.fixture
def history(catalogue, points):
    return history_generate(count=3000, seed=21)


@pytest.fixture
def official(people):
    return people.leader


def _get(client, **params):
    response = client.get(URL, params)
    assert response.status_code == 200, response.content
    return response.json()


def _assert_matches_direct(body: dict, group_by: str, date_from: dt.date, date_to: dt.date) -> None:
    expected = direct_counts(group_by, date_from, date_to)
    got = {row["key"]: row for row in body["rows"]}
    # Every group with a dossier is a row; rows without one (empty months) are all zeros.
    assert set(expected) <= set(got), set(expected) - set(got)
    for key, row in got.items():
        counts = expected.get(key)
        if counts is None:
            assert row["received"] == row["finished"] == 0, (group_by, key, row)
            continue
        assert (row["received"], row["online"], row["finished"]) == (
            counts["received"],
            counts["online"],
            counts["finished"],
        ), (group_by, key)
        assert (row["early"], row["on_time"], row["late"]) == (counts["early"], counts["on_time"], counts["late"])
        assert row["online_share"] == rate(counts["online"], counts["received"])
        assert row["on_time_rate"] == rate(counts["early"] + counts["on_time"], counts["finished"])
        assert row["early_rate"] == rate(counts["early"], counts["finished"])
        assert row["late_rate"] == rate(counts["late"], counts["finished"])
        assert row["avg_processing_days"] == rate(counts["days"], counts["finished"], 2)
    total = {m: sum(c[m] for c in expected.values()) for m in ("received", "online", "finished", "early", "late")}
    assert {m: body["totals"][m] for m in total} == total


@pytest.mark.django_db
def test_indicators_equal_a_direct_count_over_the_dossiers(history, client_as, official):
    client = client_as(official)
    today = timezone.localdate()
    periods = [
        default_period(today),
        (today - dt.timedelta(days=700), today),  # nearly the whole history
        (dt.date(today.year - 1, 3, 1), dt.date(today.year - 1, 5, 31)),  # a quarter in the middle
        (today - dt.timedelta(days=200), today - dt.timedelta(days=200)),  # one day
    ]
    assert history["events"] > 3000
    for date_from, date_to in periods:
        for group_by in GROUPS:
            body = _get(client, group_by=group_by, **{"from": date_from.isoformat(), "to": date_to.isoformat()})
            assert (body["from"], body["to"], body["group_by"]) == (
                date_from.isoformat(),
                date_to.isoformat(),
                group_by,
            )
            _assert_matches_direct(body, group_by, date_from, date_to)
    # The whole history is in there: 3,000 received.
    body = _get(client, **{"from": (today - dt.timedelta(days=800)).isoformat()})
    assert body["totals"]["received"] == 3000
    assert 0.6 < body["totals"]["on_time_rate"] <= 1


@pytest.mark.django_db
def test_defaults_are_the_last_twelve_months_without_grouping(history, client_as, official):
    body = _get(client_as(official))
    date_from, date_to = default_period(timezone.localdate())
    assert (body["group_by"], body["from"], body["to"]) == ("none", date_from.isoformat(), date_to.isoformat())
    assert date_from.day == 1 and (date_to.year - date_from.year) * 12 + date_to.month - date_from.month == 11
    assert [row["key"] for row in body["rows"]] == ["all"]
    assert body["rows"][0]["received"] == body["totals"]["received"] > 0


@pytest.mark.django_db
def test_month_rows_list_every_month_in_order(history, client_as, official):
    body = _get(client_as(official), group_by="month", **{"from": "2025-11-15", "to": "2026-02-03"})
    assert [row["key"] for row in body["rows"]] == ["2025-11", "2025-12", "2026-01", "2026-02"]


@pytest.mark.django_db
def test_labels_name_each_group(history, client_as, official, catalogue):
    client = client_as(official)
    agencies = _get(client, group_by="agency", **{"from": "2000-01-01"})["rows"]
    assert {row["key"] for row in agencies} >= {"so-tp"}
    assert next(row for row in agencies if row["key"] == "so-tp")["label"] == "Sở Tư pháp tỉnh Bắc Ninh"
    procedures = {
        row["key"]: row["label"] for row in _get(client, group_by="procedure", **{"from": "2000-01-01"})["rows"]
    }
    assert procedures[catalogue.main.code] == f"{catalogue.main.code} {catalogue.main.name}"
    channels = _get(client, group_by="channel", **{"from": "2000-01-01"})["rows"]
    assert [(row["key"], row["label"]) for row in channels] == [
        ("1", "Trực tiếp / In person"),
        ("2", "Trực tuyến / Online"),
        ("3", "Bưu chính công ích / Public post"),
    ]
    communes = _get(client, group_by="commune", **{"from": "2000-01-01"})["rows"]
    assert all(row["label"].startswith(("Xã ", "Phường ")) for row in communes)
    # Busiest first.
    assert [row["received"] for row in communes] == sorted((row["received"] for row in communes), reverse=True)


@pytest.mark.django_db
def test_live_submissions_and_transitions_are_counted_incrementally(
    history, client_as, official, submit, drive, people, points, catalogue
):
    """The services update DailyStat in the dossier's transaction; the API
    then still equals the direct count, with no rebuild."""
    client = client_as(official)
    today = timezone.localdate()
    before = _get(client, group_by="channel", **{"from": today.isoformat()})
    finals = ["result_returned", "result_ready", "refused", "withdrawn", "processing", "received"]
    for state in finals:
        drive(submit(), state)
    drive(submit(user=people.desk_main, channel=1), "result_returned")
    submit(user=people.desk_commune, procedure_code=catalogue.commune.code, channel=1)
    submit(user=people.post_clerk, channel=3, applicant_commune_code=points.post.admin_unit.code)
    after = _get(client, group_by="channel", **{"from": today.isoformat()})
    assert after["totals"]["received"] == before["totals"]["received"] + 9
    # result_returned twice, result_ready once and refused once are finished today.
    assert after["totals"]["finished"] == before["totals"]["finished"] + 4
    for group_by in GROUPS:
        for date_from in (today, today - dt.timedelta(days=400)):
            body = _get(client, group_by=group_by, **{"from": date_from.isoformat(), "to": today.isoformat()})
            _assert_matches_direct(body, group_by, date_from, today)


@pytest.mark.django_db
def test_csv_has_the_same_rows_and_a_total(history, client_as, official):
    client = client_as(official)
    params = {"group_by": "agency", "from": "2000-01-01"}
    rows = _get(client, **params)["rows"]
    for response in (
        client.get(URL, {**params, "format": "csv"}),
        client.get(URL, params, HTTP_ACCEPT="text/csv"),
    ):
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        assert response["Content-Disposition"].startswith('attachment; filename="dossier-indicators-agency-')
        assert response.content.startswith("\ufeff".encode())
        table = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
        assert [r["key"] for r in table] == [row["key"] for row in rows] + ["total"]
        for line, row in zip(table, rows, strict=False):
            assert line["label"] == row["label"]
            assert int(line["received"]) == row["received"] and int(line["late"]) == row["late"]
            assert line["on_time_rate"] == ("" if row["on_time_rate"] is None else str(row["on_time_rate"]))
        assert int(table[-1]["received"]) == sum(row["received"] for row in rows)


HOSTILE_NAMES = ['=HYPERLINK("http://x","y")', "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]


@pytest.mark.django_db
def test_csv_neutralises_formulas_in_labels(catalogue, submit, client_as, official):
    """Agencies named like formulas, each handling one dossier: their labels
    come out as text; counts stay numbers; Vietnamese labels stay as they are."""
    from dossiers.models import Procedure
    from gisportal.accounts.models import Agency

    for i, name in enumerate(HOSTILE_NAMES):
        agency = Agency.objects.create(code=f"h10-formula-{i}", name=name, kind=Agency.Kind.DEPARTMENT)
        procedure = Procedure.objects.create(
            code=f"9.91000{i}",
            name=f"Thủ tục {i}",
            sector=catalogue.sector,
            agency=agency,
            level="province",
            processing_days=3,
            online_level="full",
            fee_vnd=0,
        )
        submit(procedure_code=procedure.code)
    submit()  # one for so-tp, a Vietnamese name
    response = client_as(official).get(URL, {"group_by": "agency", "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response.content.startswith("\ufeff".encode())
    table = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
    labels = {row["key"]: row["label"] for row in table}
    assert {labels[f"h10-formula-{i}"] for i in range(len(HOSTILE_NAMES))} == {"'" + n for n in HOSTILE_NAMES}
    assert labels["so-tp"] == "Sở Tư pháp tỉnh Bắc Ninh" and labels["total"] == "Tổng / Total"
    assert {row["received"] for row in table if row["key"].startswith("h10-")} == {"1"}
    assert not [v for row in table for v in row.values() if v.startswith(("=", "+", "-", "@", "\t", "\r"))]


@pytest.mark.django_db
def test_the_api_reads_daily_counts_only(history, client_as, official):
    """Its cost follows days × groups, not dossiers: no statement touches the dossier table."""
    client = client_as(official)
    for group_by in GROUPS:
        with CaptureQueriesContext(connection) as queries:
            _get(client, group_by=group_by, **{"from": "2000-01-01"})
        statements = [q["sql"] for q in queries.captured_queries]
        assert not any("dossiers_dossier" in sql for sql in statements), statements
        assert sum("dossiers_dailystat" in sql for sql in statements) == 1
        assert len(statements) <= 4, statements  # session, user, profile: no N+1 over groups


@pytest.mark.django_db
@pytest.mark.parametrize(
    "role, expected",
    [
        (None, 401),
        ("citizen", 403),
        ("desk_officer", 200),
        ("processing_officer", 200),
        ("leader", 200),
        ("administrator", 200),
    ],
)
def test_access_matrix(role, expected, api, make_user, client_as):
    if role is None:
        response = api.get(URL)
    else:
        agency = "so-tp" if role in ("desk_officer", "processing_officer", "leader") else None
        response = client_as(make_user(f"stats_{role}", role=role, agency=agency)).get(URL)
    assert response.status_code == expected, response.content
    if expected != 200:
        assert "rows" not in response.json()


@pytest.mark.django_db
def test_an_official_of_another_agency_sees_the_whole_province(history, client_as, people):
    """Indicators are counts, not personal data: every official sees the province's."""
    mine = _get(client_as(people.processor_other), group_by="agency", **{"from": "2000-01-01"})
    theirs = _get(client_as(people.leader), group_by="agency", **{"from": "2000-01-01"})
    # The two answers may be made either side of a second's boundary.
    made = [dt.datetime.fromisoformat(answer.pop("generated_at")) for answer in (mine, theirs)]
    assert dt.timedelta(0) <= made[1] - made[0] < dt.timedelta(seconds=30)
    assert mine == theirs


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params, names",
    [
        ({"group_by": "district"}, {"group_by"}),
        ({"from": "2025-13-01"}, {"from"}),
        ({"to": "yesterday"}, {"to"}),
        ({"from": "2026-02-01", "to": "2026-01-31"}, {"to"}),
        ({"format": "xml"}, {"format"}),
        ({"group_by": "x", "from": "1/2/2025", "format": "pdf"}, {"group_by", "from", "format"}),
        ({"group_by": "x", "from": "2026-02-01", "to": "2026-01-31"}, {"group_by", "to"}),
    ],
)
def test_bad_parameters_are_400_naming_them(params, names, client_as, people):
    response = client_as(people.leader).get(URL, params)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == names
    for messages in body.values():
        assert all(" / " in m for m in messages)  # Vietnamese / English


@pytest.mark.django_db
def test_bad_parameters_are_json_even_when_csv_is_asked_for(client_as, people):
    response = client_as(people.leader).get(URL, {"format": "csv", "to": "nope"})
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert set(response.json()) == {"to"}
