"""OPTIONS on every URL of the OpenAPI schema, with and without ?format=csv
and Accept: text/csv, as an anonymous caller and as an official, is never
a 5xx. OPTIONS on the indicators with CSV asked for used to render DRF's
metadata through the CSV renderer (KeyError 'totals', a 500)."""

import re

import pytest

pytestmark = pytest.mark.django_db

SAMPLE_PATH_VALUES = {"slug": "schools", "code": "27", "kind": "receipt", "z": "10", "x": "813", "y": "451"}


def _urls(api) -> list[str]:
    paths = api.get("/api/schema/").json()["paths"]
    return [re.sub(r"\{(\w+)\}", lambda m: SAMPLE_PATH_VALUES.get(m.group(1), "1"), path) for path in paths]


def test_options_on_every_schema_url_is_never_a_server_error(api, make_user, client_as):
    official = client_as(make_user("h10_options_leader", role="leader", agency="so-tp"))
    urls = _urls(api)
    assert len(urls) >= 30
    for client in (api, official):
        for url in urls:
            for query, headers in (("", {}), ("?format=csv", {}), ("", {"HTTP_ACCEPT": "text/csv"})):
                response = client.options(url + query, **headers)
                assert response.status_code < 500, (url + query, headers, response.status_code)


def test_options_on_the_indicators_in_csv_answers_json(make_user, client_as):
    official = client_as(make_user("h10_options_desk", role="leader", agency="so-tp"))
    for query, headers in (("?format=csv", {}), ("", {"HTTP_ACCEPT": "text/csv"})):
        response = official.options("/api/v1/stats/dossiers/" + query, **headers)
        assert response.status_code == 200
        assert response["Content-Type"].startswith("application/json")
        assert "text/csv" in response.json()["renders"]
    # GET still gives the CSV.
    response = official.get("/api/v1/stats/dossiers/", {"format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
