"""The postal map's figures against an independent computation: the
commune of each delivery address by shapely containment in the stored 2025
polygons, working days with numpy's business-day count (the weeks chosen
hold no Vietnamese holiday, which the test checks), the median with
Python's statistics; and parcels in progress at their last known place."""

import datetime as dt
import statistics
from collections import defaultdict

import holidays
import numpy as np
import pytest
from shapely import wkb
from shapely.geometry import Point as ShapelyPoint

from dossiers.models import CalendarException
from dossiers.tests.conftest import local
from layers.models import AdministrativeUnit, ServicePoint
from postal.models import Shipment

from .conftest import KINH_BAC, callback_body

# Delivery addresses: two in Kinh Bắc ward, one in the ward of Bắc Giang, one
# in Vũ Ninh (the map decides where they lie, not the codes written here).
PLACES = {"kb1": KINH_BAC, "kb2": (106.0700, 21.1850), "bg": (106.1950, 21.2730), "vn": (106.0900, 21.1900)}
# March 2027 holds no Vietnamese holiday.
MON, TUE, WED, THU, FRI, NEXT_MON = (dt.date(2027, 3, d) for d in (1, 2, 3, 4, 5, 8))

# (place, handed over, then the carrier's reports after it)
JOURNEYS = [
    ("kb1", MON, [("delivered", WED)]),
    ("kb2", TUE, [("delivery_failed", WED), ("delivered", FRI)]),
    ("bg", MON, [("delivered", NEXT_MON)]),
    ("bg", THU, [("delivery_failed", FRI), ("delivery_failed", NEXT_MON), ("returned", NEXT_MON)]),
    ("vn", WED, [("delivered", WED)]),
]


def _commune_of(lon: float, lat: float, polygons: dict) -> str:
    found = [code for code, polygon in polygons.items() if polygon.contains(ShapelyPoint(lon, lat))]
    assert len(found) == 1, found
    return found[0]


@pytest.fixture
def polygons(db) -> dict:
    return {
        u.code: wkb.loads(bytes(u.geom.wkb))
        for u in AdministrativeUnit.objects.filter(era="2025", level="commune").only("code", "geom")
    }


def test_deliveries_by_commune_match_an_independent_computation(shipped, post_callback, client_as, people, polygons):
    assert not CalendarException.objects.filter(date__range=(MON, NEXT_MON)).exists()
    assert not [d for d in holidays.country_holidays("VN", years=2027) if MON <= d <= NEXT_MON]
    expected: dict[str, dict] = defaultdict(lambda: {"ended": 0, "delivered": 0, "failed": 0, "days": []})
    for place, handed, reports in JOURNEYS:
        lon, lat = PLACES[place]
        shipment = shipped(delivery_lon=lon, delivery_lat=lat)
        post_callback(callback_body(shipment, "picked_up", local(handed.year, handed.month, handed.day, 9)))
        for status, day in reports:
            assert (
                post_callback(callback_body(shipment, status, local(day.year, day.month, day.day, 14))).status_code
                == 200
            )
        figures = expected[_commune_of(lon, lat, polygons)]
        figures["ended"] += 1
        final = reports[-1]
        figures["failed"] += any(status != "delivered" for status, _ in reports)
        if final[0] == "delivered":
            figures["delivered"] += 1
            # Working days d with handed < d <= delivered.
            figures["days"].append(int(np.busday_count(handed + dt.timedelta(days=1), final[1] + dt.timedelta(days=1))))
    assert len(expected) == 3  # the places lie in three communes

    response = client_as(people.leader).get("/api/v1/analytics/deliveries/", {"from": "2027-03-01", "to": "2027-03-31"})
    assert response.status_code == 200
    got = {f["properties"]["code"]: f["properties"] for f in response.json()["features"] if f["properties"]["ended"]}
    assert set(got) == set(expected)
    for code, figures in expected.items():
        row = got[code]
        assert (row["ended"], row["delivered"], row["failed"]) == (
            figures["ended"],
            figures["delivered"],
            figures["failed"],
        )
        assert row["failure_rate"] == pytest.approx(figures["failed"] / figures["ended"], abs=1e-4)
        assert row["median_working_days"] == (statistics.median(figures["days"]) if figures["days"] else None)
    # Outside the period: nothing ended.
    before = client_as(people.leader).get("/api/v1/analytics/deliveries/", {"from": "2027-01-01", "to": "2027-02-28"})
    assert not [f for f in before.json()["features"] if f["properties"]["ended"]]


def test_parcels_in_progress_are_where_they_were_last_seen(
    shipped, submit, run_carrier_jobs, post_callback, client_as, people, polygons, django_assert_max_num_queries
):
    at_office = shipped()
    post_callback(callback_body(at_office, "in_transit", local(2027, 3, 2, 9), post_office="POST-09187"))
    at_desk = shipped()  # ready, not handed over yet: at the desk
    inbound_dossier = submit(postal_pickup="home", lon=PLACES["bg"][0], lat=PLACES["bg"][1])
    run_carrier_jobs()
    at_home = Shipment.objects.get(dossier=inbound_dossier)  # waiting for the postal worker, at the address
    delivered = shipped()
    post_callback(callback_body(delivered, "delivered", local(2027, 3, 2, 9)))

    with django_assert_max_num_queries(6):
        response = client_as(people.leader).get("/api/v1/analytics/shipments/")
    assert response.status_code == 200
    by_id = {f["id"]: f for f in response.json()["features"]}
    assert delivered.pk not in by_id  # delivered: no longer on its way
    office = ServicePoint.objects.get(code="POST-09187").geom
    assert by_id[at_office.pk]["geometry"]["coordinates"] == pytest.approx([office.x, office.y], abs=1e-6)
    assert by_id[at_office.pk]["properties"]["placed_at"] == "post_office"
    desk = at_desk.dossier.receiving_point.geom
    assert by_id[at_desk.pk]["geometry"]["coordinates"] == pytest.approx([desk.x, desk.y], abs=1e-6)
    home = by_id[at_home.pk]
    assert home["properties"]["placed_at"] == "commune"
    assert _commune_of(*home["geometry"]["coordinates"], polygons) == _commune_of(*PLACES["bg"], polygons)
    for feature in by_id.values():  # no personal data on the map
        assert not {"receiver_name", "address", "tracking_number"} & set(feature["properties"])


def test_the_map_apis_refuse_bad_parameters_naming_them(client_as, people):
    client = client_as(people.leader)
    assert list(client.get("/api/v1/analytics/shipments/", {"leg": "sideways"}).json()) == ["leg"]
    assert list(client.get("/api/v1/analytics/shipments/", {"status": "delivered"}).json()) == ["status"]
    bad = client.get("/api/v1/analytics/deliveries/", {"from": "2027-03-31", "to": "2027-03-01"})
    assert bad.status_code == 400 and list(bad.json()) == ["to"]


def test_the_planning_page_draws_the_deliveries(client, people):
    client.force_login(people.leader)
    page = client.get("/planning/postal/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="postal-map"' in html and "leaflet.markercluster.js" in html and "postal-config" in html
