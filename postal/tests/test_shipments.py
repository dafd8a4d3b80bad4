"""Shipments are made from dossier events, ordered from the carrier through
the outbox, and hand-overs at the desk are recorded on the dossier."""

from dossiers.models import DossierEvent
from postal.models import CarrierRequest, Shipment, TrackingEvent

from .conftest import KINH_BAC


def test_a_result_by_post_gets_an_outbound_shipment_when_ready(submit, drive, run_carrier_jobs):
    dossier = submit(
        result_delivery="post", delivery_address="Số 2 Ngô Gia Tự", delivery_lon=KINH_BAC[0], delivery_lat=KINH_BAC[1]
    )
    assert not Shipment.objects.filter(dossier=dossier).exists()
    dossier = drive(dossier, "result_ready")
    shipment = Shipment.objects.get(dossier=dossier)
    assert (shipment.leg, shipment.status, shipment.tracking_number) == ("outbound", "pending", None)
    assert shipment.receiver_units == {"province": "24", "district": "", "commune": "09187"}
    assert CarrierRequest.objects.filter(shipment=shipment, status="queued").count() == 1
    assert run_carrier_jobs() == 1
    shipment.refresh_from_db()
    assert shipment.status == "created" and shipment.tracking_number.endswith("VN")
    assert DossierEvent.objects.filter(dossier=dossier, action="shipment_created").count() == 1
    assert list(TrackingEvent.objects.filter(shipment=shipment).values_list("status", flat=True)) == [
        "pending",
        "created",
    ]


def test_the_shipment_list_costs_the_same_queries_for_one_parcel_or_three(
    shipped, client_as, people, django_assert_max_num_queries
):
    client = client_as(people.desk_main)
    shipped()
    with django_assert_max_num_queries(100) as one:
        assert client.get("/api/v1/postal/shipments/").json()["count"] == 1
    shipped(), shipped()
    with django_assert_max_num_queries(100) as three:
        assert client.get("/api/v1/postal/shipments/").json()["count"] == 3
    assert 0 < len(three.captured_queries) == len(one.captured_queries) <= 12
    with django_assert_max_num_queries(6):
        client.get("/api/v1/analytics/deliveries/")
