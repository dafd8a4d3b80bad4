"""The planning pages' wording, figures and exports (issue #15):

- "overloaded" follows a stated capacity norm (COUNTER_CAPACITY_PER_DAY),
  not the top tenth of the points: 2.45 dossiers per counter per working
  day is not overloaded under the default norm of 32;
- figures are rounded for people (one decimal), the JSON keeps them whole;
- "Received" over counts reads "Hồ sơ tiếp nhận", not a date header;
- every export states its period and when it was generated."""

import csv
import datetime as dt
import io
import json
import re

import pytest
from django.test import Client
from openpyxl import load_workbook

from dossiers.models import DailyStat
from layers.models import ServicePoint

# A Tuesday that is a working day (no holiday): a period of one working day.
DAY = dt.date(2026, 3, 3)
LOAD = "/api/v1/analytics/load/"


@pytest.fixture
def leader(make_user):
    return make_user("w15-leader", role="leader", agency="so-tp")


@pytest.fixture
def busy_point(db):
    """A commune desk with 20 counters that received 49 dossiers on DAY:
    49 / 20 / 1 = 2.45 per counter per working day."""
    point = ServicePoint.objects.filter(is_active=True, kind="commune_desk").order_by("code").first()
    ServicePoint.objects.filter(pk=point.pk).update(counters=20)
    DailyStat.objects.filter(dimension=DailyStat.Dimension.SERVICE_POINT, day=DAY).delete()
    DailyStat.objects.create(day=DAY, dimension=DailyStat.Dimension.SERVICE_POINT, key=point.pk, received=49)
    return point


def _load(client_as, user, **params):
    response = client_as(user).get(LOAD, {"from": DAY.isoformat(), "to": DAY.isoformat(), **params})
    assert response.status_code == 200, response.content
    return response.json()


def test_a_point_at_2_45_per_counter_per_day_is_not_overloaded_under_the_default_norm(
    client_as, leader, busy_point, settings
):
    assert settings.COUNTER_CAPACITY_PER_DAY == 32
    body = _load(client_as, leader)
    assert body["working_days"] == 1 and body["capacity_per_counter_per_day"] == 32
    props = {f["properties"]["code"]: f["properties"] for f in body["features"]}[busy_point.code]
    assert props["received_per_counter_per_day"] == pytest.approx(2.45)
    assert props["rank"] == 1  # the most loaded point of the day, and still not overloaded
    assert not any(f["properties"]["overloaded"] for f in body["features"])


def test_the_norm_is_a_setting_and_only_points_above_it_are_flagged(client_as, leader, busy_point, settings):
    settings.COUNTER_CAPACITY_PER_DAY = 2.45
    body = _load(client_as, leader)
    assert not any(f["properties"]["overloaded"] for f in body["features"])  # equal is not above
    settings.COUNTER_CAPACITY_PER_DAY = 2
    body = _load(client_as, leader)
    flagged = [f["properties"]["code"] for f in body["features"] if f["properties"]["overloaded"]]
    assert flagged == [busy_point.code]
    assert body["capacity_per_counter_per_day"] == 2


def _page(user, url, language, **params):
    client = Client()
    client.force_login(user)
    client.cookies["django_language"] = language
    response = client.get(url, params)
    assert response.status_code == 200
    return response.content.decode()


def test_the_load_page_states_the_norm_rounds_and_names_counts_as_counts(leader, busy_point):
    html = _page(leader, "/planning/load/", "vi", **{"from": DAY.isoformat(), "to": DAY.isoformat()})
    row = re.search(rf'<tr data-code="{re.escape(busy_point.code)}">(.*?)</tr>', html, re.S).group(1)
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", row, re.S)]
    assert cells[2:5] == ["20", "49", "2,5"]  # counters, received, rate to one decimal (Vietnamese comma)
    assert "Hồ sơ tiếp nhận" in html and "Ngày tiếp nhận" not in html
    assert "(quá tải)" not in html  # nothing is above the norm
    assert "hơn 32 hồ sơ mỗi quầy" in html  # the norm, stated on the page
    assert "10 %" not in html and "Một phần mười" not in html

    english = _page(leader, "/planning/load/", "en", **{"from": DAY.isoformat(), "to": DAY.isoformat()})
    assert "more than 32 dossiers per counter per working day" in english
    assert ">2.5<" in english.replace(" ", "")


def test_the_indicators_page_has_no_developer_note_and_one_language(leader):
    html = _page(leader, "/planning/indicators/", "en")
    assert "DOMAIN.md" not in html and "Toàn tỉnh" not in html and "Whole province" in html
    vietnamese = _page(leader, "/planning/indicators/", "vi")
    assert "DOMAIN.md" not in vietnamese and "Toàn tỉnh" in vietnamese and "Whole province" not in vietnamese
    assert "Quyết định 766/QĐ-TTg" in vietnamese


def _csv(response):
    assert response.status_code == 200, response.content
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))


def _is_recent(stamp: str) -> bool:
    from django.utils import timezone

    moment = dt.datetime.fromisoformat(stamp)
    return moment.tzinfo is not None and abs((timezone.now() - moment).total_seconds()) < 300


@pytest.mark.parametrize("group_by", ["province", "agency"])
def test_indicator_exports_state_their_period_and_generation_time(client_as, leader, group_by):
    params = {"group_by": group_by, "from": "2025-01-01", "to": "2025-06-30"}
    client = client_as(leader)
    rows = _csv(client.get("/api/v1/analytics/indicators/", {**params, "format": "csv"}))
    assert rows and {(r["period_from"], r["period_to"]) for r in rows} == {("2025-01-01", "2025-06-30")}
    assert len({r["generated_at"] for r in rows}) == 1 and _is_recent(rows[0]["generated_at"])

    book = load_workbook(io.BytesIO(client.get("/api/v1/analytics/indicators/", {**params, "format": "xlsx"}).content))
    header = [c.value for c in next(book.active.iter_rows(max_row=1))]
    assert header[-3:] == ["period_from", "period_to", "generated_at"]
    about = {row[0].value: row[1].value for row in book["Thông tin - About"].iter_rows()}
    assert about["Kỳ từ ngày / Period from"] == "2025-01-01" and about["Đến ngày / Period to"] == "2025-06-30"
    assert _is_recent(about["Thời điểm lập / Generated at"])
    assert client.get("/api/v1/analytics/indicators/", params).json()["generated_at"]


def test_the_stats_export_states_its_period_and_generation_time(client_as, leader):
    params = {"from": "2025-02-01", "to": "2025-02-28", "format": "csv"}
    rows = _csv(client_as(leader).get("/api/v1/stats/dossiers/", params))
    assert [r["key"] for r in rows][-1] == "total"
    assert {(r["period_from"], r["period_to"]) for r in rows} == {("2025-02-01", "2025-02-28")}
    assert _is_recent(rows[0]["generated_at"])


def test_load_and_coverage_answers_say_when_they_were_computed(client_as, leader, busy_point):
    body = _load(client_as, leader)
    assert body["from"] == body["to"] == DAY.isoformat() and _is_recent(body["generated_at"])
    coverage = client_as(leader).get("/api/v1/analytics/coverage/", {"kind": "commune_desk"}).json()
    assert _is_recent(coverage["generated_at"])


def test_the_coverage_headline_says_how_many_communes_were_left_out(client_as, leader, settings):
    """The page's headline adds the count of communes without population
    (from the API's summary); the sentence is in the page's language."""
    from layers.models import AdministrativeUnit

    def strings(language: str) -> dict:
        client = Client()
        client.cookies["django_language"] = language
        html = client.get("/planning/coverage/").content.decode()
        config = re.search(r'<script id="coverage-config" type="application/json">(.*?)</script>', html, re.S)
        return json.loads(config.group(1))["strings"]

    english, vietnamese = strings("en"), strings("vi")
    assert english["summaryExcluded"] == "{count} communes with unknown population are left out of these figures."
    assert vietnamese["summaryExcluded"] == "{count} xã, phường chưa rõ dân số không được tính vào các số liệu này."

    commune = AdministrativeUnit.objects.filter(level="commune", era="2025").order_by("code").first()
    AdministrativeUnit.objects.filter(pk=commune.pk).update(population=None)
    summary = client_as(None).get("/api/v1/analytics/coverage/", {"kind": "commune_desk"}).json()["summary"]
    assert commune.code in summary["communes_without_population"]
