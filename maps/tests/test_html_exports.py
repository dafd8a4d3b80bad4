"""format=html on the planning map APIs (density, coverage, load, Decision
766 indicators): a standalone file (no request leaves it), its legend and
period, the same figures as the JSON answer, bad parameters named, and the
access rules of each API."""

import datetime as dt
import html as html_module
import re

import pytest

from dossiers.demo_history import dossier_history_generate
from dossiers.demo_setup import commune_committees_ensure
from layers.models import AdministrativeUnit
from tests.htmlmaps import drawn_features, external_references

DENSITY = "/api/v1/analytics/density/"
COVERAGE = "/api/v1/analytics/coverage/"
LOAD = "/api/v1/analytics/load/"
INDICATORS = "/api/v1/analytics/indicators/"
PERIOD = {"from": "2025-01-01", "to": "2025-12-31"}


@pytest.fixture
def history(db):
    commune_committees_ensure()
    dossier_history_generate(count=600, years=2, seed=7, with_events=False)


@pytest.fixture
def leader(make_user, client_as):
    return client_as(make_user("html_leader", role="leader", agency="so-tp"))


def _html(response) -> str:
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment;")
    assert ".html" in response["Content-Disposition"]
    assert "sandbox" in response["Content-Security-Policy"]
    html = response.content.decode()
    assert external_references(html) == []
    for host in ("cdn.jsdelivr.net", "code.jquery.com", "cdnjs.cloudflare.com", "bootstrapcdn.com", "unpkg.com"):
        assert host not in html
    assert "L.map(" in html  # Leaflet itself is inside
    return html


def _communes_2025() -> int:
    return AdministrativeUnit.objects.filter(era="2025", level="commune").count()


def test_density_per_commune_html_draws_the_json_counts(history, leader):
    query = {"cell": "commune", **PERIOD}
    counts = {f["id"]: f["properties"]["count"] for f in leader.get(DENSITY, query).json()["features"]}
    html = _html(leader.get(DENSITY, {**query, "format": "html", "lang": "en"}))
    drawn = drawn_features(html)
    assert len(drawn) == _communes_2025() == len(counts)
    assert sum(f["properties"]["count"] for f in drawn) == sum(counts.values()) > 0
    assert "Dossiers received per commune" in html
    assert "2025-01-01 – 2025-12-31" in html
    assert "Generated" in html and "© dvhcvn" in html


def test_density_h3_html_in_vietnamese_and_bad_format_named(history, leader):
    html = _html(leader.get(DENSITY, {"res": 7, **PERIOD, "format": "html"}))
    json_cells = leader.get(DENSITY, {"res": 7, **PERIOD}).json()["features"]
    assert len(drawn_features(html)) == len(json_cells) > 0
    # Title and legend, in Vietnamese by default.
    assert "Số hồ sơ tiếp nhận theo ô H3" in html and "Hồ sơ tiếp nhận" in html
    bad = leader.get(DENSITY, {"format": "pdf"})
    assert bad.status_code == 400 and "format" in bad.json()


def test_density_html_stays_for_officials(history, client_as, make_user):
    assert client_as(None).get(DENSITY, {"format": "html"}).status_code == 401
    citizen = client_as(make_user("html_citizen"))
    assert citizen.get(DENSITY, {"format": "html"}).status_code == 403


def test_coverage_html_shares_match_json_and_property_escaped(db, client_as):
    anonymous = client_as(None)
    query = {"kind": "post_office", "radius_m": 2000, "era": "2025"}
    shares = {c["code"]: c["share"] for c in anonymous.get(COVERAGE, query).json()["communes"]}
    html = _html(anonymous.get(COVERAGE, {**query, "format": "html", "lang": "en"}))
    drawn = drawn_features(html)
    assert len(drawn) == len(shares)
    drawn_shares = sorted(f["properties"]["share_percent"] for f in drawn)
    assert drawn_shares == sorted(round(s * 100, 1) for s in shares.values())
    assert "Coverage share" in html and "map of 2025" in html
    # The classes of the legend with their unit.
    assert "≤ 20" in html and "80 – 100" in html and "(%)" in html


def test_load_html_one_point_per_service_point(history, leader):
    data = leader.get(LOAD, PERIOD).json()
    html = _html(leader.get(LOAD, {**PERIOD, "format": "html", "lang": "en"}))
    drawn = drawn_features(html)
    assert len(drawn) == len(data["features"]) > 0
    assert {f["geometry"]["type"] for f in drawn} == {"Point"}
    assert "Received per counter per working day" in html and "2025-01-01 – 2025-12-31" in html


def test_indicators_html_per_commune_and_group_by_named(history, leader):
    html = _html(leader.get(INDICATORS, {**PERIOD, "format": "html", "lang": "en"}))
    rows = leader.get(INDICATORS, {**PERIOD, "group_by": "commune"}).json()["rows"]
    drawn = drawn_features(html)
    assert len(drawn) == _communes_2025()
    assert sum(f["properties"]["received"] for f in drawn) == sum(r["received"] for r in rows if r["key"])
    assert "Done early or on time (%)" in html
    bad = leader.get(INDICATORS, {**PERIOD, "format": "html", "group_by": "agency"})
    assert bad.status_code == 400
    assert set(bad.json()) == {"group_by"} and " / " in bad.json()["group_by"][0]


def test_period_is_the_one_asked(history, leader):
    today = dt.date.today()
    html = _html(leader.get(LOAD, {"from": "2025-03-01", "to": "2025-03-31", "format": "html"}))
    assert "2025-03-01 – 2025-03-31" in html
    assert today.isoformat()[:4] in html  # generated at


def test_pages_link_their_html_map(history, make_user, client):
    client.force_login(make_user("html_page_leader", role="leader", agency="so-tp"))
    for page, link_id in [
        ("/planning/load/", "load-html"),
        ("/planning/indicators/", "ind-html"),
        ("/planning/density/", "density-html"),
        ("/planning/coverage/", "coverage-html"),
    ]:
        body = client.get(page).content.decode()
        match = re.search(rf'id="{link_id}" href="([^"]+)"', body)
        assert match, page
        href = html_module.unescape(match.group(1))
        assert "format=html" in href
        response = client.get(href)
        assert response.status_code == 200 and response["Content-Type"] == "text/html; charset=utf-8", page
        assert drawn_features(response.content.decode()), page
