"""Submitting with the public post (Decision 45/2016): the dossier sent by
post (collected at home, or dropped at a post office), the result received
by post at a located address, or both; procedures the catalogue keeps from
the post are refused naming the field; an inbound shipment is ordered when
the dossier is received. Through the API, as clients call it."""

import json

import pytest
from shapely import wkb
from shapely.geometry import Point as ShapelyPoint

from dossiers.models import Dossier, DossierEvent
from layers.models import AdministrativeUnit
from postal.models import CarrierRequest, Shipment

from .conftest import KINH_BAC

URL = "/api/v1/dossiers/"


def _commune_containing(lon: float, lat: float) -> str:
    """The 2025 commune around a place, by shapely on the stored polygons."""
    point = ShapelyPoint(lon, lat)
    found = [
        u.code
        for u in AdministrativeUnit.objects.filter(era="2025", level="commune").only("code", "geom")
        if wkb.loads(bytes(u.geom.wkb)).contains(point)
    ]
    assert len(found) == 1
    return found[0]


def test_a_dossier_collected_at_home_is_received_with_its_inbound_shipment(client_as, people, api_payload):
    body = api_payload(postal_pickup="home", pickup_address="Số 7 Lý Thái Tổ", lon=KINH_BAC[0], lat=KINH_BAC[1])
    response = client_as(people.citizen_a).post(URL, body, format="json")
    assert response.status_code == 201, response.content
    detail = response.json()
    assert (detail["postal_pickup"], detail["pickup_address"], detail["pickup_point"]) == (
        "home",
        "Số 7 Lý Thái Tổ",
        None,
    )
    shipment = Shipment.objects.get(dossier__code=detail["code"])
    assert (shipment.leg, shipment.pickup_mode, shipment.status) == ("inbound", "home", "pending")
    assert (shipment.sender_name, shipment.sender_address) == ("Nguyễn Văn A", "Số 7 Lý Thái Tổ")
    assert shipment.sender_units["commune"] == _commune_containing(*KINH_BAC)
    assert shipment.receiver_name == people.desk_main.profile.service_point.name
    assert CarrierRequest.objects.get(shipment=shipment).status == "queued"


def test_a_dossier_dropped_at_a_post_office_names_it(client_as, people, api_payload, points):
    body = api_payload(postal_pickup="post_office", pickup_point=points.post.code)
    response = client_as(people.citizen_a).post(URL, body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["pickup_point"]["code"] == points.post.code
    shipment = Shipment.objects.get(dossier__code=response.json()["code"])
    assert (shipment.pickup_mode, shipment.pickup_point_id) == ("post_office", points.post.pk)


def test_home_pickup_defaults_to_the_applicants_address(client_as, people, api_payload):
    response = client_as(people.citizen_a).post(URL, api_payload(postal_pickup="home"), format="json")
    assert response.status_code == 201
    assert response.json()["pickup_address"] == "Số 1 đường Lý Thái Tổ, Bắc Ninh"


def test_the_result_address_is_located_by_a_point_and_its_commune(client_as, people, api_payload):
    body = api_payload(
        result_delivery="post", delivery_address="Số 2 Ngô Gia Tự", delivery_lon=KINH_BAC[0], delivery_lat=KINH_BAC[1]
    )
    response = client_as(people.citizen_a).post(URL, body, format="json")
    assert response.status_code == 201, response.content
    detail = response.json()
    assert detail["delivery_location"] == {"type": "Point", "coordinates": list(KINH_BAC)}
    assert detail["delivery_commune"]["code"] == _commune_containing(*KINH_BAC)
    assert not Shipment.objects.filter(dossier__code=detail["code"]).exists()  # not before the result is ready


@pytest.mark.parametrize("form", ["json", "multipart"])
def test_both_places_may_be_geojson_points(client_as, people, api_payload, form):
    """`location` and `delivery_location` as GeoJSON Points (in a form, their
    JSON text) locate the applicant and the result address as the number pairs do."""
    point = {"type": "Point", "coordinates": list(KINH_BAC)}
    sent = point if form == "json" else json.dumps(point)
    body = api_payload(
        result_delivery="post", delivery_address="Số 2 Ngô Gia Tự", location=sent, delivery_location=sent
    )
    response = client_as(people.citizen_a).post(URL, body, format=form)
    assert response.status_code == 201, response.content
    detail = response.json()
    assert detail["location"]["coordinates"] == [pytest.approx(KINH_BAC[0]), pytest.approx(KINH_BAC[1])]
    assert detail["delivery_location"] == {"type": "Point", "coordinates": list(KINH_BAC)}
    assert detail["delivery_commune"]["code"] == _commune_containing(*KINH_BAC)


def test_a_typed_commune_alone_locates_the_result_address(client_as, people, api_payload):
    body = api_payload(result_delivery="post", delivery_address="Số 2 Ngô Gia Tự", delivery_commune="09187")
    response = client_as(people.citizen_a).post(URL, body, format="json")
    assert response.status_code == 201
    assert (response.json()["delivery_commune"]["code"], response.json()["delivery_location"]) == ("09187", None)


def test_existing_clients_still_submit_without_the_postal_fields(client_as, people, api_payload):
    body = api_payload(result_delivery="post", delivery_address="Số 2 Ngô Gia Tự")
    response = client_as(people.citizen_a).post(URL, body, format="json")
    assert response.status_code == 201
    assert response.json()["postal_pickup"] is None and response.json()["delivery_commune"] is None


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"postal_pickup": "by_pigeon"}, "postal_pickup"),
        ({"postal_pickup": "post_office"}, "pickup_point"),
        ({"postal_pickup": "post_office", "pickup_point": "CENTRE-MAIN"}, "pickup_point"),  # not a post office
        ({"postal_pickup": "home", "pickup_point": "POST-09187"}, "pickup_point"),
        ({"pickup_point": "POST-09187"}, "pickup_point"),
        ({"result_delivery": "post", "delivery_address": "x", "delivery_lon": KINH_BAC[0]}, "delivery_lat"),
        ({"result_delivery": "post", "delivery_address": "x", "delivery_lat": KINH_BAC[1]}, "delivery_lon"),
        (
            {"result_delivery": "post", "delivery_address": "x", "delivery_lon": 105.0, "delivery_lat": 21.0},
            "delivery_location",
        ),
        ({"result_delivery": "post", "delivery_address": "x", "delivery_lon": 200}, "delivery_lon"),
        (
            {
                "result_delivery": "post",
                "delivery_address": "x",
                "delivery_lon": KINH_BAC[0],
                "delivery_lat": KINH_BAC[1],
                "delivery_location": {"type": "Point", "coordinates": list(KINH_BAC)},
            },
            "delivery_location",
        ),
        (
            {"result_delivery": "post", "delivery_address": "x", "delivery_location": {"type": "Polygon"}},
            "delivery_location",
        ),
        (
            {
                "result_delivery": "post",
                "delivery_address": "x",
                "delivery_location": {"type": "Point", "coordinates": [105.0, 21.0]},  # outside the province
            },
            "delivery_location",
        ),
        ({"result_delivery": "post", "delivery_address": "x", "delivery_commune": "99999"}, "delivery_commune"),
        (
            {
                "result_delivery": "post",
                "delivery_address": "x",
                "delivery_commune": "07210",  # Bắc Giang ward, but the point is in Kinh Bắc
                "delivery_lon": KINH_BAC[0],
                "delivery_lat": KINH_BAC[1],
            },
            "delivery_commune",
        ),
        ({"pickup_address": "y" * 301, "postal_pickup": "home"}, "pickup_address"),
    ],
)
def test_bad_postal_choices_are_400_naming_the_field_and_change_nothing(client_as, people, api_payload, fields, field):
    before = (Dossier.objects.count(), Shipment.objects.count(), DossierEvent.objects.count())
    response = client_as(people.citizen_a).post(URL, api_payload(**fields), format="json")
    assert response.status_code == 400, response.content
    errors = response.json()
    assert field in errors, errors
    assert all(" / " in text for text in errors[field])  # Vietnamese / English
    assert (Dossier.objects.count(), Shipment.objects.count(), DossierEvent.objects.count()) == before


def test_a_procedure_not_accepted_by_post_is_refused_naming_postal_pickup(client_as, people, api_payload, catalogue):
    catalogue.main.postal_submission_allowed = False
    catalogue.main.save(update_fields=["postal_submission_allowed"])
    response = client_as(people.citizen_a).post(URL, api_payload(postal_pickup="home"), format="json")
    assert response.status_code == 400
    (text,) = response.json()["postal_pickup"]
    assert "postal_submission_allowed" in text and "không nhận hồ sơ" in text and "does not accept" in text
    assert not Dossier.objects.filter(procedure=catalogue.main).exists()


def test_a_result_the_catalogue_keeps_from_the_post_is_refused(client_as, people, api_payload, catalogue):
    body = api_payload(procedure=catalogue.no_post.code, result_delivery="post", delivery_address="x")
    response = client_as(people.citizen_a).post(URL, body, format="json")
    assert response.status_code == 400 and "result_delivery" in response.json()


def test_only_an_online_dossier_is_sent_by_post(client_as, people, api_payload):
    """A desk officer receives in person, a post-office clerk over the counter."""
    response = client_as(people.desk_main).post(URL, api_payload(channel=1, postal_pickup="home"), format="json")
    assert response.status_code == 400 and "postal_pickup" in response.json()


def test_a_withdrawn_dossier_cancels_the_parcel_nobody_collected(submit, drive, people):
    from dossiers.services import dossier_transition

    dossier = submit(postal_pickup="home")
    dossier_transition(code=dossier.code, action="withdraw", acting_user=people.citizen_a)
    shipment = Shipment.objects.get(dossier=dossier)
    assert shipment.status == "cancelled"
    assert CarrierRequest.objects.get(shipment=shipment).status == "failed"
    assert DossierEvent.objects.filter(dossier=dossier, action="shipment_cancelled").count() == 1
