"""Dossier density: the API's counts equal counts made here independently
(h3 on each dossier's location read from the database; shapely point-in-
polygon on the 2019 communes), filters combine, bad parameters are named,
and only officials get in."""

import datetime as dt
import math
from collections import Counter

import h3
import mapbox_vector_tile
import pytest
import shapely
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dossiers.demo_history import dossier_history_generate
from dossiers.demo_setup import commune_committees_ensure
from dossiers.models import Dossier
from dossiers.tests import conftest as dossier_fixtures
from layers.models import AdministrativeUnit
from maps.density import quantile_breaks

# The dossier tests' fixtures (test catalogue, points, people, `submit` through the service).
catalogue = dossier_fixtures.catalogue
points = dossier_fixtures.points
people = dossier_fixtures.people
submit = dossier_fixtures.submit

URL = "/api/v1/analytics/density/"
WIDE = {"from": "2000-01-01", "to": "2100-01-01"}


@pytest.fixture
def history(db):
    commune_committees_ensure()
    dossier_history_generate(count=3000, years=2, seed=5, with_events=False)


@pytest.fixture
def official(make_user):
    return make_user("density_leader", role="leader", agency="so-tp")


def _rows(**filters):
    """(lon, lat, local date, procedure code, sector code, channel, status) per dossier."""
    zone = timezone.get_current_timezone()
    return [
        (d.location.x, d.location.y, d.received_at.astimezone(zone).date(), d.procedure.code,
         d.procedure.sector.code, d.channel, d.status)
        for d in Dossier.objects.filter(**filters).select_related("procedure__sector")
    ]  # fmt: skip


def _direct_h3(rows, res: int) -> dict[str, int]:
    return dict(Counter(h3.latlng_to_cell(lat, lon, res) for lon, lat, *_ in rows))


def _api_counts(body) -> dict[str, int]:
    return {f["properties"]["cell"]: f["properties"]["count"] for f in body["features"]}


def test_h3_counts_equal_an_independent_count(history, client_as, official):
    client = client_as(official)
    rows = _rows()
    assert len(rows) == 3000
    for res in (6, 8):
        response = client.get(URL, {"cell": "h3", "res": res, **WIDE})
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["type"] == "FeatureCollection"
        assert _api_counts(body) == _direct_h3(rows, res)
        # Each polygon is the cell's own: it contains the cell's centre, in lon/lat order.
        for feature in body["features"]:
            polygon = shapely.geometry.shape(feature["geometry"])
            lat, lon = h3.cell_to_latlng(feature["properties"]["cell"])
            assert polygon.contains(shapely.Point(lon, lat))
        breaks = body["classes"]["breaks"]
        assert breaks == sorted(breaks) and breaks[-1] == max(_api_counts(body).values())


def test_filters_combine(history, client_as, official):
    rows = _rows()
    procedure, channel = Counter((r[3], r[5]) for r in rows).most_common(1)[0][0]
    dates = sorted(r[2] for r in rows)
    date_from, date_to = dates[len(dates) // 4], dates[3 * len(dates) // 4]
    expected = [r for r in rows if r[3] == procedure and r[5] == channel and date_from <= r[2] <= date_to]
    assert 0 < len(expected) < len(rows)
    params = {"res": 8, "procedure": procedure, "channel": channel, "from": date_from, "to": date_to}
    body = client_as(official).get(URL, params).json()
    assert _api_counts(body) == _direct_h3(expected, 8)
    # Sector and status too.
    sector, status = Counter((r[4], r[6]) for r in rows).most_common(1)[0][0]
    expected = [r for r in rows if r[4] == sector and r[6] == status]
    body = client_as(official).get(URL, {"res": 7, "sector": sector, "status": status, **WIDE}).json()
    assert _api_counts(body) == _direct_h3(expected, 7)


def test_default_period_is_the_last_twelve_months(history, client_as, official):
    today = timezone.localdate()
    start = today.replace(year=today.year - 1) + dt.timedelta(days=1)
    expected = [r for r in _rows() if start <= r[2] <= today]
    body = client_as(official).get(URL, {"res": 6}).json()
    assert _api_counts(body) == _direct_h3(expected, 6)


def test_commune_counts_2025_equal_a_direct_count(history, client_as, official):
    body = client_as(official).get(URL, {"cell": "commune", "era": "2025", **WIDE}).json()
    direct = Counter(Dossier.objects.values_list("applicant_commune__code", flat=True))
    got = {f["properties"]["code"]: f["properties"]["count"] for f in body["features"]}
    assert len(got) == AdministrativeUnit.objects.filter(era="2025", level="commune").count()
    assert {k: v for k, v in got.items() if v} == dict(direct)
    for feature in body["features"]:
        props = feature["properties"]
        if props["population"]:
            assert props["rate_per_1000"] == pytest.approx(props["count"] * 1000 / props["population"], abs=1e-3)
        else:
            assert props["rate_per_1000"] is None


def test_commune_counts_2019_equal_a_point_in_polygon_count(history, client_as, official):
    body = client_as(official).get(URL, {"cell": "commune", "era": "2019", "channel": 2, **WIDE}).json()
    online = [shapely.Point(lon, lat) for lon, lat, *_, channel, _status in _rows() if channel == 2]
    # Each point counts once, in the first commune by code whose outline holds
    # it (the old outlines overlap by slivers along a few borders).
    units = [
        (unit.code, shapely.from_wkb(bytes(unit.geom.wkb)))
        for unit in AdministrativeUnit.objects.filter(era="2019", level="commune").order_by("code")
    ]
    expected = dict.fromkeys((code for code, _ in units), 0)
    for point in online:
        first = next((code for code, polygon in units if polygon.intersects(point)), None)
        if first is not None:
            expected[first] += 1
    got = {f["properties"]["code"]: f["properties"]["count"] for f in body["features"]}
    assert got == expected
    assert sum(got.values()) == len(online)  # every demo location lies in an old commune


def test_tile_carries_the_same_counts(history, client_as, official):
    client = client_as(official)
    counts = _api_counts(client.get(URL, {"res": 7, **WIDE}).json())
    # The tile holding the busiest cell's centre, computed with the usual XYZ formulas.
    lat, lon = h3.cell_to_latlng(max(counts, key=counts.get))
    z = 9
    x = int((lon + 180) / 360 * 2**z)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2**z)
    response = client.get(reverse("tiles-analytics-density", kwargs={"z": z, "x": x, "y": y}), {"res": 7, **WIDE})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.mapbox-vector-tile"
    layer = mapbox_vector_tile.decode(response.content)["density"]
    tiled = {f["properties"]["cell"]: f["properties"]["count"] for f in layer["features"]}
    assert tiled and set(tiled.items()) <= set(counts.items())
    assert max(counts, key=counts.get) in tiled
    empty = client.get(reverse("tiles-analytics-density", kwargs={"z": 8, "x": 0, "y": 0}), {"res": 7, **WIDE})
    assert empty.status_code == 204
    bad = client.get(reverse("tiles-analytics-density", kwargs={"z": 3, "x": 9, "y": 0}), {"res": 12})
    assert bad.status_code == 400 and set(bad.json()) == {"x", "res"}


def test_bad_parameters_are_named(client_as, official):
    response = client_as(official).get(
        URL,
        {"cell": "square", "res": "10", "era": "1990", "from": "2025-13-01", "procedure": "nope", "sector": "nope",
         "channel": "4", "status": "lost"},
    )  # fmt: skip
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"cell", "res", "era", "from", "procedure", "sector", "channel", "status"}
    assert all(" / " in message for messages in body.values() for message in messages)
    reversed_period = client_as(official).get(URL, {"from": "2025-05-02", "to": "2025-05-01"})
    assert reversed_period.status_code == 400 and set(reversed_period.json()) == {"to"}


def test_access_matrix(client_as, make_user):
    assert client_as(None).get(URL).status_code == 401
    assert client_as(make_user("density_citizen")).get(URL).status_code == 403
    for role in ("desk_officer", "processing_officer", "leader", "administrator"):
        assert (
            client_as(make_user(f"density_{role}", role=role, agency=None if role == "administrator" else "so-tp"))
            .get(URL)
            .status_code
            == 200
        )


def test_page_renders_for_officials_only(client, make_user):
    page = reverse("planning-density")
    assert page == "/planning/density/"
    assert client.get(page).status_code == 302  # to the login page
    client.force_login(make_user("density_page_citizen"))
    assert client.get(page).status_code == 403
    client.force_login(make_user("density_page_leader", role="leader", agency="so-tp"))
    response = client.get(page)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="density-form"' in html and "maps/density.js" in html and URL in html


def test_h3_fields_set_through_the_service(submit):
    dossier = submit(lon=106.07, lat=21.18)
    dossier.refresh_from_db()
    assert dossier.location is not None
    for res in (6, 7, 8, 9):
        expected = h3.latlng_to_cell(dossier.location.y, dossier.location.x, res)
        assert getattr(dossier, f"h3_r{res}") == int(expected, 16)


def test_h3_fields_set_for_the_demo_history(history):
    for dossier in Dossier.objects.all()[:200]:
        assert dossier.h3_r9 == int(h3.latlng_to_cell(dossier.location.y, dossier.location.x, 9), 16)
        assert dossier.h3_r6 == int(h3.latlng_to_cell(dossier.location.y, dossier.location.x, 6), 16)
    assert not Dossier.objects.filter(h3_r8__isnull=True).exists()


def test_quantile_breaks():
    assert quantile_breaks([]) == []
    assert quantile_breaks([3, 3, 3]) == [3]
    assert quantile_breaks(list(range(1, 11))) == [2, 4, 6, 8, 10]


NAMES = ["cell", "res", "era", "from", "to", "procedure", "sector", "channel", "status"]
hostile = st.one_of(
    st.text(max_size=30),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.sampled_from(["0001-01-01", "9999-12-31", "2025-02-30", "h3", "commune", "2019", "2025", "8", "2", "\x00"]),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_query_string_causes_a_server_error(client_as, official, data):
    chosen = data.draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=len(NAMES)))
    params = {name: data.draw(hostile) for name in chosen}
    response = client_as(official).get(URL, params)
    assert response.status_code in (200, 400), (params, response.status_code)
    if response.status_code == 400:
        assert set(response.json()) <= set(params), (params, response.json())
