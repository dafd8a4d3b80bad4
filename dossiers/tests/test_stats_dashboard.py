"""The indicator dashboard /stats/: officials only, the same numbers as the
API, the CSV link, the charts' data, and bad parameters."""

import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from .stats_support import history_generate

URL = "/stats/"


@pytest.fixture
def history(catalogue, points):
    return history_generate(count=1500, seed=3)


def _client(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.mark.django_db
def test_url_name():
    assert reverse("stats-dashboard") == URL


@pytest.mark.django_db
def test_anonymous_is_sent_to_sign_in_and_citizens_are_refused(people):
    response = _client().get(URL)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert _client(people.citizen_a).get(URL).status_code == 403


@pytest.mark.django_db
def test_page_shows_the_api_numbers_charts_and_csv_link(history, people, client_as):
    params = {"group_by": "procedure", "from": "2000-01-01", "to": "2100-01-01"}
    response = _client(people.desk_commune).get(URL, params)
    assert response.status_code == 200
    page = response.content.decode()
    api = client_as(people.leader).get("/api/v1/stats/dossiers/", params).json()
    # The table: a row per group, keyed as in the API, and the totals.
    assert re.findall(r'<tr data-key="([^"]*)">', page) == [row["key"] for row in api["rows"]]
    totals = re.search(r"<tfoot>\s*<tr>\s*<td>[^<]*</td>\s*<td>(\d+)</td>", page)
    assert int(totals.group(1)) == api["totals"]["received"] == 1500
    # The charts' data, and the vendored Chart.js.
    config = json.loads(re.search(r'<script id="stats-config" type="application/json">(.*?)</script>', page, re.S)[1])
    assert config["groups"]["labels"] == [row["label"] for row in api["rows"]][:15]
    assert config["groups"]["late"] == [row["late"] for row in api["rows"]][:15]
    assert sum(config["months"]["received"]) == 1500
    assert "vendor/chartjs/chart.umd.js" in page and "dossiers/stats.js" in page
    # The CSV link asks the API for the same period and grouping.
    link = re.search(r'<a id="stats-csv" href="([^"]+)"', page)[1].replace("&amp;", "&")
    assert link.startswith("/api/v1/stats/dossiers/?") and "format=csv" in link and "group_by=procedure" in link
    csv_response = _client(people.desk_commune).get(link)
    assert csv_response.status_code == 200 and csv_response["Content-Type"].startswith("text/csv")
    # Works on a phone: the viewport meta of the layout, a scrollable table.
    assert 'name="viewport"' in page and "stats-table-wrap" in page


@pytest.mark.django_db
def test_bad_parameters_show_the_default_period_with_the_errors(people):
    response = _client(people.leader).get(URL, {"group_by": "planet", "from": "2026-05-01", "to": "2026-04-01"})
    assert response.status_code == 400
    page = response.content.decode()
    assert 'role="alert"' in page and "<code>group_by</code>" in page and "<code>to</code>" in page
    assert 'value="none" selected' in page
