"""GET /api/v1/analytics/load/ and /accessibility/ and the /planning/load/
page: load numbers equal a direct count over the dossier rows, working days
an independent numpy count, 2SFCA an independent numpy + pyproj computation;
bad parameters 400 naming them; access matrix."""

import datetime as dt
from collections import Counter

import holidays
import numpy as np
import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Geod

from dossiers.demo_history import dossier_history_generate
from dossiers.demo_setup import commune_committees_ensure
from dossiers.models import OPEN_STATUSES, CalendarException, Dossier
from layers.models import AdministrativeUnit, ServicePoint
from layers.selectors import units_valid_on
from maps.load import working_days_count

LOAD = "/api/v1/analytics/load/"
ACCESS = "/api/v1/analytics/accessibility/"


@pytest.fixture
def history(db):
    commune_committees_ensure()
    dossier_history_generate(count=3000, years=2, seed=31)


@pytest.fixture
def official(make_user):
    return make_user("p3-leader", role="leader", agency="so-tp")


def _independent_working_days(date_from: dt.date, date_to: dt.date) -> int:
    """numpy busday_count with the VN public holidays, the make-up Saturdays the
    government declared (holidays' weekend_workdays) and the calendar exceptions."""
    vn = holidays.country_holidays("VN", years=range(date_from.year, date_to.year + 1))
    exceptions = dict(CalendarException.objects.values_list("date", "kind"))
    off = [d for d in vn if d not in exceptions] + [d for d, k in exceptions.items() if k == "day_off"]
    count = int(np.busday_count(date_from, date_to + dt.timedelta(days=1), holidays=off))
    worked = {d for d, k in exceptions.items() if k == "working_day"} | (set(vn.weekend_workdays) - set(exceptions))
    return count + sum(1 for d in worked if date_from <= d <= date_to and d.weekday() >= 5)


def test_working_days_against_numpy_and_hand_count(db):
    # 10-23 March 2025: two plain weeks, no holiday.
    if not CalendarException.objects.filter(date__range=(dt.date(2025, 3, 10), dt.date(2025, 3, 23))).exists():
        assert working_days_count(date_from=dt.date(2025, 3, 10), date_to=dt.date(2025, 3, 23)) == 10
    for first, last in [
        (dt.date(2025, 1, 1), dt.date(2025, 12, 31)),  # Tết, 30 April, 1 May, 2 September; Saturday 26 April worked
        (dt.date(2024, 6, 3), dt.date(2024, 9, 30)),
        (dt.date(2026, 2, 1), dt.date(2026, 2, 28)),
    ]:
        assert working_days_count(date_from=first, date_to=last) == _independent_working_days(first, last)


def test_load_equals_direct_count(history, official, client_as):
    today = timezone.localdate()
    date_from, date_to = today - dt.timedelta(days=200), today - dt.timedelta(days=20)
    response = client_as(official).get(LOAD, {"from": date_from.isoformat(), "to": date_to.isoformat()})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["type"] == "FeatureCollection"
    working_days = _independent_working_days(date_from, date_to)
    assert body["working_days"] == working_days

    received, finished, late, queue = Counter(), Counter(), Counter(), Counter()
    for code, received_at, finished_at, timeliness, status in Dossier.objects.values_list(
        "receiving_point__code", "received_at", "finished_at", "timeliness", "status"
    ):
        if date_from <= timezone.localtime(received_at).date() <= date_to:
            received[code] += 1
        if finished_at and date_from <= timezone.localtime(finished_at).date() <= date_to:
            finished[code] += 1
            late[code] += timeliness == "late"
        if status in OPEN_STATUSES:
            queue[code] += 1
    assert sum(received.values()) > 500  # the period really holds dossiers

    counters = dict(ServicePoint.objects.filter(is_active=True).values_list("code", "counters"))
    got = {f["properties"]["code"]: f["properties"] for f in body["features"]}
    assert set(got) == set(counters)
    for code, props in got.items():
        assert props["received"] == received[code], code
        assert props["open_queue"] == queue[code], code
        assert props["working_days"] == working_days
        expected_rate = received[code] / counters[code] / working_days
        assert props["received_per_counter_per_day"] == pytest.approx(expected_rate, abs=1e-4)
        if finished[code]:
            assert props["late_share"] == pytest.approx(late[code] / finished[code], abs=1e-4)
        else:
            assert props["late_share"] is None

    # Ranked by load; flagged exactly when above the capacity norm (not a share of the points).
    rates = [f["properties"]["received_per_counter_per_day"] for f in body["features"]]
    assert rates == sorted(rates, reverse=True)
    norm = body["capacity_per_counter_per_day"]
    assert norm == django_settings.COUNTER_CAPACITY_PER_DAY
    flagged = {f["properties"]["code"] for f in body["features"] if f["properties"]["overloaded"]}
    assert flagged == {code for code in counters if received[code] / counters[code] / working_days > norm}


def test_load_kind_filter(history, official, client_as):
    body = client_as(official).get(LOAD, {"kind": "post_office"}).json()
    kinds = {f["properties"]["kind"] for f in body["features"]}
    assert kinds == {"post_office"}
    assert len(body["features"]) == ServicePoint.objects.filter(is_active=True, kind="post_office").count()


def _independent_2sfca(*, on: dt.date, radius: float, kind: str | None) -> dict[str, float | None]:
    geod = Geod(ellps="WGS84")
    units = list(units_valid_on(on).filter(level="commune").order_by("code").values_list("id", "code", "population"))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) "
            "FROM layers_administrativeunit WHERE id = ANY(%s)",
            [[u[0] for u in units]],
        )
        reps = {pk: (x, y) for pk, x, y in cursor.fetchall()}
    points = ServicePoint.objects.filter(is_active=True)
    if kind:
        points = points.filter(kind=kind)
    points = list(points.values_list("geom", "counters"))
    c_lon = np.array([reps[u[0]][0] for u in units])
    c_lat = np.array([reps[u[0]][1] for u in units])
    pop = np.array([np.nan if u[2] is None else float(u[2]) for u in units])
    p_lon = np.array([g.x for g, _ in points])
    p_lat = np.array([g.y for g, _ in points])
    counters = np.array([float(c) for _, c in points])
    # distance matrix communes x points
    lon1, lon2 = np.meshgrid(c_lon, p_lon, indexing="ij")
    lat1, lat2 = np.meshgrid(c_lat, p_lat, indexing="ij")
    _, _, dist = geod.inv(lon1.ravel(), lat1.ravel(), lon2.ravel(), lat2.ravel())
    within = dist.reshape(lon1.shape) <= radius
    demand = np.where(np.isnan(pop)[:, None], 0.0, pop[:, None] * within).sum(axis=0)
    ratio = np.divide(counters, demand, out=np.zeros_like(counters), where=demand > 0)
    access = (within * ratio[None, :]).sum(axis=1) * 10_000
    return {u[1]: (None if np.isnan(pop[i]) else float(access[i])) for i, u in enumerate(units)}


@pytest.mark.parametrize(("radius", "kind"), [(5000, None), (8000, "post_office"), (3000, "commune_desk")])
def test_accessibility_equals_numpy_pyproj(official, client_as, radius, kind):
    on = dt.date(2025, 9, 1)
    params = {"radius_m": radius, "on": on.isoformat(), **({"kind": kind} if kind else {})}
    response = client_as(official).get(ACCESS, params)
    assert response.status_code == 200, response.content
    got = {f["properties"]["code"]: f["properties"] for f in response.json()["features"]}
    expected = _independent_2sfca(on=on, radius=radius, kind=kind)
    assert set(got) == set(expected) and len(got) == 99
    positive = 0
    for code, value in expected.items():
        if value is None:
            assert got[code]["accessibility"] is None
        else:
            assert got[code]["accessibility"] == pytest.approx(value, rel=1e-6, abs=1e-12), code
            positive += value > 0
    assert positive > 10


def test_accessibility_unknown_population_left_out(official, client_as):
    on = dt.date(2025, 9, 1)
    commune = units_valid_on(on).filter(level="commune").exclude(population=None).order_by("code").first()
    AdministrativeUnit.objects.filter(pk=commune.pk).update(population=None)
    body = client_as(official).get(ACCESS, {"radius_m": 6000, "on": on.isoformat()}).json()
    props = next(f["properties"] for f in body["features"] if f["properties"]["code"] == commune.code)
    assert props["population"] is None and props["accessibility"] is None
    expected = _independent_2sfca(on=on, radius=6000, kind=None)
    for feature in body["features"]:
        value = expected[feature["properties"]["code"]]
        if value is not None:
            assert feature["properties"]["accessibility"] == pytest.approx(value, rel=1e-6, abs=1e-12)


@pytest.mark.parametrize(
    ("url", "params", "names"),
    [
        (LOAD, {"from": "2025-13-01"}, {"from"}),
        (LOAD, {"from": "2025-05-01", "to": "2025-04-01"}, {"to"}),
        (LOAD, {"kind": "castle", "to": "yesterday"}, {"kind", "to"}),
        (ACCESS, {"radius_m": "far"}, {"radius_m"}),
        (ACCESS, {"radius_m": "-5", "kind": "x", "on": "2025-02-30"}, {"radius_m", "kind", "on"}),
    ],
)
def test_bad_parameters_named(official, client_as, url, params, names):
    response = client_as(official).get(url, params)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == names
    assert all(" / " in m for messages in body.values() for m in messages)


@pytest.mark.parametrize("url", [LOAD, ACCESS])
def test_api_access_matrix(make_user, client_as, url):
    assert client_as(None).get(url).status_code == 401
    assert client_as(make_user("p3-citizen")).get(url).status_code == 403
    for role in ("desk_officer", "processing_officer", "leader", "administrator"):
        assert client_as(make_user(f"p3-{role}", role=role, agency="so-tp")).get(url).status_code == 200, role


def test_load_page(history, make_user, client):
    assert client.get("/planning/load/").status_code == 302  # to the login page
    client.force_login(make_user("p3-citizen-page"))
    assert client.get("/planning/load/").status_code == 403
    client.force_login(make_user("p3-desk", role="desk_officer", agency="so-tp"))
    response = client.get("/planning/load/", {"kind": "commune_desk"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="load-map"' in html and 'id="load-config"' in html and "overloaded" in html
    assert html.count("<tr") == ServicePoint.objects.filter(is_active=True, kind="commune_desk").count() + 1
    bad = client.get("/planning/load/", {"from": "nope"})
    assert bad.status_code == 400 and "from" in bad.content.decode()


_ODD = st.one_of(
    st.text(max_size=30),
    st.just("0001-01-01"),
    st.just("9999-12-31"),
    st.just("2025-02-30"),
    st.just("nan"),
    st.just("1e308"),
    st.sampled_from(["post_office", "commune_desk", "provincial_centre", "json", "csv", "xlsx", "commune"]),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_query_string_causes_a_server_error(official, client_as, data):
    url, names = data.draw(
        st.sampled_from(
            [
                (LOAD, ["from", "to", "kind"]),
                (ACCESS, ["kind", "radius_m", "on"]),
                ("/api/v1/analytics/indicators/", ["group_by", "from", "to", "format"]),
            ]
        )
    )
    params = {name: data.draw(_ODD) for name in data.draw(st.lists(st.sampled_from(names), unique=True))}
    response = client_as(official).get(url, params)
    assert response.status_code in (200, 400), (url, params, response.content[:300])
    if response.status_code == 400:
        assert set(response.json()) <= set(params)
